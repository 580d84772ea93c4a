"""Users: the `UserRepository` that the API and the jobs depend on, and its SQL implementation."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from pydantic import BaseModel
from sqlalchemy import insert, select
from sqlalchemy.engine import RowMapping
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from examples.app.db import users


class User(BaseModel):
    """A registered user."""

    id: int
    name: str
    email: str
    created_at: datetime


class EmailTakenError(Exception):
    """Another user already has this email address."""


class UserRepository(Protocol):
    """What the API and the jobs need from user storage (tests pass a fake)."""

    async def create(self, name: str, email: str) -> User:
        """Store a new user; `EmailTakenError` if the address is taken."""
        ...

    async def get(self, user_id: int) -> User | None:
        """The user with this id, or `None`."""
        ...

    async def get_all(self) -> list[User]:
        """All users, oldest first."""
        ...


class SqlUserRepository:
    """A `UserRepository` on an async SQLAlchemy engine (SQLite or PostgreSQL)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def create(self, name: str, email: str) -> User:
        """Store a new user; `EmailTakenError` if the address is taken."""
        try:
            async with self.engine.begin() as conn:
                result = await conn.execute(
                    insert(users).values(name=name, email=email).returning(*users.c)
                )
                return _user(result.mappings().one())
        except IntegrityError as exc:
            raise EmailTakenError(f"{email} is already registered") from exc

    async def get(self, user_id: int) -> User | None:
        """The user with this id, or `None`."""
        async with self.engine.connect() as conn:
            result = await conn.execute(select(users).where(users.c.id == user_id))
            row = result.mappings().one_or_none()
        return None if row is None else _user(row)

    async def get_all(self) -> list[User]:
        """All users, oldest first."""
        async with self.engine.connect() as conn:
            result = await conn.execute(select(users).order_by(users.c.id))
            return [_user(row) for row in result.mappings()]


def _user(row: RowMapping) -> User:
    return User.model_validate(dict(row))
