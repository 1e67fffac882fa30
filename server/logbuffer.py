"""An in-memory ring buffer of the process's log records, readable as a (following) stream.

``LogBuffer`` is a ``logging.Handler``: attach it to a logger and every record it receives gets a
sequence id and is kept until ``capacity`` newer records push it out. MasterLogs reads from it with
Determined's offset/limit/follow rules.

Followers cost O(1) per record: there is one shared ring of slots (record ``id`` lives in slot
``id % capacity``) and each reader keeps only its cursor, the id of the next record it wants. Records
may be emitted from any thread. An emit wakes each event loop that has readers at most once per loop
iteration (however many records arrive meanwhile) by setting that loop's current ``asyncio.Event``
and replacing it with a fresh one, a generation; readers of the loop all wait on that one event.
Nothing is copied per reader, and an emit does no work per reader.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeAlias

from protogw.gateway.workers import LogItem, LogLine

#: How a record is kept: Determined's master log lines carry the logger's name and the message.
_FORMAT = "%(name)s: %(message)s"

#: Records a reader takes from the ring per lock acquisition.
_BATCH = 256

#: A kept line as the ring holds it: its formatted message, time (``time.time()``) and level. A reader
#: makes the :class:`LogRecordEntry` from it.
_Line: TypeAlias = tuple[str, float, int]


@dataclass(frozen=True, slots=True)
class LogRecordEntry:
    """One buffered record: its sequence id, formatted text, time (UTC) and ``logging`` level."""

    id: int
    message: str
    timestamp: datetime
    level: int


class _LoopWaker:
    """The wake-up shared by all readers on one event loop."""

    __slots__ = ("event", "loop", "pending", "readers")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.event = asyncio.Event()
        # A wake-up is scheduled on the loop and has not run yet (guarded by the buffer's mutex).
        self.pending = False
        self.readers = 0


class LogBuffer(logging.Handler):
    """Keeps the last ``capacity`` log records and lets async readers follow new ones."""

    def __init__(self, capacity: int = 10_000, level: int = logging.NOTSET) -> None:
        super().__init__(level)
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self._capacity = capacity
        # Slot ``id % capacity`` holds record ``id``.
        self._slots: list[_Line | None] = [None] * capacity
        self._next_id = 1
        self._mutex = threading.Lock()
        self._wakers: dict[asyncio.AbstractEventLoop, _LoopWaker] = {}
        self._stopped = False
        # Loggers whose records are not kept (leave_out), and what was decided per logger name.
        self._left_out: tuple[str, ...] = ()
        self._kept_names: dict[str, bool] = {}
        self.setFormatter(logging.Formatter(_FORMAT))

    def leave_out(self, logger_name: str) -> None:
        """Keep nothing a logger of that name or one below it logs (``a.b`` leaves out ``a.b.c``, not
        ``a.bc``). Unlike a filter, this keeps the writer thread's lines lines (see ``handle_lines``):
        a handler with filters gets every line as a record, made only for the filter to drop it."""
        self._left_out = (*self._left_out, logger_name)
        self._kept_names = {}

    def _keeps(self, logger_name: str) -> bool:
        kept = self._kept_names.get(logger_name)
        if kept is None:
            kept = not any(logger_name == n or logger_name.startswith(n + ".") for n in self._left_out)
            self._kept_names[logger_name] = kept
        return kept

    # -- writing ------------------------------------------------------------------------------------

    def emit(self, record: logging.LogRecord) -> None:
        if not self._keeps(record.name):
            return
        try:
            message = self.format(record)
        except Exception:
            self.handleError(record)
            return
        self._keep([(message, record.created, record.levelno)])

    def handle_lines(self, items: Sequence[LogItem]) -> None:
        """Keep a batch from protogw's log writer thread (``protogw.gateway.workers``), in order: lines
        under the default format without making their records, and one lock acquisition and at most
        one wake-up per event loop for the whole batch."""
        formatter = self.formatter
        plain = type(formatter) is logging.Formatter and formatter._fmt == _FORMAT
        kept: list[_Line] = []
        for item in items:
            if not self._keeps(item.name):
                continue
            if isinstance(item, LogLine):
                if item.level < self.level:
                    continue
                if plain:
                    kept.append((f"{item.name}: {item.message}", item.created, item.level))
                    continue
                item = item.record()
            if item.levelno < self.level or not self.filter(item):
                continue
            try:
                kept.append((self.format(item), item.created, item.levelno))
            except Exception:
                self.handleError(item)
        if kept:
            self._keep(kept)

    def _keep(self, lines: list[_Line]) -> None:
        """Add ``(message, time, level)`` entries; wake the loops with readers. The ring holds them as
        they come: a reader makes the :class:`LogRecordEntry` (the writer thread keeps every line, a
        reader wants few of them)."""
        with self._mutex:
            entry_id = self._next_id
            slots, capacity = self._slots, self._capacity
            for line in lines:
                slots[entry_id % capacity] = line
                entry_id += 1
            self._next_id = entry_id
            due = [w for w in self._wakers.values() if not w.pending]
            for waker in due:
                waker.pending = True
        for waker in due:
            self._schedule(waker)

    def _schedule(self, waker: _LoopWaker) -> None:
        # RuntimeError: the loop closed while its readers were still registered (they were abandoned,
        # not closed); nobody is left to wake.
        with contextlib.suppress(RuntimeError):
            waker.loop.call_soon_threadsafe(self._wake, waker)

    def _wake(self, waker: _LoopWaker) -> None:
        """Runs on the waker's loop: release every reader waiting there and start a new generation."""
        with self._mutex:
            waker.pending = False
        event, waker.event = waker.event, asyncio.Event()
        event.set()

    # -- state --------------------------------------------------------------------------------------

    @property
    def followers(self) -> int:
        """How many readers are attached right now (each open MasterLogs stream is one)."""
        with self._mutex:
            return sum(w.readers for w in self._wakers.values())

    @property
    def stopped(self) -> bool:
        """Whether :meth:`stop_following` was called."""
        return self._stopped

    def stop_following(self) -> None:
        """End every follow stream at its next record boundary, now and from now on (shutdown).

        Readers stop without sending the rest of their backlog; new follow reads end at once. The
        buffer keeps recording.
        """
        with self._mutex:
            self._stopped = True
            due = [w for w in self._wakers.values() if not w.pending]
            for waker in due:
                waker.pending = True
        for waker in due:
            self._schedule(waker)

    # -- reading ------------------------------------------------------------------------------------

    def _oldest(self) -> int:
        """The id of the oldest record still kept (``_next_id`` when empty); call with the mutex held."""
        return max(1, self._next_id - self._capacity)

    def _start_cursor(self, offset: int) -> int:
        with self._mutex:
            first = self._oldest()
            if offset >= 0:
                return first + offset
            return max(first, self._next_id + offset)

    def _take(self, cursor: int, stop: int | None) -> tuple[list[LogRecordEntry], int]:
        """Up to ``_BATCH`` records from ``cursor`` (skipping evicted ones), and the next cursor."""
        with self._mutex:
            cursor = max(cursor, self._oldest())
            end = min(self._next_id, cursor + _BATCH)
            if stop is not None:
                end = min(end, stop)
            slots, capacity = self._slots, self._capacity
            batch = [(i, slots[i % capacity]) for i in range(cursor, end)]
        entries = [
            LogRecordEntry(i, line[0], datetime.fromtimestamp(line[1], UTC), line[2])
            for i, line in batch
            if line is not None
        ]
        return entries, max(cursor, end)

    def _attach(self) -> _LoopWaker:
        loop = asyncio.get_running_loop()
        with self._mutex:
            waker = self._wakers.get(loop)
            if waker is None:
                waker = self._wakers[loop] = _LoopWaker(loop)
            waker.readers += 1
            return waker

    def _detach(self, waker: _LoopWaker) -> None:
        with self._mutex:
            waker.readers -= 1
            if waker.readers == 0 and self._wakers.get(waker.loop) is waker:
                del self._wakers[waker.loop]

    async def read(self, *, offset: int = 0, limit: int = 0, follow: bool = False) -> AsyncIterator[LogRecordEntry]:
        """Yield buffered records, Determined-style.

        ``offset`` skips that many of the retained records (negative: start that many from the end);
        ``limit`` caps how many are sent (0: no cap). Without ``follow`` the stream ends at the
        records kept when it started; with it the stream waits for new records, until the limit is
        reached or :meth:`stop_following` is called. If records are evicted while a slow reader
        follows, it resumes at the oldest one still kept.
        """
        if limit < 0:
            raise ValueError("limit must not be negative")
        waker = self._attach()
        try:
            cursor = self._start_cursor(offset)
            with self._mutex:
                stop = None if follow else self._next_id
            sent = 0
            while not (follow and self._stopped):
                # Take the generation before looking at the ring, so a record emitted after the look
                # sets the event this reader is about to wait on.
                event = waker.event
                batch, cursor = self._take(cursor, stop)
                for entry in batch:
                    if follow and self._stopped:
                        return
                    yield entry
                    sent += 1
                    if limit and sent >= limit:
                        return
                if batch:
                    continue
                if not follow:
                    return
                await event.wait()
        finally:
            self._detach(waker)
