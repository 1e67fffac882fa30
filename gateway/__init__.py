"""Generic google.api.http transcoding gateway and OpenAPI v2 generator (knows nothing about Determined)."""
