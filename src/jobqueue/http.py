"""The shared `httpx.AsyncClient` as a resource, with timeouts and pool limits from `HTTP_*`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx

from jobqueue.settings import HttpSettings

__all__ = ["open_http_client"]


@asynccontextmanager
async def open_http_client(
    settings: HttpSettings | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> AsyncIterator[httpx.AsyncClient]:
    """A resource: one pooled client for the process, closed at the end.

    Tests pass `transport=httpx.MockTransport(handler)` (or override the provider) so that no
    request leaves the process.
    """
    settings = settings if settings is not None else HttpSettings.from_env()
    timeout = httpx.Timeout(
        settings.timeout, connect=settings.connect_timeout, pool=settings.timeout
    )
    limits = httpx.Limits(
        max_connections=settings.max_connections,
        max_keepalive_connections=settings.max_keepalive_connections,
    )
    async with httpx.AsyncClient(timeout=timeout, limits=limits, transport=transport) as client:
        yield client
