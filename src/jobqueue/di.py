"""Dependency injection: `QueueContainer` for apps to compose, and `attach_container` for workers.

```python
class Container(containers.DeclarativeContainer):
    core = providers.Container(QueueContainer)
    users = providers.Factory(SqlUserRepository, engine=...)

@jobs.job("email:send")
async def send_email(
    payload: SendEmail,
    users: UserRepository = Provide[Container.users],
    http: httpx.AsyncClient = Provide[Container.core.http_client],
) -> None: ...

def make_broker() -> JobBroker:          # taskiq worker app.worker:make_broker
    broker = create_broker(registry=jobs)
    attach_container(broker, Container())
    return broker
```
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from types import ModuleType
from typing import Any

from dependency_injector import containers, providers
from taskiq import AsyncBroker, TaskiqEvents, TaskiqState

from jobqueue.broker import JobBroker
from jobqueue.cache import open_cache
from jobqueue.factory import create_broker
from jobqueue.http import open_http_client
from jobqueue.jobs import JobRegistry
from jobqueue.queue import JobQueue, Queue
from jobqueue.settings import CacheSettings, HttpSettings, QueueSettings

__all__ = ["QueueContainer", "attach_container", "open_queue"]


@asynccontextmanager
async def open_queue(
    settings: QueueSettings | None = None, registry: JobRegistry | None = None
) -> AsyncIterator[Queue]:
    """A resource: a connected `Queue`, closed at the end."""
    queue = JobQueue(create_broker(settings, registry=registry))
    await queue.start()
    try:
        yield queue
    finally:
        await queue.close()


class QueueContainer(containers.DeclarativeContainer):
    """Settings, the queue, the cache and the HTTP client; compose it into your own container.

    Settings come from the environment (`QUEUE_*`, `CACHE_*`, `HTTP_*`); override a settings
    provider to pass them in. `registry` lets the producer validate payloads of known job types.
    """

    settings = providers.Singleton(QueueSettings.from_env)
    cache_settings = providers.Singleton(CacheSettings.from_env)
    http_settings = providers.Singleton(HttpSettings.from_env)
    registry: providers.Provider[JobRegistry | None] = providers.Object(None)

    queue = providers.Resource(open_queue, settings=settings, registry=registry)
    cache = providers.Resource(open_cache, settings=cache_settings)
    http_transport: providers.Provider[Any] = providers.Object(None)
    http_client = providers.Resource(
        open_http_client, settings=http_settings, transport=http_transport
    )


def attach_container(
    broker: AsyncBroker,
    container: containers.Container,
    *,
    modules: Iterable[str | ModuleType] = (),
) -> None:
    """Make every worker process of `broker` wire `container` and run its resources.

    At worker start-up the container is wired to the modules of the broker's jobs (plus
    `modules`) and `init_resources()` runs; at shutdown `shutdown_resources()` runs. Each process
    does this itself, so `Provide[...]` markers resolve in workers started by `taskiq worker`.
    """
    extra = list(modules)

    async def startup(state: TaskiqState) -> None:
        names = set(_job_modules(broker))
        targets = [importlib.import_module(m) if isinstance(m, str) else m for m in extra]
        targets += [importlib.import_module(name) for name in sorted(names)]
        container.wire(modules=targets)
        _map_job_providers(broker, container)
        result = container.init_resources()
        if inspect.isawaitable(result):
            await result

    async def shutdown(state: TaskiqState) -> None:
        result = container.shutdown_resources()
        if inspect.isawaitable(result):
            await result
        container.unwire()

    broker.add_event_handler(TaskiqEvents.WORKER_STARTUP, startup)
    broker.add_event_handler(TaskiqEvents.WORKER_SHUTDOWN, shutdown)


def _map_job_providers(broker: AsyncBroker, container: containers.Container) -> None:
    """Run class-based jobs declared with `Container.x` through this container's own `x`."""
    if not isinstance(broker, JobBroker):
        return
    from dependency_injector.wiring import ProvidersMap

    mapping = ProvidersMap(container)
    for spec in broker.job_specs.values():
        if spec.provider is not None:
            mapped = mapping.resolve_provider(spec.provider)
            if mapped is not None:
                broker.job_providers[spec.job_type] = mapped


def _job_modules(broker: AsyncBroker) -> list[str]:
    if isinstance(broker, JobBroker):
        found = {
            inspect.unwrap(spec.func).__module__
            for spec in broker.job_specs.values()
            if spec.func is not None
        }
    else:
        found = {task.original_func.__module__ for task in broker.get_all_tasks().values()}
    return [m for m in found if m and not m.startswith("jobqueue.")]
