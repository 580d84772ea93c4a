"""The database: an async SQLAlchemy engine as a resource, and the tables it creates at start.

The URL picks the driver: `sqlite+aiosqlite:///...` (the default) or `postgresql+asyncpg://...`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, func
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.schema import CreateTable

metadata = MetaData()

users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(200), nullable=False),
    Column("email", String(320), nullable=False, unique=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)


async def open_engine(url: str) -> AsyncIterator[AsyncEngine]:
    """A resource: an engine whose tables exist, disposed at the end.

    `IF NOT EXISTS` rather than `metadata.create_all`: the API and the worker both start with
    this, possibly at the same moment, and must not race on creating the same table.
    """
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            for table in metadata.sorted_tables:
                await conn.execute(CreateTable(table, if_not_exists=True))
        yield engine
    finally:
        await engine.dispose()
