"""The worker entry point: `taskiq worker examples.app.worker:make_broker --workers 1`.

A factory, not a module-level broker: each worker process builds its own container and broker
from the environment (`QUEUE_URL`, `CACHE_URL`, `DATABASE_URL`, ...) and connects nothing at
import time.
"""

from __future__ import annotations

from examples.app.containers import Container
from examples.app.jobs.registry import build_registry
from jobqueue import JobBroker, create_broker
from jobqueue.di import attach_container


def make_broker() -> JobBroker:
    """A broker running the app's jobs, with the container wired in each worker process."""
    container = Container()
    broker = create_broker(container.core.settings(), registry=build_registry(container))
    # At worker start-up: wire the job modules' markers, open the engine, cache and HTTP client.
    attach_container(broker, container)
    return broker
