"""Request ids: the rule for a caller's id, and the ids made when there is none."""

from __future__ import annotations

import re

import pytest

from protogw.core.requestid import acceptable_request_id, new_request_id

#: (a caller's id, whether it is kept as given)
CALLER_IDS = [
    ("r1", True),
    ("trace/abc=1", True),
    ("x" * 128, True),
    ("x" * 129, False),
    ("", False),
    ("has space", False),
    ("tab\there", False),
    ("caf\u00e9", False),
    (None, False),
]


@pytest.mark.parametrize(("given", "kept"), CALLER_IDS)
def test_acceptable_request_id(given: str | None, kept: bool) -> None:
    assert acceptable_request_id(given) is kept


def test_new_ids_are_32_hex_digits_and_distinct() -> None:
    ids = [new_request_id() for _ in range(5000)]
    assert all(re.fullmatch("[0-9a-f]{32}", i) for i in ids)
    assert len(set(ids)) == len(ids)
    # Leading zeros are kept (a short number still gives 32 digits): over 5,000 ids, some start with 0.
    assert any(i.startswith("0") for i in ids)
    assert all(acceptable_request_id(i) for i in ids)
