"""Determined's two pagination rules, as pure arithmetic over a row count.

``experiments_window`` is GetExperiments' SQL rule; ``generic_window`` is ``api.Paginate``, used by
GetUsers and most other list calls. The store counts matching rows, asks one of these for the
window, and fetches only that window with ``OFFSET``/``LIMIT``.
"""

from __future__ import annotations

from protogw.server.limits import check_experiment_limit
from protogw.server.storage.errors import InvalidArgument
from protogw.server.storage.models import Pagination

#: The page size GetExperiments uses when the request's limit is 0.
DEFAULT_EXPERIMENT_PAGE = 100

#: limit == -1: every row from the offset on.
LIMIT_ALL = -1
#: limit == -2: the pagination numbers only, no rows.
LIMIT_COUNT_ONLY = -2


def experiments_window(total: int, offset: int, limit: int) -> Pagination:
    """The window GetExperiments returns for ``total`` matching rows.

    An offset outside ``[-total, total]`` gives an empty page at ``total`` rather than an error; a
    negative offset counts from the end. A limit below -2 has no meaning in Determined (its end
    would fall before its start), so it is rejected.
    """
    check_experiment_limit(limit)
    if offset > total or offset < -total:
        start = total
    elif offset < 0:
        start = total + offset
    else:
        start = offset
    if limit == LIMIT_COUNT_ONLY:
        end = start
    elif limit == LIMIT_ALL:
        end = total
    elif limit == 0:
        end = min(start + DEFAULT_EXPERIMENT_PAGE, total)
    else:
        end = min(start + limit, total)
    return Pagination(offset=offset, limit=limit, start_index=start, end_index=end, total=total)


def generic_window(total: int, offset: int, limit: int) -> Pagination:
    """Determined's ``api.Paginate`` window: limit 0 means no limit; a bad offset is an error.

    Determined leaves negative limits undefined; here they are rejected instead of producing a
    window whose end precedes its start.
    """
    if limit < 0:
        raise InvalidArgument(f"limit must not be negative, got {limit}")
    start = total + offset if offset < 0 else offset
    if not 0 <= start <= total:
        raise InvalidArgument("offset out of bounds")
    end = start + limit
    if limit == 0 or end > total:
        end = total
    return Pagination(offset=offset, limit=limit, start_index=start, end_index=end, total=total)
