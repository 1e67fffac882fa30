"""Path template parsing: every grammar form, the canonical string, atoms and captures, and errors."""

from __future__ import annotations

import pytest

from protogw.core.template import (
    Capture,
    DeepWildcard,
    InvalidTemplateError,
    Literal,
    Variable,
    Wildcard,
    parse_template,
)

L, W, D = Literal, Wildcard(), DeepWildcard()

VALID = [
    # template, segments, verb, canonical, captures (field path, start, end, multi)
    ("/", (L(""),), "", "/", ()),
    ("/v1/things", (L("v1"), L("things")), "", "/v1/things", ()),
    ("/v1/things/{id}", (L("v1"), L("things"), Variable(("id",), (W,))), "", "/v1/things/{id}", (("id", 2, 3, False),)),
    (
        "/v1/things/{id=*}",
        (L("v1"), L("things"), Variable(("id",), (W,))),
        "",
        "/v1/things/{id}",
        (("id", 2, 3, False),),
    ),
    (
        "/v1/{name=projects/*/things/*}",
        (L("v1"), Variable(("name",), (L("projects"), W, L("things"), W))),
        "",
        "/v1/{name=projects/*/things/*}",
        (("name", 1, 5, True),),
    ),
    ("/v1/{a.b.c}", (L("v1"), Variable(("a", "b", "c"), (W,))), "", "/v1/{a.b.c}", (("a.b.c", 1, 2, False),)),
    (
        "/v1/files/{path=**}",
        (L("v1"), L("files"), Variable(("path",), (D,))),
        "",
        "/v1/files/{path=**}",
        (("path", 2, 3, True),),
    ),
    ("/v1/*/info", (L("v1"), W, L("info")), "", "/v1/*/info", ()),
    ("/v1/**", (L("v1"), D), "", "/v1/**", ()),
    ("/v1/things:watch", (L("v1"), L("things")), "watch", "/v1/things:watch", ()),
    (
        "/v1/things/{id}:archive",
        (L("v1"), L("things"), Variable(("id",), (W,))),
        "archive",
        "/v1/things/{id}:archive",
        (("id", 2, 3, False),),
    ),
    (
        "/v1/{name=things/*}:do:it",
        (L("v1"), Variable(("name",), (L("things"), W))),
        "do:it",
        "/v1/{name=things/*}:do:it",
        (("name", 1, 3, True),),
    ),
    ("/v1/a:b/c", (L("v1"), L("a:b"), L("c")), "", "/v1/a:b/c", ()),
    ("/v1/{x=**}/tail", (L("v1"), Variable(("x",), (D,)), L("tail")), "", "/v1/{x=**}/tail", (("x", 1, 2, True),)),
    (
        "/v1/{a}/{b}",
        (L("v1"), Variable(("a",), (W,)), Variable(("b",), (W,))),
        "",
        "/v1/{a}/{b}",
        (("a", 1, 2, False), ("b", 2, 3, False)),
    ),
    ("/v1/%7Euser", (L("v1"), L("%7Euser")), "", "/v1/%7Euser", ()),
]


@pytest.mark.parametrize(("text", "segments", "verb", "canonical", "captures"), VALID, ids=[v[0] for v in VALID])
def test_parse(
    text: str, segments: tuple[object, ...], verb: str, canonical: str, captures: tuple[tuple[str, int, int, bool], ...]
) -> None:
    template = parse_template(text)
    assert template.segments == segments
    assert template.verb == verb
    assert str(template) == canonical
    assert template.captures == tuple(Capture(tuple(n.split(".")), s, e, m) for n, s, e, m in captures)
    assert parse_template(canonical) == template


INVALID = [
    ("v1/things", "no leading /"),
    ("", "no leading /"),
    ("/v1//things", "empty segment"),
    ("/v1/{id", "unclosed '{'"),
    ("/v1/id}", "unbalanced '}'"),
    ("/v1/{a{b}}", "nested variables"),
    ("/v1/{}", "invalid field path"),
    ("/v1/{1abc}", "invalid field path"),
    ("/v1/{a..b}", "invalid field path"),
    ("/v1/{a=}", "empty pattern"),
    ("/v1/x{a}", "variable must be a whole segment"),
    ("/v1/{a}x", "unexpected text after variable"),
    ("/v1/{a}/{a}", "bound more than once"),
    ("/v1/**/**", "more than one '**'"),
    ("/v1/things:", "invalid verb"),
    ("/v1/thing s", "invalid literal"),
    ("/v1/a?b", "invalid literal"),
    ("/:verb", "a verb needs a path"),
    ("/v1/{a=b/{c}}", "nested variables"),
]


@pytest.mark.parametrize(("text", "reason"), INVALID, ids=[i[0] or "empty" for i in INVALID])
def test_invalid(text: str, reason: str) -> None:
    with pytest.raises(InvalidTemplateError) as info:
        parse_template(text)
    assert reason in info.value.reason
    assert repr(text) in str(info.value)


# Templates protoc-gen-openapiv2 documents as written but the router cannot serve: the parser keeps what
# the OpenAPI generators need to write them back, and core.bindings marks the binding unservable.
AS_WRITTEN = [
    # template, trailing slash, explicit patterns, str()
    ("/v1/things/", True, (), "/v1/things/"),
    ("/v1/{id=*}", False, (True,), "/v1/{id}"),
    ("/v1/{id}", False, (False,), "/v1/{id}"),
    ("/v1/{name=shelves/*}/", True, (True,), "/v1/{name=shelves/*}/"),
]


@pytest.mark.parametrize(("text", "trailing", "explicit", "canonical"), AS_WRITTEN, ids=[a[0] for a in AS_WRITTEN])
def test_as_written(text: str, trailing: bool, explicit: tuple[bool, ...], canonical: str) -> None:
    parsed = parse_template(text)
    assert parsed.trailing_slash is trailing
    assert tuple(seg.explicit for seg in parsed.segments if isinstance(seg, Variable)) == explicit
    assert str(parsed) == canonical
