"""The README's walk-through, run exactly as written against a live ``protogw serve``."""

from __future__ import annotations

import ast
import asyncio
import os
import re
from pathlib import Path

from tests.support.serve import serve

ROOT = Path(__file__).resolve().parents[2]
BLOCK = re.compile(r"<!-- walkthrough:start -->\s*```sh\n(.*?)```\s*<!-- walkthrough:end -->", re.S)

# Lines the walk-through must print, in order.
EXPECTED = [
    "added 6 walk-through experiments",
    "'startIndex': 0",
    "[1]",
    "{}",
    '{"code":9,"message":"Experiment is not archived.","details":[],'
    '"error":{"code":9,"reason":"FailedPrecondition","error":"Experiment is not archived."}}',
]


def walkthrough() -> str:
    match = BLOCK.search((ROOT / "README.md").read_text())
    assert match, "README.md has no walk-through block"
    return match.group(1)


async def test_readme_walkthrough(database_url: str) -> None:
    script = walkthrough()
    async with serve(database_url) as served:
        proc = await asyncio.create_subprocess_exec(
            "bash", "-euo", "pipefail", "-c", script,
            cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
            env={**os.environ, "API": served.http_url, "PROTOGW_DATABASE": database_url},
        )  # fmt: skip
        out, _ = await asyncio.wait_for(proc.communicate(), 120)
    text = out.decode()
    assert proc.returncode == 0, text
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    positions = [next((i for i, line in enumerate(lines) if want in line), -1) for want in EXPECTED]
    assert -1 not in positions, text
    assert positions == sorted(positions), text
    pagination = ast.literal_eval(lines[positions[1]])
    assert pagination == {"offset": 0, "limit": 1, "startIndex": 0, "endIndex": 1, "total": 1}
