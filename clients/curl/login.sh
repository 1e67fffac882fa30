#!/usr/bin/env bash
# Log in and print the session token, ready for the other scripts:
#
#   export API=http://127.0.0.1:8080
#   export TOKEN=$(clients/curl/login.sh)                  # the built-in "determined" user, blank password
#   export TOKEN=$(USERNAME=admin PASSWORD=s3cret clients/curl/login.sh)
#
# The password goes in plain text over the connection (the server hashes it); Determined's own CLI
# instead sends a salted hash with "isHashed": true.
set -euo pipefail
: "${API:?set API to the base URL of the server, e.g. http://127.0.0.1:8080}"
USERNAME=${USERNAME:-determined}
PASSWORD=${PASSWORD:-}

# Build the body with python3 so any character in the password is JSON-escaped correctly.
body=$(USERNAME="$USERNAME" PASSWORD="$PASSWORD" python3 -c \
  'import json, os; print(json.dumps({"username": os.environ["USERNAME"], "password": os.environ["PASSWORD"]}))')

# --fail-with-body: an HTTP error such as 401 "invalid credentials" exits 22; its body goes to stderr
# and nothing to stdout, so TOKEN=$(...) never captures an error message.
response=$(curl -sS --fail-with-body -X POST "$API/api/v1/auth/login" -H 'Content-Type: application/json' -d "$body") || {
  status=$?
  echo "login failed: $response" >&2
  exit "$status"
}
python3 -c 'import json, sys; print(json.loads(sys.argv[1])["token"])' "$response"
