"""Web framework integrations: open the queue when the app starts, close it when it stops.

- `jobqueue.contrib.fastapi`: `queue_lifespan(...)` for `FastAPI(lifespan=...)`, and the
  `QueueDep` dependency for endpoints.
- `jobqueue.contrib.aiohttp`: `queue_context(...)` for `app.cleanup_ctx`, and the `QUEUE_KEY`
  app key.

Both build on `running_queue`, which any other framework can use in its own start-up hook. The
framework modules import their framework; this package imports neither.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, TypeAlias

from jobqueue.queue import JobQueue, Queue

if TYPE_CHECKING:
    from dependency_injector.containers import Container

__all__ = ["QueueSource", "running_queue"]

QueueSource: TypeAlias = Queue | Callable[[], Queue | Awaitable[Queue]]
"""A queue, or something that returns one when called (a factory, or a provider such as
`container.core.queue`, whose async resource is awaited)."""


@asynccontextmanager
async def running_queue(
    source: QueueSource, *, container: Container | None = None
) -> AsyncIterator[Queue]:
    """Initialise `container`'s resources, get the queue and start it; undo all of it at exit.

    Args:
        source: The queue, or a callable returning it (or an awaitable of it).
        container: A dependency-injector container whose resources (the queue's own resource
            among them, a database engine, ...) live as long as the app. Its resources are
            initialised before `source` is called, and shut down after the queue is closed.

    Yields:
        The started queue. It is closed on exit even when a container resource also closes it:
        closing a queue twice is harmless.
    """
    if container is not None:
        await _maybe_await(container.init_resources())
    try:
        queue = await _resolve(source)
        if isinstance(queue, JobQueue):
            await queue.start()  # fail at start-up, not on the first request, if Redis is down
        try:
            yield queue
        finally:
            await queue.close()
    finally:
        if container is not None:
            await _maybe_await(container.shutdown_resources())


async def _resolve(source: QueueSource) -> Queue:
    # A queue is never callable; a factory or a provider always is.
    if not callable(source):
        return source
    made = source()
    if inspect.isawaitable(made):
        made = await made
    if not isinstance(made, Queue):
        raise TypeError(f"{source!r} returned {made!r}, which is not a Queue")
    return made


async def _maybe_await(value: Awaitable[None] | None) -> None:
    if value is not None and inspect.isawaitable(value):
        await value
