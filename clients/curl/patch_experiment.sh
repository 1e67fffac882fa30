#!/usr/bin/env bash
# Change some fields of an experiment; fields left out of the body stay as they are:
#
#   clients/curl/patch_experiment.sh 2 '{"name": "mnist-cnn-v2", "labels": ["mnist", "cnn"]}'
#   clients/curl/patch_experiment.sh 2 '{"notes": "tried a smaller learning rate"}'
#
# The rule is `patch: "/api/v1/experiments/{experiment.id}" body: "experiment"`: the id comes from the
# path, the body is the PatchExperiment object. The answer is {"experiment": {...}}.
set -euo pipefail
: "${API:?set API}" "${TOKEN:?set TOKEN (see login.sh)}"
id=${1:?usage: patch_experiment.sh ID JSON}
patch=${2:?usage: patch_experiment.sh ID JSON}

curl -sS --fail-with-body -X PATCH "$API/api/v1/experiments/$id" \
  -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' -d "$patch"
echo
