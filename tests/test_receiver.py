"""`JobReceiver` runs jobs as Taskiq's own receiver does: same hooks, results, limits, fallbacks."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from taskiq import Context, TaskiqDepends, TaskiqMessage, TaskiqMiddleware, TaskiqResult
from taskiq.brokers.inmemory_broker import InmemoryResultBackend
from taskiq.receiver import Receiver

from jobqueue import JobQueue, JobRegistry, PermanentError, QueueSettings
from jobqueue.receiver import JobReceiver
from jobqueue.redis import RedisJobBroker
from jobqueue.testing import run_worker


async def wait_for(check: Callable[[], Awaitable[bool] | bool], what: str) -> None:
    deadline = time.monotonic() + 5
    while True:
        done = check()
        if done if isinstance(done, bool) else await done:
            return
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.01)


class RecordHooks(TaskiqMiddleware):
    """Records every worker-side hook with what it was given."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[str, str, Any]] = []

    def pre_execute(self, message: TaskiqMessage) -> TaskiqMessage:
        self.calls.append(("pre_execute", message.task_name, message.args))
        return message

    async def post_execute(self, message: TaskiqMessage, result: TaskiqResult[Any]) -> None:
        self.calls.append(("post_execute", message.task_name, (result.is_err, result.return_value)))

    def post_save(self, message: TaskiqMessage, result: TaskiqResult[Any]) -> None:
        self.calls.append(("post_save", message.task_name, result.return_value))

    def on_error(
        self, message: TaskiqMessage, result: TaskiqResult[Any], exception: BaseException
    ) -> None:
        self.calls.append(("on_error", message.task_name, str(exception)))


def hooks_registry() -> JobRegistry:
    registry = JobRegistry()

    @registry.job("hooks:double")
    async def double(n: int) -> int:
        return n * 2

    @registry.job("hooks:fail", max_retry=0)
    async def fail(n: int) -> None:
        raise PermanentError(f"no {n}")

    return registry


async def test_middleware_hooks_and_results_match_taskiq(
    settings: QueueSettings, receiver_class: type[Receiver]
) -> None:
    registry = hooks_registry()
    worker = RedisJobBroker(settings, registry=registry)
    hooks = RecordHooks()
    worker.add_middlewares(hooks)
    worker.result_backend = InmemoryResultBackend()
    producer = RedisJobBroker(settings, registry=registry)
    async with JobQueue(producer) as queue, run_worker(worker, receiver_class=receiver_class):
        ok = await queue.enqueue("hooks:double", 21)
        await wait_for(lambda: len(hooks.calls) == 3, "the first job's hooks")
        await queue.enqueue("hooks:fail", 7)
        await wait_for(lambda: len(hooks.calls) == 7, "the second job's hooks")
        result = await worker.result_backend.get_result(ok.id)
    assert hooks.calls == [
        ("pre_execute", "hooks:double", [21]),
        ("post_execute", "hooks:double", (False, 42)),
        ("post_save", "hooks:double", 42),
        ("pre_execute", "hooks:fail", [7]),
        ("on_error", "hooks:fail", "no 7"),
        ("post_execute", "hooks:fail", (True, None)),
        ("post_save", "hooks:fail", None),
    ]
    assert result.return_value == 42


async def test_max_async_tasks_lowers_the_concurrency(settings: QueueSettings) -> None:
    registry = JobRegistry()
    running: list[int] = []
    most = 0

    @registry.job("limit:hold")
    async def hold(n: int) -> None:
        nonlocal most
        running.append(n)
        most = max(most, len(running))
        await asyncio.sleep(0.05)
        running.remove(n)

    settings = settings.model_copy(update={"concurrency": 5})
    worker = RedisJobBroker(settings, registry=registry)
    worker.is_worker_process = True
    receiver = JobReceiver(worker, max_async_tasks=2)
    finish = asyncio.Event()
    producer = RedisJobBroker(settings, registry=registry)
    async with JobQueue(producer) as queue:
        infos = await queue.enqueue_many([("limit:hold", n) for n in range(8)])
        listening = asyncio.create_task(receiver.listen(finish))
        try:
            key = worker.keys["default"].stats

            async def all_done() -> bool:
                return int(await producer.client.hget(key, "processed") or 0) == len(infos)

            await wait_for(all_done, "all jobs to finish")
        finally:
            finish.set()
            await listening
            await worker.shutdown()
    assert most == 2


async def test_max_tasks_per_child_stops_the_receiver(settings: QueueSettings) -> None:
    registry = JobRegistry()
    ran: list[int] = []

    @registry.job("child:count")
    async def count(n: int) -> None:
        ran.append(n)

    worker = RedisJobBroker(settings, registry=registry)
    worker.is_worker_process = True
    receiver = JobReceiver(worker, max_async_tasks=10, max_tasks_to_execute=3)
    producer = RedisJobBroker(settings, registry=registry)
    async with JobQueue(producer) as queue:
        await queue.enqueue_many([("child:count", n) for n in range(5)])
        try:
            # Returns by itself once it has started three jobs and they have finished.
            await asyncio.wait_for(receiver.listen(asyncio.Event()), 5)
        finally:
            await worker.shutdown()
        assert sorted(ran) == [0, 1, 2]
        # The rest were left for other workers, none lost: two are back in pending.
        assert await producer.client.llen(worker.keys["default"].pending) == 2


async def test_taskiq_task_with_dependencies_takes_taskiq_path(
    settings: QueueSettings, receiver_class: type[Receiver]
) -> None:
    seen: list[str] = []
    worker = RedisJobBroker(settings)

    @worker.task(task_name="plain:context")
    async def plain(n: int, context: Annotated[Context, TaskiqDepends()]) -> None:
        seen.append(f"{n}:{context.message.task_name}")

    producer = RedisJobBroker(settings)
    async with JobQueue(producer), run_worker(worker, receiver_class=receiver_class):
        producer_task = producer.register_task(lambda n: None, task_name="plain:context")
        await producer_task.kiq(5)
        await wait_for(lambda: bool(seen), "the task to run")
    assert seen == ["5:plain:context"]
