"""aiohttp integration: the queue opens in a cleanup context and is stored under `QUEUE_KEY`.

```python
from jobqueue.contrib.aiohttp import QUEUE_KEY, queue_context

app = web.Application()
app.cleanup_ctx.append(queue_context(lambda: connect(registry=jobs)))

async def signup(request: web.Request) -> web.Response:
    info = await request.app[QUEUE_KEY].enqueue(SEND_EMAIL, SendEmail(to="ada@example.com"))
    return web.json_response({"job_id": info.id})
```

With dependency-injector: `queue_context(container.core.queue, container=container)`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING

from aiohttp import web

from jobqueue.contrib import QueueSource, running_queue
from jobqueue.queue import Queue

if TYPE_CHECKING:
    from dependency_injector.containers import Container

__all__ = ["QUEUE_KEY", "queue_context"]

QUEUE_KEY = web.AppKey("jobqueue.queue", Queue)
"""Where the app's queue is stored: `request.app[QUEUE_KEY]` is typed as `Queue`."""


def queue_context(
    source: QueueSource, *, container: Container | None = None
) -> Callable[[web.Application], AsyncIterator[None]]:
    """A cleanup context that opens the queue (and `container`'s resources) for the app's life.

    Args:
        source: The queue, or a callable returning it (a factory, or a provider).
        container: A dependency-injector container whose resources start before the queue is
            taken and shut down after it is closed.

    Returns:
        A function for `app.cleanup_ctx.append(...)`; it stores the queue under `QUEUE_KEY`.
    """

    async def context(app: web.Application) -> AsyncIterator[None]:
        async with running_queue(source, container=container) as queue:
            app[QUEUE_KEY] = queue
            yield

    return context
