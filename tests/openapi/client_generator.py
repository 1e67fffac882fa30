"""openapi-python-client, the most used Python client generator, in an environment of its own.

openapi-python-client pins typer<0.28 and protogw needs typer 0.29, so the generator gets its own
environment (``.venv-openapi-client``, like Determined's client in ``.venv-determined``), made on first
use from the package index or pip's cache. The ``client_generator`` fixture (conftest.py) hands it to
the tests that generate clients from the 3.1 documents.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
GENERATOR_ENV = ROOT / ".venv-openapi-client"
GENERATOR_REQUIREMENTS = ["openapi-python-client~=0.29.1", "python-dateutil~=2.9"]


@dataclass(frozen=True)
class ClientGenerator:
    """The generator; ``python`` runs the generated code (httpx, attrs and python-dateutil are there)."""

    python: Path

    def generate(self, document: Path, package: Path) -> str:
        """Generate the client package ``package`` (its folder name is the import name) from
        ``document`` and return the generator's output. Fails if the generator fails or drops a
        schema (it only warns about that); a skipped operation is for the caller to judge."""
        bin_dir = GENERATOR_ENV / "bin"
        env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}
        result = subprocess.run(
            [
                str(bin_dir / "openapi-python-client"),
                "generate",
                "--path",
                str(document),
                "--output-path",
                str(package),
                "--meta",
                "none",
            ],
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
        output = result.stdout + result.stderr
        assert result.returncode == 0, output
        assert "Unable to process schema" not in output, output
        return output


def client_generator() -> ClientGenerator:
    """The generator, installed into ``.venv-openapi-client`` if it is not there yet."""
    python = GENERATOR_ENV / "bin" / "python"
    if not (GENERATOR_ENV / "bin" / "openapi-python-client").exists():
        subprocess.run([sys.executable, "-m", "venv", str(GENERATOR_ENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", *GENERATOR_REQUIREMENTS], check=True)
    return ClientGenerator(python)
