#!/usr/bin/env bash
# Create an experiment from a YAML config file:
#
#   clients/curl/create_experiment.sh my-experiment.yaml          # created paused
#   ACTIVATE=true clients/curl/create_experiment.sh my-experiment.yaml
#
# CreateExperimentRequest carries the YAML as one JSON string ("config"), so the file is read and
# JSON-escaped first. The answer holds the new experiment and its parsed config.
set -euo pipefail
: "${API:?set API}" "${TOKEN:?set TOKEN (see login.sh)}"
config_file=${1:?usage: create_experiment.sh CONFIG.yaml}

body=$(ACTIVATE="${ACTIVATE:-false}" python3 -c '
import json, os, sys
with open(sys.argv[1], encoding="utf-8") as f:
    print(json.dumps({"config": f.read(), "activate": os.environ["ACTIVATE"] == "true"}))
' "$config_file")

curl -sS --fail-with-body -X POST "$API/api/v1/experiments" \
  -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' -d "$body"
echo
