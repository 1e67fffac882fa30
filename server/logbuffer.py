"""An in-memory ring buffer of the process's log records, readable as a (following) stream.

``LogBuffer`` is a ``logging.Handler``: attach it to a logger and every record it receives gets a
sequence id and is kept until ``capacity`` newer records push it out. MasterLogs reads from it with
Determined's offset/limit/follow rules. Records may be emitted from any thread; readers wait on an
``asyncio.Event`` that emitters set through the reader's own event loop.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime


@dataclass(frozen=True, slots=True)
class LogRecordEntry:
    """One buffered record: its sequence id, formatted text, time (UTC) and ``logging`` level."""

    id: int
    message: str
    timestamp: datetime
    level: int


class LogBuffer(logging.Handler):
    """Keeps the last ``capacity`` log records and lets async readers follow new ones."""

    def __init__(self, capacity: int = 10_000, level: int = logging.NOTSET) -> None:
        super().__init__(level)
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self._entries: deque[LogRecordEntry] = deque(maxlen=capacity)
        self._next_id = 1
        self._mutex = threading.Lock()
        self._waiters: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()
        self.setFormatter(logging.Formatter("%(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = self.format(record)
        except Exception:
            self.handleError(record)
            return
        timestamp = datetime.fromtimestamp(record.created, UTC)
        with self._mutex:
            self._entries.append(LogRecordEntry(self._next_id, message, timestamp, record.levelno))
            self._next_id += 1
            waiters = list(self._waiters)
        for loop, event in waiters:
            # A reader's loop may already be closed if it went away without cleaning up.
            if not loop.is_closed():
                loop.call_soon_threadsafe(event.set)

    @property
    def followers(self) -> int:
        """How many readers are attached right now (each open MasterLogs stream is one)."""
        with self._mutex:
            return len(self._waiters)

    def _after(self, cursor: int) -> list[LogRecordEntry]:
        with self._mutex:
            return [e for e in self._entries if e.id >= cursor]

    def _start_cursor(self, offset: int) -> int:
        with self._mutex:
            first = self._entries[0].id if self._entries else self._next_id
            if offset >= 0:
                return first + offset
            return max(first, self._next_id + offset)

    async def read(self, *, offset: int = 0, limit: int = 0, follow: bool = False) -> AsyncIterator[LogRecordEntry]:
        """Yield buffered records, Determined-style.

        ``offset`` skips that many of the retained records (negative: start that many from the end);
        ``limit`` caps how many are sent (0: no cap); with ``follow`` the stream waits for new
        records instead of ending once it has caught up. If records are evicted while a slow reader
        follows, it resumes at the oldest one still kept.
        """
        if limit < 0:
            raise ValueError("limit must not be negative")
        cursor = self._start_cursor(offset)
        sent = 0
        event = asyncio.Event()
        waiter = (asyncio.get_running_loop(), event)
        with self._mutex:
            self._waiters.add(waiter)
        try:
            while True:
                event.clear()
                for entry in self._after(cursor):
                    yield entry
                    cursor = entry.id + 1
                    sent += 1
                    if limit and sent >= limit:
                        return
                if not follow:
                    return
                await event.wait()
        finally:
            with self._mutex:
                self._waiters.discard(waiter)
