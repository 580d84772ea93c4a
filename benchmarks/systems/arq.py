"""arq: jobs in a sorted set, polled by `arq <WorkerSettings>` (one process, asyncio)."""

from __future__ import annotations

from typing import Any

from arq import create_pool
from arq.connections import RedisSettings

from benchmarks.systems import _body

SETTINGS: dict[str, Any] = {
    "cli": "arq benchmarks.systems.arq.WorkerSettings",
    "max_jobs": 10,
    "poll_delay": "default 0.5 s (arq polls its queue; no blocking pop)",
    "keep_result": "default 3600 s (arq stores every result)",
    "log_level": "WARNING via --custom-log-dict (INFO logs 2 lines per job)",
}


async def noop(ctx: dict[str, Any], t: float) -> None:
    await _body.noop(t)


async def sleep(ctx: dict[str, Any], t: float) -> None:
    await _body.sleep(t)


class WorkerSettings:
    """The worker entry point: `arq benchmarks.systems.arq.WorkerSettings`."""

    functions = [noop, sleep]  # noqa: RUF012 - arq reads these class attributes
    redis_settings = RedisSettings.from_dsn(_body.queue_url())
    max_jobs = _body.concurrency()


# arq logs two INFO lines per job; in quiet runs its loggers stop at WARNING.
QUIET_LOG_CONFIG: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"stderr": {"class": "logging.StreamHandler", "level": "WARNING"}},
    "loggers": {"arq": {"handlers": ["stderr"], "level": "WARNING"}},
}


def worker_command() -> tuple[list[str], dict[str, str]]:
    quiet = _body.log_args("--custom-log-dict", f"{__name__}.QUIET_LOG_CONFIG")
    return ["-m", "arq", f"{__name__}.WorkerSettings", *quiet], {}


class Producer:
    def __init__(self, pool: Any) -> None:
        self.pool = pool

    async def enqueue(self, body: str, t: float) -> None:
        await self.pool.enqueue_job(body, t)

    async def close(self) -> None:
        await self.pool.aclose()


async def open_producer() -> Producer:
    return Producer(await create_pool(RedisSettings.from_dsn(_body.queue_url())))
