"""The Dockerfile, read as the image it builds: its instructions, the files it copies, its ENV."""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Image:
    copies: list[tuple[list[str], str]] = field(default_factory=list)  # (sources, destination)
    env: dict[str, str] = field(default_factory=dict)
    entrypoint: list[str] = field(default_factory=list)
    cmd: list[str] = field(default_factory=list)
    workdir: str = "/"
    exposed: list[int] = field(default_factory=list)

    def copied_top_level(self) -> set[str]:
        """The repository's top-level names the image holds (its build context as copied)."""
        return {Path(source).parts[0] for sources, _ in self.copies for source in sources}


def read(path: Path = ROOT / "Dockerfile") -> Image:
    image = Image()
    lines: list[str] = []
    for raw in path.read_text().splitlines():
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if lines and lines[-1].endswith("\\"):
            lines[-1] = lines[-1][:-1] + " " + stripped
        else:
            lines.append(stripped)
    for line in lines:
        keyword, _, rest = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "COPY":
            *sources, dest = shlex.split(rest)
            image.copies.append((sources, dest))
        elif keyword == "ENV":
            for pair in shlex.split(rest):
                name, _, value = pair.partition("=")
                image.env[name] = value
        elif keyword in ("ENTRYPOINT", "CMD"):
            words = json.loads(rest)  # exec form only: a shell form would hide signals from protogw
            assert isinstance(words, list), line
            setattr(image, keyword.lower(), words)
        elif keyword == "WORKDIR":
            image.workdir = rest
        elif keyword == "EXPOSE":
            image.exposed.extend(int(port) for port in rest.split())
    return image
