"""The log writer's formatter renders the date once per second; its lines must equal the stdlib's."""

from __future__ import annotations

import logging

import pytest

from protogw.gateway.workers import LOG_FORMAT, WORKER_LOG_FORMAT, _Formatter

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
