"""``settle_heap``: a serving process freezes its start-up heap and raises the collector's thresholds,
and the collector still finds the cycles serving makes. Run in a fresh interpreter: it changes the
process's collector for good."""

from __future__ import annotations

import subprocess
import sys

SCRIPT = """
import gc
from protogw.gateway.workers import GC_THRESHOLDS, settle_heap

class Node:
    pass

def cycle():
    a, b = Node(), Node()
    a.other, b.other = b, a

start_up = [cycle() or Node() for _ in range(1000)]  # long-lived objects built before serving
settle_heap()
assert gc.get_freeze_count() > 1000, gc.get_freeze_count()
assert gc.get_threshold() == GC_THRESHOLDS, gc.get_threshold()
gc.collect()
for _ in range(10):
    cycle()  # garbage made while serving
found = gc.collect()
assert found >= 20, found
print("ok")
"""


def test_settle_heap_freezes_start_up_and_still_collects_later_cycles() -> None:
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
