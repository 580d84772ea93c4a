"""The worker entry point: `taskiq worker examples.quickstart.worker:make_broker`.

A factory, not a module-level broker: every worker process builds its own from the environment
(`QUEUE_URL`, `QUEUE_CONCURRENCY`, ...), and nothing connects at import time.
"""

from __future__ import annotations

from examples.quickstart.jobs import registry
from jobqueue import JobBroker, create_broker


def make_broker() -> JobBroker:
    return create_broker(registry=registry)
