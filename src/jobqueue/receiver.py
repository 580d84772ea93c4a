"""`JobReceiver`: runs a jobqueue broker's jobs with a fraction of Taskiq's per-job overhead.

Run a worker with it: `taskiq worker app.worker:broker --receiver jobqueue.receiver:JobReceiver`.

Taskiq's own `Receiver` works with any broker, so for each message it starts two helper tasks
(one to wait for the next message, one to wait for a concurrency slot), races each against the
shutdown event, builds a `TaskiqResult` model and hands the result to the result backend. A
jobqueue broker already limits how many jobs it hands out, holds them until they are
acknowledged and records the outcome itself, so this receiver reads its deliveries directly and
runs each in one task. What a job sees is the same: the same middleware hooks in the same order
(`pre_execute`, `on_error`, `post_execute`, `post_save`), the `timeout` label, Taskiq
dependencies, a configured result backend, `--max-async-tasks` and `--max-tasks-per-child`.

A job this receiver does not run itself (a task that is not a jobqueue job, one with Taskiq
dependencies, an `ack_type` other than after the run) goes through Taskiq's code path unchanged,
and a broker that is not a jobqueue broker gets Taskiq's receiver as a whole. The broker reads
every stored record itself, so a record that cannot be read never reaches either path.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import time
from typing import Any

from taskiq import AsyncBroker, TaskiqMessage, TaskiqMiddleware, TaskiqResult
from taskiq.exceptions import NoResultError
from taskiq.receiver import Receiver
from taskiq.result_backends.dummy import DummyResultBackend
from taskiq.utils import maybe_awaitable

from jobqueue._attempt import Delivery
from jobqueue._labels import Label
from jobqueue._middleware import LifecycleMiddleware, LoggingMiddleware
from jobqueue._result_backend import JobResultBackend
from jobqueue.broker import JobBroker

__all__ = ["JobReceiver"]

logger = logging.getLogger("taskiq.receiver.receiver")  # where Taskiq's receiver logs

_RUN_THEN_ACK = frozenset({None, "when_saved", "when_executed"})


class JobReceiver(Receiver):
    """A Taskiq `Receiver` for jobqueue brokers (`--receiver jobqueue.receiver:JobReceiver`).

    Takes the same arguments as Taskiq's `Receiver`. `--max-async-tasks` can only lower the
    broker's `concurrency`, which is what limits the jobs a worker runs at once.
    """

    def __init__(self, broker: AsyncBroker, *args: Any, **kwargs: Any) -> None:
        super().__init__(broker, *args, **kwargs)
        given = inspect.signature(Receiver.__init__).bind(self, broker, *args, **kwargs)
        self.max_async_tasks: int | None = given.arguments.get("max_async_tasks")
        self._fast_tasks: dict[str, Any] = {}

    async def listen(self, finish_event: asyncio.Event) -> None:
        """Run jobs until `finish_event` is set, then wait for the running ones."""
        broker = self.broker
        if not isinstance(broker, JobBroker):
            await super().listen(finish_event)
            return
        if self.run_startup:
            await broker.startup()
        logger.info("Listening started.")
        running: set[asyncio.Task[None]] = set()
        limit = None
        if self.max_async_tasks and self.max_async_tasks < broker.settings.concurrency:
            limit = asyncio.Semaphore(self.max_async_tasks)
        pump = asyncio.create_task(self._pump(broker, running, limit), name="jobqueue-receiver")
        stop = asyncio.create_task(finish_event.wait())
        try:
            await asyncio.wait({pump, stop}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop.cancel()
            pump.cancel()  # closes the broker's stream: fetching stops, the drain begins
            await asyncio.wait({pump})
            if running:
                logger.info("Waiting for %d running tasks to complete...", len(running))
                await asyncio.wait(running, timeout=self.wait_tasks_timeout)
        if not pump.cancelled() and pump.exception() is not None:
            raise pump.exception()  # type: ignore[misc]
        if self.on_exit is not None:
            self.on_exit(self)

    async def _pump(
        self, broker: JobBroker, running: set[asyncio.Task[None]], limit: asyncio.Semaphore | None
    ) -> None:
        started = 0
        most = self.max_tasks_to_execute
        loop = asyncio.get_running_loop()
        async with contextlib.aclosing(broker.stream()) as deliveries:
            async for delivery in deliveries:
                if limit is not None:
                    await limit.acquire()
                task = loop.create_task(self._run(broker, delivery, limit))
                running.add(task)
                task.add_done_callback(running.discard)
                started += 1
                if most and started >= most:
                    logger.info("Max number of tasks executed.")
                    return

    async def _run(
        self, broker: JobBroker, delivery: Delivery, limit: asyncio.Semaphore | None
    ) -> None:
        try:
            message = delivery.message
            target = self._target(broker, message) if message is not None else None
            if message is None or target is None:
                await self.callback(broker.ackable(delivery))
            else:
                await self._execute(broker, delivery, message, target)
        finally:
            if limit is not None:
                limit.release()

    def _target(self, broker: JobBroker, message: TaskiqMessage) -> Any:
        """The job's function, when it is a jobqueue job that this receiver can run itself."""
        name = message.task_name
        if message.labels.get(Label.ACK_TYPE, self.ack_time.value) not in _RUN_THEN_ACK:
            return None
        if name in self._fast_tasks:
            return self._fast_tasks[name]
        target = None
        task = broker.find_task(name)
        if task is not None and name in broker.job_specs:
            if name not in self.known_tasks:
                self._prepare_task(name, task.original_func)
            if self.dependency_graphs[name].is_empty():  # Taskiq dependencies take its path
                target = task.original_func
        self._fast_tasks[name] = target
        return target

    async def _execute(
        self, broker: JobBroker, delivery: Delivery, message: TaskiqMessage, target: Any
    ) -> None:
        """What Taskiq's `callback` and `run_task` do, without the work nobody uses."""
        broker.attempts.started(delivery, message)  # what LifecycleMiddleware does on Taskiq's path
        for middleware in _hooks(broker):
            if type(middleware).pre_execute is not TaskiqMiddleware.pre_execute:
                message = await maybe_awaitable(middleware.pre_execute(message))
        logger.debug("Executing task %s with ID: %s", message.task_name, message.task_id)
        returned = None
        error: BaseException | None = None
        timeout = message.labels.get("timeout")
        start = time.time()
        try:
            if timeout is None:
                returned = await target(*message.args, **message.kwargs)
            else:
                async with asyncio.timeout(float(timeout)):
                    returned = await target(*message.args, **message.kwargs)
        except NoResultError as exc:
            error = exc
            logger.warning(
                "Task %s with id %s skipped setting result.", message.task_name, message.task_id
            )
        except BaseException as exc:  # as Taskiq: a stopped job is acknowledged too
            error = exc
            if not delivery.cancel_requested:  # a cancelled job did not fail
                logger.error("Exception found while executing function.", exc_info=exc)
        duration = time.time() - start
        if error is not None:
            broker.attempts.failed(delivery, error)
        else:
            broker.attempts.succeeded(delivery, returned)
        if error is not None or self._wants_result(broker):
            result: TaskiqResult[Any] = TaskiqResult(
                is_err=error is not None,
                log=None,
                return_value=returned,
                execution_time=round(duration, 2),
                error=error,
                labels=message.labels,
            )
            await self._finish(broker, message, result)
        broker.acknowledge(delivery)

    def _wants_result(self, broker: JobBroker) -> bool:
        """Whether anything reads a successful attempt's `TaskiqResult`."""
        if type(broker.result_backend) not in _NOTHING_TO_SAVE:
            return True
        for middleware in _hooks(broker):
            cls = type(middleware)
            if cls.post_save is not TaskiqMiddleware.post_save:
                return True
            if cls.post_execute is not TaskiqMiddleware.post_execute and not (
                isinstance(middleware, LoggingMiddleware) and not middleware.enabled()
            ):
                return True
        return False

    async def _finish(
        self, broker: JobBroker, message: TaskiqMessage, result: TaskiqResult[Any]
    ) -> None:
        """The hooks after an attempt, and the result backend, in Taskiq's order."""
        middlewares = list(reversed(_hooks(broker)))
        if result.error is not None:
            for middleware in middlewares:
                if type(middleware).on_error is not TaskiqMiddleware.on_error:
                    await maybe_awaitable(middleware.on_error(message, result, result.error))
        for middleware in middlewares:
            if type(middleware).post_execute is not TaskiqMiddleware.post_execute:
                await maybe_awaitable(middleware.post_execute(message, result))
        if isinstance(result.error, NoResultError):
            return
        try:
            await broker.result_backend.set_result(message.task_id, result)
            for middleware in middlewares:
                if type(middleware).post_save is not TaskiqMiddleware.post_save:
                    await maybe_awaitable(middleware.post_save(message, result))
        except Exception:
            logger.exception("Can't set result in result backend.")


_NOTHING_TO_SAVE = (DummyResultBackend, JobResultBackend)
"""Result backends that need no `TaskiqResult` of a successful attempt."""


def _hooks(broker: JobBroker) -> list[TaskiqMiddleware]:
    """The broker's middlewares but the lifecycle one, whose work this receiver does itself."""
    return [m for m in broker.middlewares if not isinstance(m, LifecycleMiddleware)]
