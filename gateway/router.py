"""A segment trie that maps (HTTP method, path) to a route and its captured path values.

Each template is flattened to atoms (:mod:`protogw.core.template`) and inserted into a trie keyed by
atom. Matching walks the request's path segments, trying at every node the literal child first, then
``*``, then ``**`` (which may swallow zero or more segments), and backtracks when a branch dead-ends.
So a literal beats a variable whatever the registration order (unlike grpc-gateway's mux, where the
last registered handler wins), and lookup cost depends on the path's length, not on the number of
routes. Two routes with the same method, atoms and verb are a conflict and raise at insertion.

The verb: if the last segment contains ":", the router first tries the text after the last colon as a
verb (only routes registered with that verb can match), then the whole segment with no verb, so an
unregistered ":x" stays part of the path. A last segment that is *only* ":verb" is a 404, as in
grpc-gateway.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from protogw.core.template import Capture, Literal, Template, Wildcard

__all__ = ["ConflictError", "MalformedPathError", "Match", "MatchResult", "Router", "UnescapingMode"]

T = TypeVar("T")


class UnescapingMode(enum.Enum):
    """How percent-escapes in captured path values are decoded (grpc-gateway's ``UnescapingMode``).

    The default is ``ALL_EXCEPT_SLASH``, what ``google/api/http.proto`` specifies: a single-segment
    variable is fully unescaped; in a multi-segment one (``{x=a/*}``, ``{x=**}``) every escape is decoded
    except ``%2F``/``%2f``, so an encoded slash can be told apart from a separator while ``%3A``, ``%40``
    and the like (which Google's client libraries send in resource names) arrive decoded.
    grpc-gateway's default is ``LEGACY`` (the whole path unescaped before splitting, so ``%2F`` acts
    as a separator); ``ALL_EXCEPT_RESERVED`` (reserved characters stay escaped in multi-segment values)
    and ``ALL_CHARACTERS`` are its other two modes.
    """

    LEGACY = "legacy"
    ALL_EXCEPT_RESERVED = "all-except-reserved"
    ALL_EXCEPT_SLASH = "all-except-slash"
    ALL_CHARACTERS = "all-characters"


class ConflictError(ValueError):
    """Two routes with the same HTTP method, path shape and verb."""


class MalformedPathError(ValueError):
    """A captured path value holds a bad percent-escape or is not UTF-8 (answered with 400)."""


_RESERVED = frozenset(b":/?#[]@!$&'()*+,;=")
_ESCAPE_RE = re.compile(rb"%([0-9A-Fa-f]{2})?")


def unescape(raw: str, mode: UnescapingMode, multi_segment: bool) -> str:
    """Decode the percent-escapes of one captured value according to ``mode``."""
    if mode is UnescapingMode.LEGACY:
        return raw
    if "%" not in raw:
        return raw
    if not multi_segment:
        mode = UnescapingMode.ALL_CHARACTERS
    data = raw.encode("utf-8")

    def repl(m: re.Match[bytes]) -> bytes:
        hexpair = m.group(1)
        if hexpair is None:
            raise MalformedPathError(f"invalid URL escape {data[m.start() : m.start() + 3].decode('latin-1')!r}")
        byte = int(hexpair, 16)
        if mode is UnescapingMode.ALL_EXCEPT_RESERVED and byte in _RESERVED:
            return m.group(0)
        if mode is UnescapingMode.ALL_EXCEPT_SLASH and byte == 0x2F:
            return m.group(0)
        return bytes((byte,))

    try:
        return _ESCAPE_RE.sub(repl, data).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedPathError(f"path value is not valid UTF-8: {raw!r}") from exc


@dataclass(slots=True)
class _Node(Generic[T]):
    literals: dict[str, _Node[T]] = field(default_factory=dict)
    wildcard: _Node[T] | None = None
    deep: _Node[T] | None = None
    # verb -> HTTP method -> (value, captures)
    leaves: dict[str, dict[str, tuple[T, tuple[Capture, ...]]]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Match(Generic[T]):
    """A found route and its path values (field path -> unescaped text). A lookup may hand the same
    match to many requests (:data:`REMEMBERED_PATHS`): read ``params``, never change it."""

    value: T
    params: dict[tuple[str, ...], str]


class MatchResult(enum.Enum):
    """Why a lookup found nothing."""

    NOT_FOUND = 404
    METHOD_NOT_ALLOWED = 405


#: Lookups remembered per router: (HTTP method, path) -> what the trie answered. A path's answer only
#: changes when a route is added, which forgets them all; when full, they are forgotten too (so a client
#: walking through endless distinct paths costs a lookup each, as without the memo).
REMEMBERED_PATHS = 1024
#: Longer paths are looked up every time (a remembered path's text is kept as its key).
REMEMBERED_PATH_LENGTH = 256


class Router(Generic[T]):
    """Routes keyed by HTTP method and template; see the module docstring for the matching rules."""

    def __init__(self, unescaping: UnescapingMode = UnescapingMode.ALL_EXCEPT_RESERVED) -> None:
        self._root: _Node[T] = _Node()
        self._unescaping = unescaping
        self._verbs: set[str] = set()
        self._count = 0
        self._answers: dict[tuple[str, str], Match[T] | MatchResult] = {}

    def __len__(self) -> int:
        return self._count

    @property
    def unescaping(self) -> UnescapingMode:
        """The mode captured values are decoded with."""
        return self._unescaping

    def add(self, http_method: str, template: Template, value: T) -> None:
        """Register ``value`` for ``http_method`` + ``template``; raise :class:`ConflictError` on a clash."""
        node = self._root
        for atom in template.atoms:
            if isinstance(atom, Literal):
                node = node.literals.setdefault(atom.value, _Node())
            elif isinstance(atom, Wildcard):
                if node.wildcard is None:
                    node.wildcard = _Node()
                node = node.wildcard
            else:
                if node.deep is None:
                    node.deep = _Node()
                node = node.deep
        by_method = node.leaves.setdefault(template.verb, {})
        if http_method in by_method:
            raise ConflictError(f"{http_method} {template.source} is already bound")
        by_method[http_method] = (value, template.captures)
        if template.verb:
            self._verbs.add(template.verb)
        self._count += 1
        self._answers.clear()

    def existing(self, http_method: str, template: Template) -> T | None:
        """The value already registered for exactly this method and path shape, if any."""
        node: _Node[T] | None = self._root
        for atom in template.atoms:
            if node is None:
                return None
            if isinstance(atom, Literal):
                node = node.literals.get(atom.value)
            elif isinstance(atom, Wildcard):
                node = node.wildcard
            else:
                node = node.deep
        if node is None:
            return None
        entry = node.leaves.get(template.verb, {}).get(http_method)
        return entry[0] if entry else None

    def lookup(self, http_method: str, path: str) -> Match[T] | MatchResult:
        """Find the route for ``path`` (raw, percent-encoded, starting with "/").

        Returns a :class:`Match`, or why there is none. Raises :class:`MalformedPathError` for a bad
        escape inside a captured value.
        """
        key = (http_method, path)
        answer = self._answers.get(key)
        if answer is not None:
            return answer
        answer = self._look_up(http_method, path)
        if len(path) <= REMEMBERED_PATH_LENGTH:
            if len(self._answers) >= REMEMBERED_PATHS:
                self._answers.clear()
            self._answers[key] = answer
        return answer

    def _look_up(self, http_method: str, path: str) -> Match[T] | MatchResult:
        segments = path[1:].split("/")
        last = segments[-1]
        colon = last.rfind(":")
        if colon == 0 and last[1:] in self._verbs:
            return MatchResult.NOT_FOUND
        allowed_elsewhere = False
        if colon > 0:
            verb = last[colon + 1 :]
            if verb in self._verbs:
                trimmed = [*segments[:-1], last[:colon]]
                found = self._find(trimmed, verb, http_method)
                if isinstance(found, Match):
                    return found
                allowed_elsewhere = found is MatchResult.METHOD_NOT_ALLOWED
        found = self._find(segments, "", http_method)
        if isinstance(found, Match):
            return found
        if allowed_elsewhere:
            return MatchResult.METHOD_NOT_ALLOWED
        return found

    def _find(self, segments: list[str], verb: str, http_method: str) -> Match[T] | MatchResult:
        ends: list[int] = []
        other_method: list[bool] = []
        entry = self._search(self._root, segments, 0, ends, verb, http_method, other_method)
        if entry is not None:
            value, captures = entry
            return Match(value, self._bind(segments, ends, captures) if captures else {})
        return MatchResult.METHOD_NOT_ALLOWED if other_method else MatchResult.NOT_FOUND

    def _search(
        self,
        node: _Node[T],
        segs: list[str],
        pos: int,
        ends: list[int],
        verb: str,
        http_method: str,
        other_method: list[bool],
    ) -> tuple[T, tuple[Capture, ...]] | None:
        """Depth-first search for ``segs[pos:]``, best branch first (literal, ``*``, then ``**``).

        ``ends`` records, per atom on the current branch, the segment index where its match ended; a
        path that matches only under other HTTP methods is noted in ``other_method``.
        """
        if pos == len(segs):
            leaf = node.leaves.get(verb)
            if leaf:
                entry = leaf.get(http_method)
                if entry is not None:
                    return entry
                other_method.append(True)
        else:
            child = node.literals.get(segs[pos])
            if child is not None:
                ends.append(pos + 1)
                found = self._search(child, segs, pos + 1, ends, verb, http_method, other_method)
                if found is not None:
                    return found
                ends.pop()
            if node.wildcard is not None:
                ends.append(pos + 1)
                found = self._search(node.wildcard, segs, pos + 1, ends, verb, http_method, other_method)
                if found is not None:
                    return found
                ends.pop()
        if node.deep is not None:
            # Shortest first, so that a route continuing after the "**" (".../{p=**}/meta") is preferred
            # over one ending in it when both fit: the more specific route wins, as with literals.
            for end in range(pos, len(segs) + 1):
                ends.append(end)
                found = self._search(node.deep, segs, end, ends, verb, http_method, other_method)
                if found is not None:
                    return found
                ends.pop()
        return None

    def _walk(
        self, node: _Node[T], segs: list[str], pos: int, verb: str
    ) -> Iterator[dict[str, tuple[T, tuple[Capture, ...]]]]:
        """Every leaf (all methods) matching ``segs[pos:]``; used for ``Allow`` headers only."""
        if pos == len(segs):
            leaf = node.leaves.get(verb)
            if leaf:
                yield leaf
        else:
            child = node.literals.get(segs[pos])
            if child is not None:
                yield from self._walk(child, segs, pos + 1, verb)
            if node.wildcard is not None:
                yield from self._walk(node.wildcard, segs, pos + 1, verb)
        if node.deep is not None:
            for end in range(pos, len(segs) + 1):
                yield from self._walk(node.deep, segs, end, verb)

    def _bind(self, segs: list[str], ends: list[int], captures: tuple[Capture, ...]) -> dict[tuple[str, ...], str]:
        params: dict[tuple[str, ...], str] = {}
        for cap in captures:
            start = ends[cap.start - 1] if cap.start > 0 else 0
            raw = "/".join(segs[start : ends[cap.end - 1]])
            params[cap.field_path] = unescape(raw, self._unescaping, cap.multi_segment)
        return params

    def all_methods_at(self, path: str) -> set[str]:
        """HTTP methods that have a route for ``path`` (used for 405 ``Allow`` headers)."""
        methods: set[str] = set()
        segments = path[1:].split("/")
        verbs = [""]
        last = segments[-1]
        colon = last.rfind(":")
        if colon > 0 and last[colon + 1 :] in self._verbs:
            verbs.insert(0, last[colon + 1 :])
        for verb in verbs:
            segs = segments if not verb else [*segments[:-1], last[:colon]]
            for leaf in self._walk(self._root, segs, 0, verb):
                methods.update(leaf)
        return methods
