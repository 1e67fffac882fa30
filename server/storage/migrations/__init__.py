"""Alembic migrations for the protogw schema.

``Store.start()`` applies them programmatically on every start, so a deployment never runs Alembic
by hand. To write a new revision, point an Alembic config's ``script_location`` at this folder and
pass the database with ``-x url=...`` (see ``env.py``).
"""

from __future__ import annotations

from pathlib import Path

#: The folder Alembic's ``script_location`` points at.
MIGRATIONS_DIR = Path(__file__).resolve().parent
