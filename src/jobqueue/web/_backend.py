"""Where the dashboard gets its inspector: a broker of its own, started at the first request.

A mounted Starlette or FastAPI app does not run the lifespan of the apps it mounts, so the
dashboard cannot count on one: it starts its broker on first use (once, under a lock) and stops
it when the app that runs it stops (its own lifespan when it runs alone, or `Dashboard.aclose`).
A broker or inspector that the application passes in is used as it is, started and stopped by
the application.
"""

from __future__ import annotations

import asyncio

from pydantic import SecretStr

from jobqueue.redis import RedisJobBroker
from jobqueue.redis.inspector import Inspector
from jobqueue.settings import QueueSettings

__all__ = ["Backend", "Source"]

Source = QueueSettings | str | RedisJobBroker | Inspector | None
"""Settings, a Redis URL, a started broker or an inspector; `None`: `QUEUE_*` settings."""


class Backend:
    """The inspector the dashboard reads and acts through."""

    def __init__(self, source: Source) -> None:
        self._inspector: Inspector | None = None
        self._broker: RedisJobBroker | None = None  # ours to start and stop
        self._lock = asyncio.Lock()
        if isinstance(source, Inspector):
            self._inspector = source
        elif isinstance(source, RedisJobBroker):
            self._inspector = Inspector(source)
        else:
            if source is None:
                settings = QueueSettings.from_env()
            elif isinstance(source, str):
                settings = QueueSettings.from_env(url=SecretStr(source))
            else:
                settings = source
            self._broker = RedisJobBroker(settings)

    @property
    def settings(self) -> QueueSettings:
        """The settings of the broker the dashboard reads through."""
        if self._inspector is not None:
            return self._inspector.broker.settings
        assert self._broker is not None
        return self._broker.settings

    async def inspector(self) -> Inspector:
        """The inspector, starting the dashboard's own broker the first time."""
        if self._inspector is not None:
            return self._inspector
        async with self._lock:
            if self._inspector is None:
                assert self._broker is not None
                await self._broker.startup()
                self._inspector = Inspector(self._broker)
        return self._inspector

    async def aclose(self) -> None:
        """Stop the dashboard's own broker, if it started one (it starts again when needed)."""
        async with self._lock:
            if self._broker is not None and self._inspector is not None:
                self._inspector = None
                await self._broker.shutdown()
