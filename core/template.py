"""Parsing of ``google.api.http`` path templates into typed segments.

The grammar (from ``google/api/http.proto``)::

    Template = "/" Segments [ Verb ] ;
    Segments = Segment { "/" Segment } ;
    Segment  = "*" | "**" | LITERAL | Variable ;
    Variable = "{" FieldPath [ "=" Segments ] "}" ;
    FieldPath = IDENT { "." IDENT } ;
    Verb     = ":" LITERAL ;

Example: ``parse_template("/v1/{name=projects/*/things/*}:archive")`` gives::

    Template(segments=(Literal("v1"),
                       Variable(("name",), (Literal("projects"), Wildcard(), Literal("things"), Wildcard()))),
             verb="archive")

and ``Template.atoms`` flattens that to ``(Literal("v1"), Literal("projects"), Wildcard(), Literal("things"),
Wildcard())`` with one :class:`Capture` covering atoms 1..5. The router only sees atoms and captures.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

__all__ = [
    "Atom",
    "Capture",
    "DeepWildcard",
    "InvalidTemplateError",
    "Literal",
    "Segment",
    "Template",
    "Variable",
    "Wildcard",
    "parse_template",
]


class InvalidTemplateError(ValueError):
    """A path template does not follow the grammar; the message quotes the template and the reason."""

    def __init__(self, template: str, reason: str) -> None:
        super().__init__(f"invalid path template {template!r}: {reason}")
        self.template = template
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Literal:
    """A segment that must equal ``value`` exactly (compared before unescaping)."""

    value: str

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True, slots=True)
class Wildcard:
    """``*``: exactly one segment, whatever it holds (an empty segment included)."""

    def __str__(self) -> str:
        return "*"


@dataclass(frozen=True, slots=True)
class DeepWildcard:
    """``**``: zero or more segments."""

    def __str__(self) -> str:
        return "**"


Atom = Literal | Wildcard | DeepWildcard


@dataclass(frozen=True, slots=True)
class Variable:
    """``{a.b=segments}``: binds the text matched by ``segments`` to the field path ``a.b``."""

    field_path: tuple[str, ...]
    segments: tuple[Atom, ...]
    # Written with "=..." (``{x=*}``): matches like ``{x}``, but OpenAPI documents the pattern.
    explicit: bool = field(default=False, compare=False)

    @property
    def pattern(self) -> str:
        """The segments as written after "=" (``*`` for a plain ``{x}``)."""
        return "/".join(map(str, self.segments))

    def __str__(self) -> str:
        name = ".".join(self.field_path)
        if self.segments == (Wildcard(),):
            return "{" + name + "}"
        return "{" + name + "=" + self.pattern + "}"


Segment = Atom | Variable


@dataclass(frozen=True, slots=True)
class Capture:
    """Where a variable sits in :attr:`Template.atoms`: atoms ``start`` up to (not including) ``end``.

    ``multi_segment`` is true when the capture may span more than one path segment (several atoms or a
    ``**``); such values keep reserved characters escaped under the default unescaping mode.
    """

    field_path: tuple[str, ...]
    start: int
    end: int
    multi_segment: bool


@dataclass(frozen=True, slots=True)
class Template:
    """A parsed template. ``atoms`` and ``captures`` are derived from ``segments`` for matching; two
    templates are equal when their structure is (``{x}`` equals ``{x=*}``)."""

    source: str = field(compare=False)
    segments: tuple[Segment, ...]
    verb: str
    # "/v1/things/": protoc-gen-openapiv2 documents it; the router cannot serve it (see core.bindings).
    trailing_slash: bool = False
    atoms: tuple[Atom, ...] = field(init=False, compare=False)
    captures: tuple[Capture, ...] = field(init=False, compare=False)

    def __post_init__(self) -> None:
        atoms: list[Atom] = []
        captures: list[Capture] = []
        for seg in self.segments:
            if isinstance(seg, Variable):
                start = len(atoms)
                atoms.extend(seg.segments)
                multi = len(seg.segments) > 1 or isinstance(seg.segments[0], DeepWildcard)
                captures.append(Capture(seg.field_path, start, len(atoms), multi))
            else:
                atoms.append(seg)
        object.__setattr__(self, "atoms", tuple(atoms))
        object.__setattr__(self, "captures", tuple(captures))

    @property
    def field_paths(self) -> tuple[tuple[str, ...], ...]:
        """The field paths bound by the variables, in template order."""
        return tuple(c.field_path for c in self.captures)

    def __str__(self) -> str:
        """Canonical form: ``{x}`` for ``{x=*}``, otherwise as written."""
        text = "/" + "/".join(map(str, self.segments)) + ("/" if self.trailing_slash else "")
        return text + (":" + self.verb if self.verb else "")


# Characters a literal may contain: RFC 3986 unreserved, sub-delims except "*", "@", ":" (only inside the
# path; a trailing ":x" is the verb) and percent escapes.
_LITERAL_RE = re.compile(r"(?:[A-Za-z0-9\-._~!$&'()+,;=@:]|%[0-9A-Fa-f]{2})+")
_IDENT_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _split_verb(template: str, body: str) -> tuple[str, str]:
    """Separate the trailing ``:verb`` from the template body (the text after the leading "/").

    The verb is the text after the last ":" that follows the last "/" and the last "}" - except that
    right after a closing "}" the first ":" starts the verb, so a verb may itself contain a colon.
    """
    tail_start = max(body.rfind("/"), body.rfind("}")) + 1
    tail = body[tail_start:]
    idx = tail.find(":") if tail_start > 0 and body[tail_start - 1] == "}" else tail.rfind(":")
    if idx < 0:
        return body, ""
    verb = tail[idx + 1 :]
    if not verb or not _LITERAL_RE.fullmatch(verb):
        raise InvalidTemplateError(template, f"invalid verb {verb!r}")
    return body[: tail_start + idx], verb


def _split_segments(template: str, text: str) -> list[str]:
    """Split on "/" outside braces."""
    parts: list[str] = []
    depth = 0
    current: list[str] = []
    for ch in text:
        if ch == "{":
            depth += 1
            if depth > 1:
                raise InvalidTemplateError(template, "nested variables are not allowed")
        elif ch == "}":
            depth -= 1
            if depth < 0:
                raise InvalidTemplateError(template, "unbalanced '}'")
        if ch == "/" and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    if depth:
        raise InvalidTemplateError(template, "unclosed '{'")
    parts.append("".join(current))
    return parts


def _atom(template: str, text: str) -> Atom:
    if text == "*":
        return Wildcard()
    if text == "**":
        return DeepWildcard()
    if not text:
        raise InvalidTemplateError(template, "empty segment")
    if not _LITERAL_RE.fullmatch(text):
        raise InvalidTemplateError(template, f"invalid literal {text!r}")
    return Literal(text)


def _variable(template: str, text: str) -> Variable:
    inner = text[1:-1]
    name, eq, pattern = inner.partition("=")
    field_path = tuple(name.split("."))
    if not all(_IDENT_RE.fullmatch(part) for part in field_path):
        raise InvalidTemplateError(template, f"invalid field path {name!r}")
    if not eq:
        return Variable(field_path, (Wildcard(),))
    if not pattern:
        raise InvalidTemplateError(template, f"empty pattern for variable {name!r}")
    atoms = tuple(_atom(template, part) for part in pattern.split("/"))
    return Variable(field_path, atoms, explicit=True)


def parse_template(template: str) -> Template:
    """Parse ``template``; raise :class:`InvalidTemplateError` naming the problem."""
    if not template.startswith("/"):
        raise InvalidTemplateError(template, "no leading /")
    body, verb = _split_verb(template, template[1:])
    if body == "":
        # "/" alone: the root path, one empty segment.
        return Template(template, (Literal(""),), verb) if not verb else _invalid_root(template)
    parts = _split_segments(template, body)
    trailing_slash = len(parts) > 1 and parts[-1] == ""
    if trailing_slash:
        parts.pop()
    segments: list[Segment] = []
    for part in parts:
        if part.startswith("{"):
            if not part.endswith("}"):
                raise InvalidTemplateError(template, f"unexpected text after variable in {part!r}")
            segments.append(_variable(template, part))
        elif "{" in part or "}" in part:
            raise InvalidTemplateError(template, f"variable must be a whole segment: {part!r}")
        else:
            segments.append(_atom(template, part))
    parsed = Template(template, tuple(segments), verb, trailing_slash)
    names = [".".join(p) for p in parsed.field_paths]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise InvalidTemplateError(template, f"field {duplicates[0]!r} is bound more than once")
    if sum(isinstance(a, DeepWildcard) for a in parsed.atoms) > 1:
        raise InvalidTemplateError(template, "more than one '**'")
    return parsed


def _invalid_root(template: str) -> Template:
    raise InvalidTemplateError(template, "a verb needs a path before it")
