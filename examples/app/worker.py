"""The worker entry point, run with `taskiq worker examples.app.worker:make_broker`.

Add `--workers 1 --receiver jobqueue.receiver:JobReceiver`, as `run.py` does.

A factory, not a module-level broker: each worker process builds its own container and broker
from the environment (`QUEUE_URL`, `CACHE_URL`, `DATABASE_URL`, ...) and connects nothing at
import time. Tests pass a container with overridden providers and the memory driver.
"""

from __future__ import annotations

from examples.app.containers import Container
from examples.app.jobs.registry import registry
from jobqueue import JobBroker, create_broker
from jobqueue.di import attach_container


def make_broker(container: Container | None = None) -> JobBroker:
    """A broker running the app's jobs, with the container wired in each worker process."""
    container = container if container is not None else Container()
    broker = create_broker(container.core.settings(), registry=registry)
    # At worker start-up: wire the job modules' markers, map `Container.report_job` onto this
    # container, open the engine, cache and HTTP client; at shutdown, close them.
    attach_container(broker, container)
    return broker
