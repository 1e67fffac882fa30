"""Benchmark (not a test): ``protogw serve``'s REST port at this revision and at another, in one run.

    .venv/bin/python bench/serve_ab.py --against OTHER/.venv/bin/protogw [--rounds 3] [--seconds 4]

The other revision needs an installation of its own, e.g.
``git worktree add /tmp/old REV && make -C /tmp/old install`` (then ``--against /tmp/old/.venv/bin/protogw``).
Each round, for each target (GetMaster, GetExperiment, a 100-experiment page) and each side in turn (which goes first alternates by round):
a fresh ``serve`` process on the same seeded SQLite file, a one-second wrk warm-up, then wrk for
``--seconds`` (32 connections; 4 for the page) while the server's CPU time is read from /proc. It prints
req/s and server CPU per request for each, then per target the medians over the rounds of the
per-round ratios this/other: above 1 for req/s and below 1 for CPU mean this revision is faster.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
from pathlib import Path

from stack_bench import PROTOGW, TARGETS, Result, calls, login, seeded_database, start_serve, wait_http, wrk


def measure(executable: str, database: str, work: Path, target: str, seconds: int) -> Result:
    """One fresh ``serve`` from ``executable`` under wrk on ``target``; its req/s, latencies and CPU/request."""
    serve, _, port = start_serve("serve", database, work / "serve.log", executable=executable)
    try:
        wait_http(serve, f"http://127.0.0.1:{port}/api/v1/master")
        token = login(port)
        rest, _ = calls(token)
        headers = {"Authorization": f"Bearer {token}"}
        url = f"http://127.0.0.1:{port}{rest[target]}"
        connections = 4 if target == "Page100" else 32
        wrk(url, 1, connections, headers)  # warm-up
        before = serve.cpu_seconds()
        rps, p50, p99, total = wrk(url, seconds, connections, headers)
        return Result(rps, p50, p99, (serve.cpu_seconds() - before) / max(total, 1) * 1e6)
    finally:
        serve.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--against", help="the other installation's protogw executable")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=4)
    parser.add_argument("--targets", nargs="+", choices=TARGETS, default=list(TARGETS), help="default: all")
    args = parser.parse_args()
    if args.against is None:
        print("serve_ab skipped: it compares two installations; give --against OTHER/.venv/bin/protogw")
        return
    if not shutil.which("wrk"):
        print("serve_ab skipped: it needs wrk (apt-get install -y wrk)")
        return
    work = Path(tempfile.mkdtemp(prefix="protogw-ab-"))
    sides = {"this": PROTOGW, "other": args.against}
    results: dict[tuple[str, str], list[Result]] = {}
    try:
        database = seeded_database(work)
        for round_ in range(1, args.rounds + 1):
            print(f"round {round_}/{args.rounds}")
            for target in args.targets:
                # Which side goes first alternates, so neither always follows the other's load.
                for side, executable in sorted(sides.items(), reverse=round_ % 2 == 0):
                    result = measure(executable, database, work, target, args.seconds)
                    results.setdefault((target, side), []).append(result)
                    print(
                        f"  {target:<13} {side:<5} {result.rps:>9.0f} req/s  {result.cpu_us:>9.1f} us server CPU/request"
                    )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print()
    print(f"{'target':<13} {'req/s this/other':>17} {'CPU this/other':>15}  (medians of per-round ratios)")
    for target in args.targets:
        this, other = results[(target, "this")], results[(target, "other")]
        rps = statistics.median(a.rps / b.rps for a, b in zip(this, other, strict=True))
        cpu = statistics.median(a.cpu_us / b.cpu_us for a, b in zip(this, other, strict=True))
        print(f"{target:<13} {rps:>17.2f} {cpu:>15.2f}")


if __name__ == "__main__":
    main()
