#!/usr/bin/env bash
# Stream the master's log: one JSON object a line, {"result": {"logEntry": {...}}}; a failure after
# the stream started arrives as a final {"error": {...}} line.
#
#   clients/curl/master_logs.sh                  # the last 20 entries
#   LIMIT=0 FOLLOW=true clients/curl/master_logs.sh   # everything, then keep following (Ctrl-C to stop)
#
# A negative offset counts from the end; limit 0 means no limit. -N turns off curl's output buffering
# so followed lines show up as they come.
set -euo pipefail
: "${API:?set API}" "${TOKEN:?set TOKEN (see login.sh)}"

curl -sS -N --fail-with-body -G "$API/api/v1/master/logs" -H "Authorization: Bearer $TOKEN" \
  --data-urlencode "offset=${OFFSET:--20}" --data-urlencode "limit=${LIMIT:-20}" \
  --data-urlencode "follow=${FOLLOW:-false}"
