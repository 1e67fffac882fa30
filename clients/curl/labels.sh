#!/usr/bin/env bash
# Labels: add one to an experiment, remove it again, and list every label in use (most used first):
#
#   clients/curl/labels.sh 2 tuned
#
# PUT and DELETE on /api/v1/experiments/{id}/labels/{label} answer with the experiment's labels;
# note the singular "experiment" in the listing path /api/v1/experiment/labels.
set -euo pipefail
: "${API:?set API}" "${TOKEN:?set TOKEN (see login.sh)}"
id=${1:?usage: labels.sh ID LABEL}
# A label is one path segment: escape it so spaces or slashes cannot change the path.
label=$(python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "${2:?usage: labels.sh ID LABEL}")
auth=(-H "Authorization: Bearer $TOKEN")

curl -sS --fail-with-body -X PUT "$API/api/v1/experiments/$id/labels/$label" "${auth[@]}"; echo
curl -sS --fail-with-body -X DELETE "$API/api/v1/experiments/$id/labels/$label" "${auth[@]}"; echo
curl -sS --fail-with-body "$API/api/v1/experiment/labels" "${auth[@]}"; echo
