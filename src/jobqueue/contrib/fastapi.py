"""FastAPI integration: the queue opens with the app's lifespan and reaches endpoints by `Depends`.

```python
from jobqueue.contrib.fastapi import QueueDep, queue_lifespan

app = FastAPI(lifespan=queue_lifespan(lambda: connect(registry=jobs)))

@app.post("/signup")
async def signup(body: SignUp, queue: QueueDep) -> dict[str, str]:
    info = await queue.enqueue(SEND_EMAIL, SendEmail(to=body.email))
    return {"job_id": info.id}
```

With dependency-injector, pass the provider and the container whose resources should live as long
as the app: `queue_lifespan(container.core.queue, container=container)`. In tests, either
override the provider (`container.core.queue.override(providers.Object(RecordingQueue()))`) or
the dependency (`app.dependency_overrides[get_queue] = lambda: recording`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, FastAPI
from starlette.requests import HTTPConnection

from jobqueue.contrib import QueueSource, running_queue
from jobqueue.queue import Queue

if TYPE_CHECKING:
    from dependency_injector.containers import Container

__all__ = ["QueueDep", "get_queue", "queue_lifespan"]


def queue_lifespan(
    source: QueueSource, *, container: Container | None = None
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """A lifespan that opens the queue (and `container`'s resources) and puts it on `app.state`.

    Args:
        source: The queue, or a callable returning it (a factory, or a provider).
        container: A dependency-injector container whose resources start before the queue is
            taken and shut down after it is closed.

    Returns:
        A function for `FastAPI(lifespan=...)`; it stores the queue as `app.state.queue`.
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with running_queue(source, container=container) as queue:
            app.state.queue = queue
            try:
                yield
            finally:
                del app.state.queue  # a request after shutdown fails loudly, not on a closed queue

    return lifespan


def get_queue(connection: HTTPConnection) -> Queue:
    """The app's queue, for `Depends` (works in HTTP and WebSocket endpoints).

    Raises:
        RuntimeError: The app was not started with `queue_lifespan`.
    """
    queue: Queue | None = getattr(connection.app.state, "queue", None)
    if queue is None:
        raise RuntimeError(
            "no queue on app.state: create the app with lifespan=queue_lifespan(...)"
        )
    return queue


QueueDep = Annotated[Queue, Depends(get_queue)]
"""An endpoint parameter `queue: QueueDep` receives the app's queue."""
