"""Serving processes: the log set-up every command shares, listening sockets several processes can share,
and ``--workers N`` (N processes behind one set of ports).

Logging: records go through a :class:`logging.handlers.QueueHandler` to a
:class:`~logging.handlers.QueueListener` thread that formats and writes them, so a request's access-log
line costs the event loop one queue put instead of a formatted write to stderr. With several workers,
every worker's queue is the parent's: the parent's listener writes all of them to its stderr, one log
stream, each line naming its worker.

Workers: the parent reserves each port (bound with ``SO_REUSEPORT``, never listening, so the kernel keeps
the port for the workers and sends it no connections), starts N processes with the ``spawn`` method
(nothing of gRPC's or the event loop's state crosses a fork), and each worker binds its own listening
socket to the same port with ``SO_REUSEPORT``: the kernel spreads new connections over them. SIGTERM or
SIGINT to the parent is passed to every worker, which shuts down gracefully; the parent exits when all
have. A worker that dies on its own takes the others down with it (exit status 1), so a supervisor sees
the failure instead of a server running at reduced strength.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import logging.handlers
import multiprocessing
import multiprocessing.connection
import os
import queue
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, NamedTuple

__all__ = [
    "GC_THRESHOLDS",
    "LOG_FORMAT",
    "LogItem",
    "LogLine",
    "configure_logging",
    "hand_over",
    "listen",
    "quick_log",
    "reserve_port",
    "run_workers",
    "settle_heap",
    "take_back",
]

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
WORKER_LOG_FORMAT = "%(asctime)s %(levelname)s %(processName)s %(name)s: %(message)s"

#: How often the writer thread wakes to write what was logged meanwhile (one write per batch: a thread
#: woken per record would cost the event loop a GIL hand-over per request).
WRITE_INTERVAL = 0.02


class LogLine(NamedTuple):
    """A line logged with :func:`quick_log`, as the writer thread hands it to handlers that take lines
    (``handle_lines``): its time, logger name, level and message, rendered once for all of them. A
    handler that does not take lines gets the ``LogRecord`` ``logger.log`` would have made. ``process``
    names the worker a line came from once it has crossed to the parent ("" before: this process)."""

    created: float
    name: str
    level: int
    message: str
    process: str = ""

    def record(self) -> logging.LogRecord:
        """The LogRecord ``logger.log`` would have made at the line's time."""
        return _record_of(self)


#: What the writer thread hands a handler's ``handle_lines``: lines, and records logged the ordinary way,
#: in the order they were logged.
LogItem = logging.LogRecord | LogLine


def _level(item: LogItem) -> int:
    return item.level if isinstance(item, LogLine) else item.levelno


class _BatchStream(logging.StreamHandler):  # type: ignore[type-arg]
    """A stream handler that writes a batch with one write; a :class:`LogLine` under either of protogw's
    formats is written without making a record (the same text)."""

    def handle_lines(self, items: Sequence[LogItem]) -> None:
        formatter = self.formatter
        fmt = formatter._fmt if isinstance(formatter, _Formatter) else None
        direct, named = fmt in (LOG_FORMAT, WORKER_LOG_FORMAT), fmt == WORKER_LOG_FORMAT
        level = self.level
        parts: list[str] = []
        for item in items:
            if isinstance(item, LogLine):
                if item.level < level:
                    continue
                if direct:
                    clock = formatter.clock(item.created)  # type: ignore[union-attr]
                    head = f"{clock} {logging.getLevelName(item.level)}"
                    if named:
                        head = f"{head} {item.process or multiprocessing.current_process().name}"
                    parts.append(f"{head} {item.name}: {item.message}\n")
                    continue
                item = _record_of(item)
            if item.levelno >= level and self.filter(item):
                try:
                    parts.append(self.format(item) + "\n")
                except Exception:
                    self.handleError(item)  # that record only: the rest of the batch is written
        if parts:
            try:
                with self.lock:  # type: ignore[union-attr]
                    self.stream.write("".join(parts))
                    self.flush()
            except Exception:
                first = items[0]
                self.handleError(first if isinstance(first, logging.LogRecord) else _record_of(first))


class _Forwarder(logging.handlers.QueueHandler):
    """A worker's writer: each batch goes to the parent in one put, messages rendered (the arguments
    may not pickle): lines as lines, named after this worker, and records prepared by the stdlib; the
    parent formats them."""

    def __init__(self, parent: Any) -> None:
        super().__init__(parent)
        self._process = multiprocessing.current_process().name

    def handle_lines(self, items: Sequence[LogItem]) -> None:
        level = self.level
        batch: list[LogItem] = []
        for item in items:
            if _level(item) < level:
                continue
            if isinstance(item, LogLine):
                batch.append(item._replace(process=self._process))
                continue
            try:
                batch.append(self.prepare(item))
            except Exception:
                self.handleError(item)  # that record only: the rest of the batch is sent
        if batch:
            self.queue.put_nowait(batch)

    def enqueue(self, record: logging.LogRecord) -> None:
        self.queue.put_nowait([record])  # the parent takes batches


class _BatchListener:
    """A thread that, every :data:`WRITE_INTERVAL`, hands what was queued to each handler."""

    def __init__(self, records: queue.SimpleQueue[Any], *handlers: logging.Handler) -> None:
        self.records = records
        self.handlers: tuple[logging.Handler, ...] = handlers
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="protogw-log-writer", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        self._drain()

    def _run(self) -> None:
        while not self._stop.wait(WRITE_INTERVAL):
            self._drain()

    def _drain(self) -> None:
        batch: list[Any] = []
        get = self.records.get_nowait
        with contextlib.suppress(queue.Empty):
            while True:
                batch.append(get())
        if not batch:
            return
        items: list[LogItem] = [_line_of(item) if type(item) is tuple else item for item in batch]
        records: list[logging.LogRecord] | None = None
        for handler in self.handlers:
            take_lines = getattr(handler, "handle_lines", None)
            if take_lines is not None and not handler.filters:
                take_lines(items)
                continue
            if records is None:
                records = [_record_of(item) if isinstance(item, LogLine) else item for item in items]
            for record in records:
                if record.levelno >= handler.level:
                    handler.handle(record)


_listener: _BatchListener | None = None
# The root logger's handler that feeds the writer thread (set with it).
_queue_handler: logging.handlers.QueueHandler | None = None


def quick_log(logger: logging.Logger, level: int, msg: str, args: tuple[Any, ...]) -> None:
    """``logger.log(level, msg, *args)``, for a line logged on every call (the access log), with the
    same outcome for every handler and at a fraction of the cost on the event loop.

    When logging goes through the writer thread alone (``configure_logging`` set it up and nothing
    else is attached on the way from ``logger`` to the root: no handler, filter or stopped
    propagation), the event loop only queues ``(time, logger name, level, msg, args)`` and the
    writer thread makes the ``LogRecord`` from it - with that time - before any handler sees it.
    Otherwise (a test's log capture, an embedding program's handlers) it is ``logger.log``. The
    caller has checked ``logger.isEnabledFor(level)``.
    """
    handler = _queue_handler
    if handler is not None and _only_the_queue(logger, handler):
        handler.queue.put_nowait((time.time(), logger.name, level, msg, args))
    else:
        logger.log(level, msg, *args)


def _only_the_queue(logger: logging.Logger, handler: logging.Handler) -> bool:
    node: logging.Logger | None = logger
    while node is not None:
        if node.filters:
            return False
        if node.parent is None:  # the root
            return node.handlers == [handler] and not handler.filters
        if node.handlers or not node.propagate:
            return False
        node = node.parent
    return False


def _line_of(entry: tuple[float, str, int, str, tuple[Any, ...]]) -> LogItem:
    """The line of a :func:`quick_log` entry, its message rendered as ``LogRecord.getMessage`` would; a
    message that does not render becomes a record (its handlers report the error as for any record)."""
    created, name, level, msg, args = entry
    try:
        return LogLine(created, name, level, str(msg) % args if args else str(msg))
    except Exception:
        record = _record_of(LogLine(created, name, level, msg))
        record.args = args
        return record


def _record_of(line: LogLine) -> logging.LogRecord:
    """The LogRecord ``logger.log`` would have made at the line's time (see :func:`quick_log`)."""
    created, name, level, message, process = line
    record = logging.getLogger(name).makeRecord(name, level, "(unknown file)", 0, message, (), None)
    if process:
        record.processName = process
    # As LogRecord sets them from its own clock reading.
    record.created = created
    record.msecs = int((created - int(created)) * 1000) + 0.0
    record.relativeCreated = (created - logging._startTime) * 1000  # type: ignore[attr-defined]
    return record


class _DeferredQueueHandler(logging.handlers.QueueHandler):
    """Puts the record on the queue as it is: the listener thread formats it.

    The stdlib's ``prepare`` formats the message in the caller's thread (it must, when the record
    crosses a process boundary); within one process the arguments are safe to format later, so the
    event loop pays only for the record and the put. A traceback is rendered here, while it exists.
    """

    def prepare(self, record: logging.LogRecord) -> logging.LogRecord:
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        return record


class _Formatter(logging.Formatter):
    """The stdlib formatter with the date and time rendered once per second rather than once per
    record (``time.strftime`` is half the cost of formatting an access-log line); the same text as the
    stdlib's default ``asctime`` (``default_time_format`` then ``,`` and milliseconds)."""

    _second: tuple[int, str] = (-1, "")

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        if datefmt is not None:
            return super().formatTime(record, datefmt)
        return self.clock(record.created)

    def clock(self, created: float) -> str:
        """``asctime`` for a record made at ``created``."""
        whole = int(created)
        second, text = self._second
        if whole != second:
            text = time.strftime(self.default_time_format, self.converter(whole))
            self._second = (whole, text)  # one assignment: a thread never sees half of it
        # The milliseconds as LogRecord computes its msecs.
        return f"{text},{int((created - whole) * 1000):03d}"


def _stream_handler(fmt: str) -> _BatchStream:
    handler = _BatchStream(sys.stderr)
    handler.setFormatter(_Formatter(fmt))
    return handler


def _cheap_records() -> None:
    """Skip the work a LogRecord does that no line here prints: the caller's frame (file, line,
    function: a stack walk per record), thread and process ids. The logging HOWTO lists these switches
    under "Optimization". The process *name* stays: worker lines carry it."""
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False


def configure_logging(level: str, *, workers: int = 1, forward_to: Any = None) -> None:
    """Log at ``level`` to stderr, through a queue and a writer thread (idempotent: a second call only
    changes the level; like ``logging.basicConfig``, nothing happens when the root logger already has
    handlers). ``workers`` > 1 names the worker on each line; ``forward_to`` (a worker's
    multiprocessing queue) sends the records to the parent's writer instead of stderr."""
    global _listener
    root = logging.getLogger()
    if _listener is not None:
        root.setLevel(level.upper())
        return
    if root.handlers and forward_to is None:
        # As logging.basicConfig: someone (an embedding program, a test runner) configured logging.
        return
    root.setLevel(level.upper())
    _cheap_records()
    records: queue.SimpleQueue[Any] = queue.SimpleQueue()
    global _queue_handler
    _queue_handler = _DeferredQueueHandler(records)
    root.addHandler(_queue_handler)
    if forward_to is not None:
        # The stdlib handler renders the message (and any traceback) before the record crosses to the
        # parent, where the time, level and worker name are added.
        writer: logging.Handler = _Forwarder(forward_to)
    else:
        writer = _stream_handler(WORKER_LOG_FORMAT if workers > 1 else LOG_FORMAT)
    _listener = _BatchListener(records, writer)
    _listener.start()
    import atexit

    atexit.register(flush_logging)


def hand_over(handler: logging.Handler) -> bool:
    """Move ``handler`` from the root logger to the writer thread, when logging goes through one, so
    that it too runs off the event loop (e.g. a buffer of recent records). True if it moved."""
    listener = _listener
    root = logging.getLogger()
    if listener is None or handler not in root.handlers:
        return False
    root.removeHandler(handler)
    listener.handlers = (*listener.handlers, handler)
    return True


def take_back(handler: logging.Handler) -> None:
    """Undo :func:`hand_over` (the handler's owner is closing it)."""
    listener = _listener
    if listener is not None and handler in listener.handlers:
        listener.handlers = tuple(h for h in listener.handlers if h is not handler)


def flush_logging() -> None:
    """Write what is queued and stop the writer thread (at exit; logging goes on synchronously)."""
    global _listener, _queue_handler
    listener, _listener = _listener, None
    _queue_handler = None
    if listener is None:
        return
    listener.stop()
    root = logging.getLogger()
    for handler in list(root.handlers):
        if isinstance(handler, logging.handlers.QueueHandler):
            root.removeHandler(handler)
    root.addHandler(listener.handlers[0])


# --- sockets --------------------------------------------------------------------------------------------------


#: The cycle collector's thresholds once a serving process has started (``settle_heap``). Python's
#: default (700, 10, 10) runs a young collection every 700 container allocations: a few times per
#: request, each one walking the objects of every request still in flight, and a full collection
#: every 70,000, walking the whole heap. Measured under load (32 connections, a 100-experiment page
#: or GetExperiment), the collector then took about a quarter of the server's CPU. Reference
#: counting frees almost everything a request allocates; the collector only has cycles to find, and
#: finding them later costs memory (a few MB of pending objects at most), not correctness.
GC_THRESHOLDS = (50_000, 10, 10)


def settle_heap() -> None:
    """Once a serving process has started: collect, freeze what survived, and raise the thresholds.

    Start-up leaves hundreds of thousands of long-lived objects (modules, descriptor pools, compiled
    routes and codecs, the engine); ``gc.freeze`` moves them out of the collector's sight for good,
    so full collections walk only what serving allocated. Call it after everything long-lived has
    been built and before serving begins; objects built later are collected as usual.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def reserve_port(host: str, port: int) -> socket.socket:
    """Hold ``host:port`` for workers: a bound, non-listening ``SO_REUSEPORT`` socket (port 0 picks one).

    The port is first bound without ``SO_REUSEPORT``, so a port another program already uses is an
    ``OSError`` (EADDRINUSE) here rather than silently shared.
    """
    with socket.socket(_family(host), socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind((host, port))
        port = probe.getsockname()[1]
    sock = socket.socket(_family(host), socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    return sock


def listen(host: str, port: int, *, reuse_port: bool = False) -> socket.socket:
    """A listening TCP socket (port 0 picks a free port); ``reuse_port`` joins a port held by
    :func:`reserve_port` (or by other workers).

    The protocol is given explicitly: asyncio sets TCP_NODELAY on accepted connections only when the
    listening socket says IPPROTO_TCP. Without it, Nagle's algorithm meets delayed ACKs and every
    response after the first on a keep-alive connection waits ~40 ms.
    """
    sock = socket.socket(_family(host), socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.setblocking(False)
    return sock


# --- processes --------------------------------------------------------------------------------------------------


def _die_with_parent(parent: int) -> None:
    """A worker gets SIGTERM when the parent dies, even by SIGKILL (Linux ``PR_SET_PDEATHSIG``), so no
    worker outlives its supervisor holding the ports."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)
    if os.getppid() != parent:  # the parent died before the request took effect
        os.kill(os.getpid(), signal.SIGTERM)


def _worker_main(records: Any, level: str, target: Callable[..., None], args: tuple[Any, ...], parent: int) -> None:
    _die_with_parent(parent)
    configure_logging(level, forward_to=records)
    target(*args)


@contextlib.contextmanager
def _parent_logging(level: str) -> Iterator[Any]:
    """The parent's side of the one log stream: a process-safe queue and the thread writing it."""
    context = multiprocessing.get_context("spawn")
    records = context.Queue()
    stream = _stream_handler(WORKER_LOG_FORMAT)

    def write() -> None:
        while (batch := records.get()) is not None:
            stream.handle_lines(batch)

    writer = threading.Thread(target=write, name="protogw-log-writer", daemon=True)
    writer.start()
    try:
        yield records
    finally:
        records.put(None)
        writer.join(10)
        records.close()


def run_workers(count: int, target: Callable[..., None], args: tuple[Any, ...], *, log_level: str) -> int:
    """Run ``target(*args)`` in ``count`` worker processes until SIGTERM/SIGINT; the exit status.

    ``target`` and ``args`` must pickle (a module-level function and plain values): each worker builds
    its own server from them. Each worker must stop cleanly on SIGTERM.
    """
    context = multiprocessing.get_context("spawn")
    log = logging.getLogger("protogw.workers")
    stopping = threading.Event()
    failed = False
    with _parent_logging(log_level) as records:
        procs = [
            context.Process(
                target=_worker_main, args=(records, log_level, target, args, os.getpid()), name=f"worker-{i + 1}"
            )
            for i in range(count)
        ]

        def stop(signum: int, frame: object) -> None:
            stopping.set()
            for proc in procs:
                if proc.pid is not None and proc.exitcode is None:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(proc.pid, signal.SIGTERM)

        previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
        try:
            for proc in procs:
                proc.start()
            log.info("started %d workers (pids %s)", count, ", ".join(str(p.pid) for p in procs))
            remaining = list(procs)
            while remaining:
                multiprocessing.connection.wait([p.sentinel for p in remaining])
                for proc in [p for p in remaining if p.exitcode is not None]:
                    remaining.remove(proc)
                    if not stopping.is_set():
                        log.error(
                            "%s (pid %s) exited with status %s: stopping the others", proc.name, proc.pid, proc.exitcode
                        )
                        failed = True
                        stop(signal.SIGTERM, None)
                    elif proc.exitcode not in (0, -signal.SIGTERM):
                        failed = True
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            for proc in procs:
                if proc.pid is not None:
                    proc.join(30)
                    if proc.exitcode is None:
                        proc.kill()
                        proc.join()
        log.info("all workers stopped")
    return 1 if failed else 0
