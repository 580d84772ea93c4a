"""The inspector's view of periodic schedules: what `RedisScheduleSource` stores, with next runs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from taskiq import ScheduledTask

from jobqueue.redis._cron import next_cron, next_interval
from jobqueue.redis._inspect_base import InspectorBase, at, once_more
from jobqueue.redis._keys import schedule_runs
from jobqueue.redis._views import ScheduleInfo

__all__ = ["SchedulesPart"]


class SchedulesPart(InspectorBase):
    """Schedules."""

    async def schedules(self) -> list[ScheduleInfo]:
        """The cron and interval schedules, with their next run and their last enqueue, by id.

        One-off schedules are delayed jobs: they are listed with the queue's scheduled jobs.
        """
        prefix = self.broker.settings.key_prefix

        async def read() -> list[Any]:
            async with self.broker.client.pipeline(transaction=False) as pipe:
                pipe.hgetall(f"{prefix}:schedules")
                pipe.hgetall(schedule_runs(prefix))
                pipe.time()
                return list(await pipe.execute())

        stored, runs, (seconds, micros) = await once_more(read)
        now = datetime.fromtimestamp(int(seconds) + int(micros) / 1e6, UTC)
        out = []
        for raw in stored.values():
            try:
                task = ScheduledTask.model_validate_json(raw)
            except ValueError:
                continue  # not one of ours: nothing to show
            out.append(_schedule(task, _run(runs.get(task.schedule_id.encode())), now))
        return sorted(out, key=lambda s: s.id)


def _run(raw: bytes | None) -> dict[str, Any]:
    if not raw:
        return {}
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


def _schedule(task: ScheduledTask, run: dict[str, Any], now: datetime) -> ScheduleInfo:
    last = at(int(run["at"]) / 1000) if run.get("at") else None
    interval: float | None = None
    if task.interval is not None:
        value = task.interval
        interval = value.total_seconds() if isinstance(value, timedelta) else float(value)
    next_run = None
    if task.cron is not None:
        next_run = next_cron(task.cron, task.cron_offset, now)
    elif interval is not None:
        next_run = next_interval(interval, now, last)
    offset = task.cron_offset
    queue = task.labels.get("queue")
    return ScheduleInfo(
        id=task.schedule_id,
        job_type=task.task_name,
        queue=str(queue) if queue else None,
        cron=task.cron,
        cron_offset=str(offset) if offset is not None else None,
        interval=interval,
        labels=dict(task.labels),
        args=list(task.args),
        kwargs=dict(task.kwargs),
        next_run=next_run,
        last_enqueued_at=last,
        last_job_id=str(run["job_id"]) if run.get("job_id") else None,
    )
