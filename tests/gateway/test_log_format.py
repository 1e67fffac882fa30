"""The log writer's formatter renders the date once per second, and its thread hands quick_log's lines to
handlers without making records: what every handler gets must equal what the stdlib gives it."""

from __future__ import annotations

import asyncio
import io
import logging
import multiprocessing
import pickle
import queue
from collections.abc import Callable

import pytest

from protogw.gateway import workers
from protogw.gateway.workers import (
    LOG_FORMAT,
    WORKER_LOG_FORMAT,
    _BatchListener,
    _BatchStream,
    _Formatter,
    _Forwarder,
)
from protogw.server.logbuffer import LogBuffer

# Times in order, as records arrive: within one second, across a second, across a day, back in time
# (a clock step), and the epoch.
TIMES = [1_700_000_000.0, 1_700_000_000.999, 1_700_000_001.0005, 1_700_086_400.25, 1_699_999_999.5, 0.0]


def _record(created: float) -> logging.LogRecord:
    record = logging.LogRecord("protogw.server.access", logging.INFO, "", 0, "%s %s", ("GetMaster", "OK"), None)
    record.created = created
    record.msecs = int((created - int(created)) * 1000)
    return record


@pytest.mark.parametrize("fmt", [LOG_FORMAT, WORKER_LOG_FORMAT])
def test_lines_equal_the_stdlib_formatter(fmt: str) -> None:
    ours, stdlib = _Formatter(fmt), logging.Formatter(fmt)
    for created in TIMES:
        record = _record(created)
        assert ours.format(record) == stdlib.format(record)


def test_an_explicit_date_format_is_honoured() -> None:
    record = _record(TIMES[0])
    assert _Formatter(datefmt="%Y").formatTime(record, "%Y") == logging.Formatter().formatTime(record, "%Y")


# --- the writer thread's line lane gives every handler what the ordinary path gives it -----------------

# (time, logger, level, message, arguments) as quick_log queues them, a bad one in the middle: its
# handlers report the error as logging does, and the lines after it are written.
ENTRIES = [
    (TIMES[0], "protogw.server.access", logging.INFO, "%s %s %.1fms", ("/pkg.S/M", "OK", 1.25)),
    (TIMES[1], "protogw.server.access", logging.WARNING, "%s %s", ("/pkg.S/M", "NOT_FOUND")),
    (TIMES[2], "protogw.server.access", logging.INFO, "%d calls", ("many",)),
    (TIMES[3], "protogw.server.errors", logging.ERROR, "no arguments: 100%", ()),
    (TIMES[4], "protogw.server.accessories", logging.INFO, "%s", ("a sibling, not a child",)),
    (TIMES[4], "protogw.server.access", logging.INFO, "%s", ("last",)),
]


def _stdlib_record(entry: tuple[float, str, int, str, tuple[object, ...]]) -> logging.LogRecord:
    created, name, level, msg, args = entry
    record = logging.LogRecord(name, level, "(unknown file)", 0, msg, args, None)
    record.created = created
    record.msecs = int((created - int(created)) * 1000) + 0.0
    return record


def _drained(handler: logging.Handler) -> None:
    records: queue.SimpleQueue[object] = queue.SimpleQueue()
    for entry in ENTRIES:
        records.put(entry)
    _BatchListener(records, handler)._drain()


def _stream(fmt: str, level: int = logging.NOTSET, formatter: type[logging.Formatter] = _Formatter) -> StreamCase:
    def make() -> tuple[logging.Handler, Callable[[], object]]:
        out = io.StringIO()
        handler = _BatchStream(out) if formatter is _Formatter else logging.StreamHandler(out)
        handler.setFormatter(formatter(fmt))
        handler.setLevel(level)
        return handler, out.getvalue

    return make


def _buffer(
    fmt: str | None = None,
    level: int = logging.NOTSET,
    drop_all: bool = False,
    leave_out: str | None = None,
    filter_out: str | None = None,
) -> StreamCase:
    def make() -> tuple[logging.Handler, Callable[[], object]]:
        buffer = LogBuffer(level=level)
        if fmt is not None:
            buffer.setFormatter(logging.Formatter(fmt))
        if drop_all:
            buffer.addFilter(lambda record: False)
        if leave_out is not None:
            buffer.leave_out(leave_out)
        if filter_out is not None:  # what leave_out means, as a logging filter
            buffer.addFilter(lambda r: not (r.name == filter_out or r.name.startswith(filter_out + ".")))

        def kept() -> object:
            async def read() -> list[tuple[str, object, int]]:
                return [(e.message, e.timestamp, e.level) async for e in buffer.read()]

            return asyncio.run(read())

        return buffer, kept

    return make


StreamCase = Callable[[], tuple[logging.Handler, Callable[[], object]]]

# (case, the handler as the writer thread gets it, and the same handler fed records the ordinary way)
LANES = [
    ("default format", _stream(LOG_FORMAT), _stream(LOG_FORMAT, formatter=logging.Formatter)),
    ("worker format", _stream(WORKER_LOG_FORMAT), _stream(WORKER_LOG_FORMAT, formatter=logging.Formatter)),
    ("warnings only", _stream(LOG_FORMAT, logging.WARNING), _stream(LOG_FORMAT, logging.WARNING, logging.Formatter)),
    ("master log buffer", _buffer(), _buffer()),
    ("buffer, own format", _buffer("%(levelname)s %(message)s"), _buffer("%(levelname)s %(message)s")),
    ("buffer, errors only", _buffer(level=logging.ERROR), _buffer(level=logging.ERROR)),
    ("buffer with a filter", _buffer(drop_all=True), _buffer(drop_all=True)),
    (
        "buffer leaving the access log out",
        _buffer(leave_out="protogw.server.access"),
        _buffer(filter_out="protogw.server.access"),
    ),
]


@pytest.mark.parametrize(("case", "lane", "ordinary"), LANES, ids=[c[0] for c in LANES])
def test_line_lane_gives_each_handler_what_records_give_it(
    case: str, lane: StreamCase, ordinary: StreamCase, capsys: pytest.CaptureFixture[str]
) -> None:
    handler, output = lane()
    _drained(handler)
    lane_errors = capsys.readouterr().err
    twin, expected = ordinary()
    for entry in ENTRIES:
        record = _stdlib_record(entry)
        if record.levelno >= twin.level:  # as Logger.callHandlers decides
            twin.handle(record)
    assert output() == expected()
    # The bad entry is reported the same way by both (when the handler would have written it).
    assert ("--- Logging error ---" in lane_errors) is ("--- Logging error ---" in capsys.readouterr().err)


def test_a_buffer_leaving_a_logger_out_takes_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    # MasterLogs leaves the access log out by default: the writer thread must still hand it lines, not
    # records made only to be dropped (a filter on the handler would make one per line).
    made: list[object] = []
    real = workers._record_of
    monkeypatch.setattr(workers, "_record_of", lambda line: made.append(line) or real(line))
    buffer = LogBuffer()
    buffer.leave_out("protogw.server.access")
    _drained(buffer)
    assert len(made) == 1  # the entry whose message does not render, as it is for every handler


def test_a_workers_lines_reach_the_parent_as_records_would_write_them(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # A worker's writer thread sends its batch to the parent, which writes it under the worker format.
    monkeypatch.setattr(multiprocessing.current_process(), "name", "worker-3")
    sent: queue.SimpleQueue[list[object]] = queue.SimpleQueue()
    forwarder = _Forwarder(sent)
    forwarder.setLevel(logging.INFO)
    records: queue.SimpleQueue[object] = queue.SimpleQueue()
    ordinary = _stdlib_record((TIMES[5], "protogw.workers", logging.WARNING, "logged the %s way", ("ordinary",)))
    for entry in [*ENTRIES[:2], ordinary, *ENTRIES[2:]]:
        records.put(entry)
    _BatchListener(records, forwarder)._drain()
    expected = [_stdlib_record(entry) for entry in ENTRIES]
    expected.insert(2, ordinary)
    monkeypatch.undo()  # the parent: MainProcess

    out, twin_out = io.StringIO(), io.StringIO()
    parent = _BatchStream(out)
    parent.setFormatter(_Formatter(WORKER_LOG_FORMAT))
    while not sent.empty():
        parent.handle_lines(pickle.loads(pickle.dumps(sent.get())))  # as the process queue carries it
    twin = logging.StreamHandler(twin_out)
    twin.setFormatter(logging.Formatter(WORKER_LOG_FORMAT))
    assert "--- Logging error ---" in capsys.readouterr().err  # the worker reports what does not render
    for record in expected:
        record.processName = "worker-3"
        twin.handle(record)
    assert out.getvalue() == twin_out.getvalue()
    assert out.getvalue().count(" worker-3 ") == 6
