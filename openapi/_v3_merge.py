"""Merging 3.1 documents by the rules of grpc-gateway's ``openapiv3-merge``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from protogw.openapi._registry import GenerationError

__all__ = ["merge_documents", "strip_ext"]

Schema = dict[str, Any]


def strip_ext(name: str) -> str:
    base, dot, ext = name.rpartition(".")
    return base if dot and "/" not in ext else name


_MERGED_COMPONENTS = (
    "schemas",
    "responses",
    "parameters",
    "examples",
    "requestBodies",
    "headers",
    "securitySchemes",
    "links",
    "callbacks",
    "pathItems",
)
_ROOT_KEYS = ("openapi", "info", "servers", "paths", "webhooks", "components", "security", "tags", "externalDocs")


def merge_documents(docs: Sequence[tuple[str, Schema]]) -> Schema:
    """Several 3.1 documents as one, by openapiv3-merge's rules: the first document's ``info``,
    ``servers`` and ``externalDocs``; paths, webhooks, components and tags unioned (an entry defined
    twice must be equal, else :class:`GenerationError`); ``security`` must agree; other top-level
    keys from the first document that has them."""
    if not docs:
        raise GenerationError("at least one document is required")
    first_name, first = docs[0]
    out: Schema = {"openapi": first.get("openapi", ""), "info": first.get("info")}
    for key in ("servers", "externalDocs"):
        if key in first:
            out[key] = first[key]
    paths: Schema = {}
    webhooks: Schema = {}
    components: dict[str, Schema] = {}
    tags: list[Schema] = []
    seen_tags: dict[str, Schema] = {}
    security: list[Any] | None = None
    extras: Schema = {}
    for name, doc in docs:
        if doc.get("openapi") != out["openapi"]:
            raise GenerationError(
                f"openapi: {first_name} declares {out['openapi']!r} but {name} declares {doc.get('openapi')!r}"
            )
        for field_name, target in (("paths", paths), ("webhooks", webhooks)):
            for key, value in (doc.get(field_name) or {}).items():
                if key in target and target[key] != value:
                    raise GenerationError(f"{field_name}.{key!r}: {name} redefines an entry with a different value")
                target.setdefault(key, value)
        for kind, entries in (doc.get("components") or {}).items():
            bucket = components.setdefault(kind, {})
            for key, value in entries.items():
                if key in bucket and bucket[key] != value:
                    raise GenerationError(
                        f"components.{kind}.{key!r}: {name} redefines an entry with a different value"
                    )
                bucket.setdefault(key, value)
        for tag in doc.get("tags") or []:
            tag_name = tag.get("name")
            if not tag_name:
                raise GenerationError(f'{name}: tags: tag entry missing required "name"')
            if tag_name in seen_tags:
                if seen_tags[tag_name] != tag:
                    raise GenerationError(f"tags[{tag_name!r}]: {name} redefines a tag with different metadata")
                continue
            seen_tags[tag_name] = tag
            tags.append(tag)
        if doc.get("security"):
            if security is None:
                security = doc["security"]
            elif security != doc["security"]:
                raise GenerationError(f"security: {name} declares different requirements")
        for key, value in doc.items():
            if key not in _ROOT_KEYS:
                extras.setdefault(key, value)
    if paths:
        out["paths"] = paths
    if webhooks:
        out["webhooks"] = webhooks
    merged = {k: dict(sorted(components[k].items())) for k in _MERGED_COMPONENTS if components.get(k)}
    if merged:
        out["components"] = merged
    if security:
        out["security"] = security
    if tags:
        out["tags"] = tags
    ordered = {k: out[k] for k in _ROOT_KEYS if k in out}
    ordered.update(extras)
    return ordered
