"""Determined's two pagination rules as pure arithmetic (protogw.server.storage.pagination)."""

from __future__ import annotations

import pytest

from protogw.server.storage.errors import InvalidArgument
from protogw.server.storage.models import Pagination
from protogw.server.storage.pagination import experiments_window, generic_window

# (total, offset, limit) -> (start_index, end_index)
EXPERIMENT_CASES = [
    pytest.param(0, 0, 0, (0, 0), id="empty"),
    pytest.param(250, 0, 0, (0, 100), id="limit-0-is-page-of-100"),
    pytest.param(50, 0, 0, (0, 50), id="limit-0-short-result"),
    pytest.param(250, 200, 0, (200, 250), id="limit-0-last-partial-page"),
    pytest.param(10, 0, 3, (0, 3), id="plain-page"),
    pytest.param(10, 8, 5, (8, 10), id="page-clipped-at-end"),
    pytest.param(10, 10, 5, (10, 10), id="offset-equals-total"),
    pytest.param(10, 11, 5, (10, 10), id="offset-past-end-empty"),
    pytest.param(10, -3, 2, (7, 9), id="negative-offset-from-end"),
    pytest.param(10, -10, 2, (0, 2), id="negative-offset-whole"),
    pytest.param(10, -11, 2, (10, 10), id="negative-offset-past-start-empty"),
    pytest.param(10, 4, -1, (4, 10), id="limit-minus-1-everything"),
    pytest.param(1000, 0, -1, (0, 1000), id="limit-minus-1-beyond-default"),
    pytest.param(10, 4, -2, (4, 4), id="limit-minus-2-counts-only"),
    pytest.param(10, 20, -2, (10, 10), id="limit-minus-2-offset-past-end"),
    pytest.param(1, 0, 1, (0, 1), id="doc-example-archived-limit-1"),
]


@pytest.mark.parametrize(("total", "offset", "limit", "window"), EXPERIMENT_CASES)
def test_experiments_window(total: int, offset: int, limit: int, window: tuple[int, int]) -> None:
    assert experiments_window(total, offset, limit) == Pagination(
        offset=offset, limit=limit, start_index=window[0], end_index=window[1], total=total
    )


@pytest.mark.parametrize("limit", [-3, -100])
def test_experiments_window_rejects_limits_below_minus_2(limit: int) -> None:
    with pytest.raises(InvalidArgument, match="limit"):
        experiments_window(10, 0, limit)


GENERIC_CASES = [
    pytest.param(0, 0, 0, (0, 0), id="empty"),
    pytest.param(250, 0, 0, (0, 250), id="limit-0-means-all"),
    pytest.param(10, 2, 3, (2, 5), id="plain-page"),
    pytest.param(10, 8, 5, (8, 10), id="clipped"),
    pytest.param(10, 10, 5, (10, 10), id="offset-equals-total"),
    pytest.param(10, -3, 0, (7, 10), id="negative-offset"),
    pytest.param(10, -10, 1, (0, 1), id="negative-offset-whole"),
]


@pytest.mark.parametrize(("total", "offset", "limit", "window"), GENERIC_CASES)
def test_generic_window(total: int, offset: int, limit: int, window: tuple[int, int]) -> None:
    assert generic_window(total, offset, limit) == Pagination(
        offset=offset, limit=limit, start_index=window[0], end_index=window[1], total=total
    )


GENERIC_ERRORS = [
    pytest.param(10, 11, 0, "offset out of bounds", id="offset-past-end"),
    pytest.param(10, -11, 0, "offset out of bounds", id="negative-offset-past-start"),
    pytest.param(0, 1, 0, "offset out of bounds", id="offset-on-empty"),
    pytest.param(10, 0, -1, "limit", id="negative-limit"),
]


@pytest.mark.parametrize(("total", "offset", "limit", "message"), GENERIC_ERRORS)
def test_generic_window_errors(total: int, offset: int, limit: int, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        generic_window(total, offset, limit)
