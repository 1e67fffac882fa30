"""Receipt stamps: when the request a task is serving was received, on one counter per process.

A cache that must never answer with data older than the request (a read must see every write that
completed before the request arrived) usually checks for changes on every read. Requests received
together - the HTTP server parses every request that arrived on its connections before their tasks
run - can share one check: a check made *after* a request was received sees every write that
completed before it. So the HTTP server stamps each request head as it parses it
(:data:`SCOPE_KEY` in the ASGI scope), the gateway makes that stamp the task's :func:`received` for
the length of one unary call, and a cache takes a :func:`stamp` just before each check: a read whose
request was received before the last check may use that check instead of making its own.

Linearisable by construction: the stamp is taken after the request's bytes arrived, so any write
that completed before the client sent them completed before the stamp, hence before a check that
comes later. Whatever a request may see of writes that complete while it is being served is up to
the cache (a cache must still show a call its *own* writes: forget the shared check after writing).

A request without a stamp (gRPC, a stream, an HTTP server other than protogw's, a direct call)
reads :func:`received` as None: such a read checks for itself.
"""

from __future__ import annotations

import itertools
from contextvars import ContextVar, Token

__all__ = ["SCOPE_KEY", "received", "receiving", "stamp"]

#: The ASGI scope key under which protogw's HTTP protocol puts a request's receipt stamp.
SCOPE_KEY = "protogw.received"

_counter = itertools.count(1)
_received: ContextVar[int | None] = ContextVar("protogw_received", default=None)


def stamp() -> int:
    """A point on the process's counter, later than every stamp taken before it."""
    return next(_counter)


def received() -> int | None:
    """The receipt stamp of the request this task is serving, or None when it is not known."""
    return _received.get()


class receiving:  # lower-case like contextlib's own context managers: it is used as a function
    """Make ``receipt`` this task's :func:`received` inside a ``with`` block.

    A class rather than a ``@contextmanager`` generator: it is entered on every unary REST call, and
    this costs about half as much."""

    __slots__ = ("_receipt", "_token")

    def __init__(self, receipt: int | None) -> None:
        self._receipt = receipt

    def __enter__(self) -> None:
        self._token: Token[int | None] = _received.set(self._receipt)

    def __exit__(self, *exc_info: object) -> None:
        _received.reset(self._token)
