"""Rendering of decode failures into CodecError paths."""

from __future__ import annotations

import pytest

from protogw.core.codec import CodecError
from protogw.core.codec._errors import Fail

PATHS = [
    # (segments as collected on the way out, innermost first; expected path)
    ([], ""),
    (["name"], "name"),
    (["int32Value", "payload", "thing"], "thing.payload.int32Value"),
    (["amount", "[1]", "repeatedNested"], "repeatedNested[1].amount"),
    (["kind", "[7]", "intMap", "payload"], "payload.intMap[7].kind"),
    (["[0]", "[2]", "a"], "a[2][0]"),
]


@pytest.mark.parametrize(("segments", "path"), PATHS)
def test_path_rendering(segments: list[str], path: str) -> None:
    fail = Fail("bad value")
    fail.segments.extend(segments)
    error = fail.to_codec_error()
    assert isinstance(error, CodecError)
    assert isinstance(error, ValueError)
    assert error.path == path
    assert error.reason == "bad value"
    assert str(error) == (f"{path}: bad value" if path else "bad value")
