"""The PostgreSQL fixture itself: a real server that accepts connections on both drivers' URL."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine


@pytest.mark.parametrize("query", ["SELECT 1", "SELECT 2 - 1"])
async def test_database_url_accepts_queries(database_url: str, query: str) -> None:
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as conn:
            value = (await conn.execute(text(query))).scalar_one()
        assert value == 1
    finally:
        await engine.dispose()
