"""`RedisScheduleSource`: delayed jobs and cron-style periodic jobs as a Taskiq `ScheduleSource`.

- A one-off schedule (`ScheduledTask.time`, or `kicker.schedule_by_time(source, when)`) becomes a
  job in the queue's `scheduled` set at once; the workers forward it when it is due, so it needs no
  `taskiq scheduler` process and fires within milliseconds of its time.
- Cron and interval schedules are stored in Redis (`<prefix>:schedules`, JSON) and fired by
  `taskiq scheduler module:scheduler`. Any number of scheduler processes may run: `pre_send` takes
  a per-tick lock (`SET NX`), so each tick fires once. The winner's job gets an id of the
  source's own, and `post_send` records the tick's time and job id (`<prefix>:schedule-runs`),
  which `Inspector.schedules()` shows as the schedule's last enqueue.
"""

from __future__ import annotations

import math
import time
from datetime import timedelta
from typing import TYPE_CHECKING

import orjson
from taskiq import ScheduledTask, ScheduleSource, TaskiqMessage
from taskiq.exceptions import ScheduledTaskCancelledError

from jobqueue._ids import new_id
from jobqueue._labels import Label
from jobqueue._resolve import resolve_taskiq
from jobqueue.errors import JobQueueError
from jobqueue.redis._keys import schedule_runs

if TYPE_CHECKING:
    from jobqueue.redis._broker import RedisJobBroker

__all__ = ["RedisScheduleSource"]

_TICK_LOCK_TTL = 24 * 3600


class RedisScheduleSource(ScheduleSource):
    """A schedule source backed by jobqueue's Redis layout.

    Args:
        broker: The broker whose queues the schedules feed; started here if it is not yet.
    """

    def __init__(self, broker: RedisJobBroker) -> None:
        self.broker = broker
        prefix = broker.settings.key_prefix
        self.schedules_key = f"{prefix}:schedules"
        self.tick_prefix = f"{prefix}:schedule-tick:"
        self.runs_key = schedule_runs(prefix)
        self._given_ids: set[str] = set()
        self._started_broker = False

    async def startup(self) -> None:
        """Connect through the broker."""
        if not self.broker.connected:
            await self.broker.startup()
            self._started_broker = True

    async def shutdown(self) -> None:
        """Disconnect if this source connected."""
        if self._started_broker:
            await self.broker.shutdown()
            self._started_broker = False

    async def get_schedules(self) -> list[ScheduledTask]:
        """The stored cron and interval schedules (one-off ones live in the queues)."""
        raw = await self.broker.client.hgetall(self.schedules_key)
        return [ScheduledTask.model_validate_json(value) for value in raw.values()]

    async def add_schedule(self, schedule: ScheduledTask) -> None:
        """Store a periodic schedule, or enqueue a one-off one as a scheduled job."""
        if schedule.cron is None and schedule.interval is None and schedule.time is not None:
            await self._enqueue_at(schedule)
            return
        await self.broker.client.hset(
            self.schedules_key, schedule.schedule_id, schedule.model_dump_json()
        )

    async def delete_schedule(self, schedule_id: str) -> None:
        """Remove a periodic schedule (a one-off one is a job: delete it as a job)."""
        await self.broker.client.hdel(self.schedules_key, schedule_id)
        await self.broker.client.hdel(self.runs_key, schedule_id)

    async def pre_send(self, task: ScheduledTask) -> None:
        """Let only the first scheduler process fire a given tick of a periodic schedule."""
        if task.cron is None and task.interval is None:
            return
        period = 60.0
        if task.interval is not None:
            interval = task.interval
            period = interval.total_seconds() if isinstance(interval, timedelta) else interval
        tick = math.floor(time.time() / period)
        won = await self.broker.client.set(
            f"{self.tick_prefix}{task.schedule_id}:{tick}", "1", nx=True, ex=_TICK_LOCK_TTL
        )
        if not won:
            raise ScheduledTaskCancelledError
        if task.task_id is None or task.schedule_id in self._given_ids:
            # An id of our own for this tick, so that post_send can record which job it was.
            task.task_id = new_id()
            self._given_ids.add(task.schedule_id)

    async def post_send(self, task: ScheduledTask) -> None:
        """Record the tick's enqueue (time and job id), for `Inspector.schedules()`."""
        if task.cron is None and task.interval is None:
            return
        run = {"at": int(time.time() * 1000), "job_id": task.task_id}
        await self.broker.client.hset(self.runs_key, task.schedule_id, orjson.dumps(run))
        if task.schedule_id in self._given_ids:
            task.task_id = None
            self._given_ids.discard(task.schedule_id)

    async def _enqueue_at(self, schedule: ScheduledTask) -> None:
        assert schedule.time is not None
        message = TaskiqMessage(
            task_id=schedule.task_id or schedule.schedule_id,
            task_name=schedule.task_name,
            labels={**schedule.labels, Label.PROCESS_AT: schedule.time.timestamp()},
            labels_types={},
            args=schedule.args,
            kwargs=schedule.kwargs,
        )
        settings = self.broker.settings
        submission = resolve_taskiq(
            message,
            specs=self.broker.job_specs.get,
            queues=settings.queues,
            default_queue=settings.default_queue,
        )
        (result,) = await self.broker.submit([submission])
        if isinstance(result, JobQueueError):
            raise result
