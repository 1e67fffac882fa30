#!/usr/bin/env bash
# List experiments with filters, one page:
#
#   clients/curl/list_experiments.sh                       # everything (a page holds 100 by default)
#   ARCHIVED=false STATES="COMPLETED CANCELED" LABEL=mnist LIMIT=10 clients/curl/list_experiments.sh
#
# Filters are query parameters: repeated fields repeat the key (states=A&states=B), enums go by name,
# nested fields use dotted names (experimentIdFilter.gt=3). The answer holds "experiments" and
# "pagination" ({offset, limit, startIndex, endIndex, total}); the next page starts at endIndex.
set -euo pipefail
: "${API:?set API}" "${TOKEN:?set TOKEN (see login.sh)}"

query=()
[[ -n "${ARCHIVED:-}" ]] && query+=("archived=$ARCHIVED")
for state in ${STATES:-}; do query+=("states=STATE_${state#STATE_}"); done
[[ -n "${LABEL:-}" ]] && query+=("labels=$LABEL")
[[ -n "${USER_NAME:-}" ]] && query+=("users=$USER_NAME")
[[ -n "${ID_GT:-}" ]] && query+=("experimentIdFilter.gt=$ID_GT")
[[ -n "${LIMIT:-}" ]] && query+=("limit=$LIMIT")
[[ -n "${OFFSET:-}" ]] && query+=("offset=$OFFSET")
query+=("sortBy=SORT_BY_ID" "orderBy=ORDER_BY_ASC")

# curl -G turns each --data-urlencode into a URL-encoded query parameter.
args=()
for q in "${query[@]}"; do args+=(--data-urlencode "$q"); done
curl -sS --fail-with-body -G "$API/api/v1/experiments" -H "Authorization: Bearer $TOKEN" "${args[@]}"
echo
