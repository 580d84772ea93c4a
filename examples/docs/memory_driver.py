"""The memory driver: QUEUE_DRIVER=memory runs jobs in this process, without Redis or a worker.

python examples/docs/memory_driver.py
"""

from __future__ import annotations

import asyncio
import os

from jobqueue import JobRegistry, connect, fixed_schedule
from jobqueue.memory import MemoryJobBroker

jobs = JobRegistry()
attempts: list[str] = []


@jobs.job("cache:warm", retry_delay=fixed_schedule(0.05))
async def warm_cache(payload: dict[str, str]) -> None:
    attempts.append(payload["page"])
    if len(attempts) == 1:
        raise ConnectionError("backend not ready")


# --8<-- [start:memory]
async def main() -> None:
    os.environ["QUEUE_DRIVER"] = "memory"  # usually set in the environment of a dev or test run
    async with connect(registry=jobs) as queue:
        info = await queue.enqueue("cache:warm", {"page": "/pricing"})
        broker = queue.broker
        assert isinstance(broker, MemoryJobBroker)
        await broker.wait_idle(timeout=5, include_scheduled=True)  # retries included
        print(broker.stats())  # {'processed': 1, 'failed': 1, 'dead': 0}
        assert broker.job(info.id) is None  # completed jobs are deleted (completed_retention=0)
    assert attempts == ["/pricing", "/pricing"]


# --8<-- [end:memory]


if __name__ == "__main__":
    asyncio.run(main())
