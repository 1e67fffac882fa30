"""The segment-trie router: precedence, verbs, deep wildcards, conflicts and path unescaping."""

from __future__ import annotations

import pytest

from protogw.core.template import parse_template
from protogw.gateway.options import GatewayOptions
from protogw.gateway.router import (
    REMEMBERED_PATH_LENGTH,
    REMEMBERED_PATHS,
    ConflictError,
    MalformedPathError,
    Match,
    MatchResult,
    Router,
    UnescapingMode,
    unescape,
)

ROUTES = [
    ("GET", "/v1/things/{id}", "get"),
    ("GET", "/v1/things/special", "special"),
    ("POST", "/v1/things/{id}:archive", "archive"),
    ("GET", "/v1/things:watch", "watch"),
    ("GET", "/v1/{name=projects/*/things/*}", "by-name"),
    ("GET", "/v1/files/{path=**}", "file"),
    ("GET", "/v1/files/{path=**}/meta", "file-meta"),
    ("GET", "/v1/static/*/info", "static"),
    ("POST", "/v1/things/special", "special-post"),
    ("GET", "/v1/shelves/{shelf}/things/{id}", "shelf-thing"),
    ("GET", "/v1/{a.b}/x/{c}", "nested"),
    ("GET", "/", "root"),
    ("GET", "/v1/things/{id}/parts/{part}", "part"),
]

LOOKUPS = [
    ("GET", "/v1/things/7", "get", {"id": "7"}),
    # A literal beats a variable, whatever the order of registration.
    ("GET", "/v1/things/special", "special", {}),
    ("POST", "/v1/things/special", "special-post", {}),
    # The literal branch has no PUT; neither has the variable branch: 405.
    ("PUT", "/v1/things/special", MatchResult.METHOD_NOT_ALLOWED, None),
    ("POST", "/v1/things/7:archive", "archive", {"id": "7"}),
    # No GET for ":archive": the colon stays part of the id.
    ("GET", "/v1/things/7:archive", "get", {"id": "7:archive"}),
    ("GET", "/v1/things/7:other", "get", {"id": "7:other"}),
    ("GET", "/v1/things:watch", "watch", {}),
    ("POST", "/v1/things:watch", MatchResult.METHOD_NOT_ALLOWED, None),
    ("GET", "/v1/things/:archive", MatchResult.NOT_FOUND, None),
    ("GET", "/v1/projects/p1/things/t2", "by-name", {"name": "projects/p1/things/t2"}),
    ("GET", "/v1/projects/p1/things", MatchResult.NOT_FOUND, None),
    ("GET", "/v1/files", "file", {"path": ""}),
    ("GET", "/v1/files/a", "file", {"path": "a"}),
    ("GET", "/v1/files/a/b/c", "file", {"path": "a/b/c"}),
    ("GET", "/v1/files/a/b/meta", "file-meta", {"path": "a/b"}),
    ("GET", "/v1/files/meta", "file-meta", {"path": ""}),
    ("GET", "/v1/static/x/info", "static", {}),
    ("GET", "/v1/static/x/y/info", MatchResult.NOT_FOUND, None),
    ("GET", "/v1/shelves/s/things/3", "shelf-thing", {"shelf": "s", "id": "3"}),
    ("GET", "/v1/q/x/r", "nested", {"a.b": "q", "c": "r"}),
    ("GET", "/", "root", {}),
    ("GET", "/v1/things/1/parts/2", "part", {"id": "1", "part": "2"}),
    ("GET", "/v2/things/1", MatchResult.NOT_FOUND, None),
    ("GET", "/v1/things/", "get", {"id": ""}),
    # Escapes: single-segment values are fully unescaped, multi-segment ones keep reserved characters.
    ("GET", "/v1/things/a%2Fb", "get", {"id": "a/b"}),
    ("GET", "/v1/files/a%2Fb/c%20d", "file", {"path": "a%2Fb/c d"}),
    ("GET", "/v1/things/%E2%9C%93", "get", {"id": "✓"}),
]


@pytest.fixture(scope="module")
def router() -> Router[str]:
    r: Router[str] = Router()
    for method, template, name in ROUTES:
        r.add(method, parse_template(template), name)
    return r


@pytest.mark.parametrize(("method", "path", "expected", "params"), LOOKUPS, ids=[f"{m} {p}" for m, p, _, _ in LOOKUPS])
def test_lookup(
    router: Router[str], method: str, path: str, expected: str | MatchResult, params: dict[str, str] | None
) -> None:
    # The second lookup is answered from the router's memo of paths: the same answer.
    for found in (router.lookup(method, path), router.lookup(method, path)):
        if isinstance(expected, MatchResult):
            assert found is expected
            continue
        assert isinstance(found, Match)
        assert found.value == expected
        assert {".".join(k): v for k, v in found.params.items()} == params


def _special_put(r: Router[str]) -> None:
    r.add("PUT", parse_template("/v1/things/special"), "special-put")


def _fill_memo(r: Router[str]) -> None:
    for n in range(REMEMBERED_PATHS + 5):
        assert isinstance(r.lookup("GET", f"/v1/things/{n}"), Match)


#: (what happens between two lookups of the same path, the path, the first and the second answer):
#: the memo never answers what the trie would not.
MEMO_CASES = [
    ("nothing", "PUT", "/v1/things/special", MatchResult.METHOD_NOT_ALLOWED, MatchResult.METHOD_NOT_ALLOWED),
    ("a route for it is added", "PUT", "/v1/things/special", MatchResult.METHOD_NOT_ALLOWED, "special-put"),
    ("the memo fills up", "GET", "/v1/things/7", "get", "get"),
    ("nothing (a path too long to keep)", "GET", "/v1/things/" + "x" * REMEMBERED_PATH_LENGTH, "get", "get"),
]
BETWEEN = {"nothing": lambda r: None, "a route for it is added": _special_put, "the memo fills up": _fill_memo}


@pytest.mark.parametrize(("between", "method", "path", "first", "second"), MEMO_CASES, ids=[c[0] for c in MEMO_CASES])
def test_remembered_answers_follow_the_routes(
    between: str, method: str, path: str, first: str | MatchResult, second: str | MatchResult
) -> None:
    r: Router[str] = Router()
    for m, template, name in ROUTES:
        r.add(m, parse_template(template), name)
    answers = []
    for step in ("first", "second"):
        found = r.lookup(method, path)
        answers.append(found.value if isinstance(found, Match) else found)
        if step == "first":
            BETWEEN[between.partition(" (")[0]](r)
    assert answers == [first, second]
    assert len(r._answers) <= REMEMBERED_PATHS


def test_a_malformed_path_fails_every_time(router: Router[str]) -> None:
    for _ in range(2):
        with pytest.raises(MalformedPathError):
            router.lookup("GET", "/v1/things/%zz")


def test_registration_order_does_not_matter() -> None:
    forward: Router[str] = Router()
    backward: Router[str] = Router()
    for method, template, name in ROUTES:
        forward.add(method, parse_template(template), name)
    for method, template, name in reversed(ROUTES):
        backward.add(method, parse_template(template), name)
    for method, path, _, _ in LOOKUPS:
        a, b = forward.lookup(method, path), backward.lookup(method, path)
        assert (a.value if isinstance(a, Match) else a) == (b.value if isinstance(b, Match) else b)


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("/v1/things/{id}", "/v1/things/{name}"),
        ("/v1/things/{id}", "/v1/things/*"),
        ("/v1/x/{a=**}", "/v1/x/**"),
        ("/v1/x:verb", "/v1/x:verb"),
    ],
)
def test_conflicts(first: str, second: str) -> None:
    r: Router[str] = Router()
    r.add("GET", parse_template(first), "a")
    with pytest.raises(ConflictError):
        r.add("GET", parse_template(second), "b")
    # Another method or verb is no conflict.
    r.add("POST", parse_template(second), "c")
    assert r.existing("GET", parse_template(second)) == "a"


def test_many_routes_still_resolve() -> None:
    r: Router[int] = Router()
    for i in range(1000):
        r.add("GET", parse_template(f"/v1/r{i}/{{id}}/items/{{item}}"), i)
        r.add("POST", parse_template(f"/v1/r{i}/{{id}}:do{i % 7}"), -i)
    assert len(r) == 2000
    for i in (0, 17, 999):
        found = r.lookup("GET", f"/v1/r{i}/a/items/b")
        assert isinstance(found, Match)
        assert found.value == i
        verb = r.lookup("POST", f"/v1/r{i}/a:do{i % 7}")
        assert isinstance(verb, Match)
        assert verb.value == -i


UNESCAPE = [
    ("a%2Fb", UnescapingMode.ALL_EXCEPT_RESERVED, False, "a/b"),
    ("a%2Fb", UnescapingMode.ALL_EXCEPT_RESERVED, True, "a%2Fb"),
    ("a%3Ab%20c", UnescapingMode.ALL_EXCEPT_RESERVED, True, "a%3Ab c"),
    ("a%2Fb%3A", UnescapingMode.ALL_EXCEPT_SLASH, True, "a%2Fb:"),
    ("a%2Fb", UnescapingMode.ALL_CHARACTERS, True, "a/b"),
    ("a%2Fb", UnescapingMode.LEGACY, False, "a%2Fb"),
    ("plain", UnescapingMode.ALL_EXCEPT_RESERVED, False, "plain"),
]


@pytest.mark.parametrize(("raw", "mode", "multi", "expected"), UNESCAPE)
def test_unescape(raw: str, mode: UnescapingMode, multi: bool, expected: str) -> None:
    assert unescape(raw, mode, multi) == expected


@pytest.mark.parametrize("raw", ["%zz", "abc%", "%4", "%ff"])
def test_unescape_malformed(raw: str) -> None:
    with pytest.raises(MalformedPathError):
        unescape(raw, UnescapingMode.ALL_EXCEPT_RESERVED, False)


def test_all_methods_at(router: Router[str]) -> None:
    assert router.all_methods_at("/v1/things/special") == {"GET", "POST"}
    assert router.all_methods_at("/v1/things/3:archive") == {"GET", "POST"}
    assert router.all_methods_at("/nowhere") == set()


# google/api/http.proto, "Path template syntax", checked against the gateway's default mode:
SINGLE = "exactly one path segment ... all characters except [-_.~0-9a-zA-Z] are percent-encoded. The server side does the reverse decoding"
MULTI = (
    'multiple path segments ... The server side does the reverse decoding, except "%2F" and "%2f" are left unchanged'
)
HTTP_PROTO_DECODING = [
    (SINGLE, "a%2Fb", False, "a/b"),
    (SINGLE, "a%3Ab%40c%2B%21", False, "a:b@c+!"),
    (SINGLE, "%E2%9C%93", False, "✓"),
    (MULTI, "first/a%3Ab%2Bc%40d%21", True, "first/a:b+c@d!"),
    (MULTI, "shelves/1/books/a%20b", True, "shelves/1/books/a b"),
    (MULTI, "a%2Fb/c", True, "a%2Fb/c"),
    (MULTI, "a%2fb", True, "a%2fb"),
]


@pytest.mark.parametrize(
    ("rule", "raw", "multi", "decoded"), HTTP_PROTO_DECODING, ids=[f"{r[1]}-multi={r[2]}" for r in HTTP_PROTO_DECODING]
)
def test_http_proto_decoding_is_the_default(rule: str, raw: str, multi: bool, decoded: str) -> None:
    assert unescape(raw, GatewayOptions().unescaping, multi) == decoded, rule
