"""Type-checked (not run) by `mypy --strict`: operator code on the inspector, metrics, tracing.

Lines marked `# type: ignore[...]` MUST be errors; mypy's `warn_unused_ignores` (part of
`--strict`) fails the check if one of them stops being an error.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from jobqueue import JobState, QueueSettings
from jobqueue.metrics import RedisCollector
from jobqueue.redis import RedisJobBroker
from jobqueue.redis.inspector import (
    ActionResult,
    ErrorGroup,
    Inspector,
    JobDetail,
    JobPage,
    QueueInfo,
    WorkerInfo,
    as_json,
)
from jobqueue.tracing import TracingMiddleware


async def operate(settings: QueueSettings) -> None:
    broker = RedisJobBroker(settings)
    broker.add_middlewares(TracingMiddleware())
    await broker.startup()
    inspector = Inspector(broker)
    queues: list[QueueInfo] = await inspector.queue_info(memory=False)
    latency: float = queues[0].latency
    page: JobPage = await inspector.list_jobs("default", JobState.DEAD, job_type="email:send")
    detail: JobDetail | None = await inspector.job_detail(page.jobs[0].id)
    groups: list[ErrorGroup] = await inspector.error_groups("default")
    result: ActionResult = await inspector.run_group("default", groups[0].id)
    done: int = result.done
    workers: list[WorkerInfo] = await inspector.workers()
    document: object = as_json([queues, page, detail, workers])
    await inspector.act("kill", "default", state="pending", progress=lambda n, total: None)
    await inspector.act("run", "default", progress="no")  # type: ignore[arg-type]
    registry = CollectorRegistry()
    registry.register(RedisCollector(settings))
    print(latency, done, document)
