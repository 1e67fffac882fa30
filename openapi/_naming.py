"""Definition names for messages, enums and methods, as protoc-gen-openapiv2's naming strategies pick them.

Every strategy maps the full set of fully-qualified names (``.pkg.Outer.Inner``) at once, because a
name's length depends on which other names it must stay distinct from. Example with the ``legacy``
strategy over ``.kitchen.v1.Thing``, ``.google.rpc.Status`` and ``.other.v1.Status``::

    .kitchen.v1.Thing   -> v1Thing         (shortest unique suffix "Thing", plus one component)
    .google.rpc.Status  -> googleRpcStatus (suffix "rpc.Status", plus one; later package parts title-cased)
    .other.v1.Status    -> otherV1Status
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable

__all__ = ["NAMING_STRATEGIES", "resolve_names"]

# Package components are lower case and type names capitalised; "package" uses that to split them.
_PACKAGE_END = re.compile(r"\.[A-Z]")


def _hierarchy(fqn: str, qualify_nested: bool) -> list[str]:
    if not qualify_nested:
        return fqn.split(".")
    end = _PACKAGE_END.search(fqn)
    if end is None:
        return fqn.split(".")
    return [*fqn[: end.start()].split("."), fqn[end.start() + 1 :]]


def _unique_with_context(names: Iterable[str], extra: int, separator: str, qualify_nested: bool) -> dict[str, str]:
    """Shortest suffix of each name that no other name shares, widened by ``extra`` components."""
    listed = list(dict.fromkeys(names))
    suffix_counts: Counter[tuple[str, ...]] = Counter()
    hierarchies = {name: _hierarchy(name, qualify_nested) for name in listed}
    for parts in hierarchies.values():
        for depth in range(len(parts)):
            suffix_counts[tuple(parts[len(parts) - depth :])] += 1
    result: dict[str, str] = {}
    for name, parts in hierarchies.items():
        depth = 0
        while depth < len(parts):
            # depth + extra > 0 keeps a lone name from collapsing to the empty suffix.
            if depth + extra > 0 and suffix_counts[tuple(parts[len(parts) - depth :])] == 1:
                break
            depth += 1
        components = list(parts[max(len(parts) - depth - extra, 0) :])
        if separator == "" and len(components) > 1:
            # Joined without a separator, package components after the first are title-cased so the
            # result reads as camelCase (google.rpc.Status -> googleRpcStatus); type names keep their case.
            first = next((i for i, c in enumerate(components) if c), -1)
            for i in range(first + 1, len(components)):
                comp = components[i]
                if comp and comp == comp.lower():
                    components[i] = comp[0].upper() + comp[1:]
        result[name] = separator.join(components)
    return result


def _legacy(names: Iterable[str]) -> dict[str, str]:
    return _unique_with_context(names, 1, "", False)


def _simple(names: Iterable[str]) -> dict[str, str]:
    return _unique_with_context(names, 0, ".", False)


def _package(names: Iterable[str]) -> dict[str, str]:
    return _unique_with_context(names, 0, ".", True)


def _fqn(names: Iterable[str]) -> dict[str, str]:
    return {name: name[1:] for name in names}


NAMING_STRATEGIES: dict[str, Callable[[Iterable[str]], dict[str, str]]] = {
    "legacy": _legacy,
    "simple": _simple,
    "package": _package,
    "fqn": _fqn,
}


def resolve_names(names: Iterable[str], strategy: str) -> dict[str, str]:
    """Map each fully-qualified name (with its leading dot) to its definition name."""
    try:
        fn = NAMING_STRATEGIES[strategy.lower()]
    except KeyError:
        raise ValueError(f"invalid naming strategy {strategy!r}; expected one of {sorted(NAMING_STRATEGIES)}") from None
    return fn(names)
