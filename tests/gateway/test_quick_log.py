"""``quick_log``: the access log's line costs the event loop a queued tuple when logging goes through the
writer thread alone, and every handler still gets the record ``logger.log`` would have made; anything
else attached on the way (a handler, a filter, stopped propagation, logging set up by someone else)
takes the ordinary path. Each case runs in a fresh interpreter: logging's set-up is process-wide."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

SCRIPT = r"""
import json, logging, sys, time
from protogw.gateway import workers

case = sys.argv[1]
access = logging.getLogger("protogw.server.access")
seen = []

class Keep(logging.Handler):
    def emit(self, record):
        seen.append({"name": record.name, "level": record.levelno, "message": record.getMessage(),
                     "created": record.created, "msecs": record.msecs})

if case == "not set up by us":
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
else:
    workers.configure_logging("info")
if case == "handler on the way":
    logging.getLogger("protogw.server").addHandler(Keep())
if case == "filter on the logger":
    access.addFilter(lambda record: False)
if case == "propagation stopped":
    access.propagate = False
    access.addHandler(Keep())
if case == "handed-over handler":
    keep = Keep()
    logging.getLogger().addHandler(keep)
    assert workers.hand_over(keep)
quick = workers._queue_handler is not None and workers._only_the_queue(access, workers._queue_handler)
before = time.time()
workers.quick_log(access, logging.INFO, "%s %s %.1fms user=%s request_id=%s", ("/pkg.S/M", "OK", 1.25, "-", "r1"))
after = time.time()
workers.flush_logging()
print(json.dumps({"quick": quick, "seen": seen, "before": before, "after": after}))
"""

LINE = "INFO protogw.server.access: /pkg.S/M OK 1.2ms user=- request_id=r1"

# (case, queued as a tuple, the line on stderr, records a handler of the case's own gets)
CASES = [
    ("the writer thread alone", True, True, 0),
    ("handed-over handler", True, True, 1),
    ("handler on the way", False, True, 1),
    ("filter on the logger", False, False, 0),
    ("propagation stopped", False, False, 1),
    ("not set up by us", False, True, 0),
]


@pytest.mark.parametrize(("case", "quick", "on_stderr", "kept"), CASES, ids=[c[0] for c in CASES])
def test_quick_log(case: str, quick: bool, on_stderr: bool, kept: int) -> None:
    done = subprocess.run([sys.executable, "-c", SCRIPT, case], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["quick"] is quick
    assert (LINE in done.stderr) is on_stderr, done.stderr
    assert len(result["seen"]) == kept
    for record in result["seen"]:
        assert (record["name"], record["level"]) == ("protogw.server.access", 20)
        assert record["message"] == LINE.partition(": ")[2]
        # The time is when the line was logged, not when the writer thread got to it.
        assert result["before"] <= record["created"] <= result["after"]
        assert record["msecs"] == int((record["created"] % 1) * 1000)
    if on_stderr and case != "not set up by us":
        stamp = done.stderr.split(LINE)[0].strip().splitlines()[-1]
        logged = time.strptime(stamp.split(",")[0], "%Y-%m-%d %H:%M:%S")
        assert abs(time.mktime(logged) - result["before"]) < 2
