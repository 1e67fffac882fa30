"""What every part of one document build shares: options, the registry, definition names, comments.

The build is layered, one concept per module: this context (names, comments, visibility) under
:mod:`._schemas` (schemas and definitions) under :mod:`._parameters` (path, query and body
parameters) under :mod:`._generator` (operations, paths and the document itself).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from google.protobuf import descriptor_pb2, json_format

from protogw.openapi._naming import resolve_names
from protogw.openapi._options import Options
from protogw.openapi._registry import (
    Field,
    GenerationError,
    Message,
    Registry,
    Service,
    remove_internal_comments,
)

__all__ = [
    "INVALID",
    "PARAGRAPH",
    "DocumentContext",
    "Schema",
    "Target",
    "is_visible",
    "json_values",
    "option_extensions",
    "raw_json",
]

Schema = dict[str, Any]
PARAGRAPH = "\n\n"


def option_extensions(values: Any, where: str) -> dict[str, Any]:
    """``x-`` extensions from an options map of ``google.protobuf.Value``, sorted by key."""
    out: dict[str, Any] = {}
    for key in sorted(values):
        if not key.startswith("x-"):
            raise GenerationError(f'{where}: extension keys need to start with "x-": {key!r}')
        out[key] = json_format.MessageToDict(values[key])
    return out


INVALID: Any = object()
"""What :func:`raw_json` returns for text that is not JSON: the caller leaves the value out."""

_log = logging.getLogger("protogw.openapi")


def raw_json(text: str, where: str, what: str = "example") -> Any:
    """An ``example`` (or ``default``) option: raw JSON text, written into the document as JSON.

    Text that is not JSON (openfga's ``example: "2021-01-01T00:00:00.000Z"``, unquoted) is a
    warning naming the element, and the value is dropped (:data:`INVALID`): one bad option does not
    cost the whole document.
    """
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        _log.warning("%s: %s %r is not valid JSON (%s); it is left out", where, what, text, exc)
        return INVALID


def json_values(values: Any, where: str) -> dict[str, Any]:
    """``examples`` keyed by MIME type: ``application/json`` ones parsed, invalid ones left out."""
    out = {}
    for key, value in sorted(values.items()):
        parsed = raw_json(value, where, f"{key} example") if key == "application/json" else value
        if parsed is not INVALID:
            out[key] = parsed
    return out


def is_visible(rule: str | None, selectors: Sequence[str]) -> bool:
    if rule is None:
        return True
    return any(r.strip() in selectors for r in rule.strip().split(","))


@dataclass(frozen=True, slots=True)
class Target:
    """What one output document is made of: its leader file and every service and message it covers."""

    leader: descriptor_pb2.FileDescriptorProto
    services: list[Service]
    messages: list[Message]


class DocumentContext:
    """Holds the definition names, which depend on the whole generation set, and what refers to them."""

    def __init__(self, reg: Registry, opts: Options, target: Target) -> None:
        self.reg = reg
        self.opts = opts
        self.target = target
        self.names = self._resolve_names()
        # Fully-qualified names of types some schema refers to with $ref; each needs a definition.
        self.custom_refs: set[str] = set()
        self.definitions: dict[str, Schema] = {}

    # -- names -------------------------------------------------------------------------------------

    def _resolve_names(self) -> dict[str, str]:
        referenced: set[str] = set()

        def walk(msg: Message) -> None:
            for f in msg.fields:
                if not self._field_visible(f) or not f.type_name or f.type_name in referenced:
                    continue
                referenced.add(f.type_name)
                if f.type_name in self.reg.messages:
                    walk(self.reg.messages[f.type_name])

        for svc in self.target.services:
            if not self._visible(svc.visibility):
                continue
            for meth in svc.methods:
                if not self._visible(meth.visibility) or not meth.bindings:
                    continue
                referenced.update((meth.fqn, meth.request.fqn, meth.response.fqn))
                walk(meth.request)
                walk(meth.response)
        # The target files' own messages compete by name only (protoc-gen-openapiv2 v2.27.5's
        # collectReferencedNamesForCache): types reachable only from them, for instance from RPCs
        # without an HTTP binding, do not lengthen the names of the types the document uses.
        referenced.update(msg.fqn for msg in self.target.messages)
        if not self.opts.disable_default_errors:
            referenced.add(".google.rpc.Status")
            walk(self.reg.message(".google.rpc.Status"))
        # Names compete for uniqueness only with names of the same document: this package's,
        # everything it refers to, and google.* / grpc.* (which protoc-gen-openapiv2 always keeps).
        package = self.target.leader.package
        kept: set[str] = set()
        for pkg, names in self.reg.names_by_package().items():
            full = f".{pkg}." if pkg else "."
            if (
                full.startswith(f".{package}.")
                or pkg == "google"
                or pkg.startswith(("google.", "grpc."))
                or pkg == "grpc"
            ):
                kept.update(names)
        kept.update(referenced)
        return resolve_names(sorted(kept), self.opts.openapi_naming_strategy)

    def name_of(self, fqn: str) -> str:
        try:
            return self.names[fqn]
        except KeyError:
            raise GenerationError(f"cannot name {fqn[1:]!r}: it is not in the generation set") from None

    def ref(self, fqn: str) -> str:
        return "#/definitions/" + self.name_of(fqn)

    def field_name(self, f: Field) -> str:
        return f.json_name if self.opts.json_names_for_fields else f.name

    def _visible(self, rule: str | None) -> bool:
        return is_visible(rule, self.opts.visibility_restriction_selectors)

    def _field_visible(self, f: Field) -> bool:
        return is_visible(f.visibility, self.opts.visibility_restriction_selectors)

    def comment(self, fdp: descriptor_pb2.FileDescriptorProto, path: Sequence[int]) -> str:
        return self.reg.comment(fdp, path)

    def field_comment(self, f: Field) -> str:
        return self.comment(f.message.file, f.path)

    def apply_comment(
        self, obj: Schema, comment: str, *, summary_key: str | None, force: bool = False, schema: bool = False
    ) -> None:
        """Fill an object's summary (or title) and description from a proto comment.

        The first paragraph is the summary and the rest the description. Objects with a title
        instead of a summary take the first paragraph as title only when it does not end with a
        period; otherwise the whole comment is the description. Values already set are kept unless
        ``force`` (the file's package comment always wins).
        """
        if not comment or self.opts.ignore_comments:
            return
        if self.opts.remove_internal_comments:
            comment = remove_internal_comments(comment)
        if schema and "Output only." in comment:
            obj["readOnly"] = True
        paragraphs = comment.split(PARAGRAPH)
        if summary_key is not None:
            summary = paragraphs[0].strip()
            description = PARAGRAPH.join(paragraphs[1:]).strip()
            if summary_key == "summary" or (summary and not summary.endswith(".")):
                if not obj.get(summary_key) or force:
                    obj[summary_key] = summary
                if description and (not obj.get("description") or force):
                    obj["description"] = description
                return
        if not obj.get("description") or force:
            obj["description"] = comment
