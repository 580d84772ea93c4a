"""Real `taskiq worker` processes: crash recovery after SIGKILL, graceful shutdown on SIGTERM.

Each worker runs `tests.workers.recording:make_broker` in a new session (process group), with its
settings in `QUEUE_*` variables; its jobs record their starts and ends in Redis (see that module).
A test signals the whole group it started, by its pid, and nothing else.

The measured times are printed (run with `-s` to see them).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis
from taskiq.receiver import Receiver
from tests.helpers import job_fields

from jobqueue import JobQueue, QueueSettings
from jobqueue.redis import RedisJobBroker

ROOT = Path(__file__).resolve().parent.parent
WORKER = "tests.workers.recording:make_broker"


def worker_env(settings: QueueSettings, redis_url: str) -> dict[str, str]:
    """The environment of a worker process: these settings, and no inherited `QUEUE_*`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUEUE_")}
    env.update(
        QUEUE_URL=redis_url,
        QUEUE_KEY_PREFIX=settings.key_prefix,
        QUEUE_LEASE_TIMEOUT=str(settings.lease_timeout),
        QUEUE_RECOVERY_INTERVAL=str(settings.recovery_interval),
        QUEUE_SHUTDOWN_TIMEOUT=str(settings.shutdown_timeout),
        QUEUE_POLL_INTERVAL=str(settings.poll_interval),
        QUEUE_MAX_DELIVERIES=str(settings.max_deliveries),
        QUEUE_CONCURRENCY=str(settings.concurrency),
        QUEUE_PREFETCH=str(settings.prefetch),
    )
    return env


def exited(pid: int) -> bool:
    """Whether a process (not necessarily our child) has exited: gone, or a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] in ("Z", "X")


class Worker:
    """One `taskiq worker ... --workers 1` process group."""

    def __init__(self, env: dict[str, str], log: Path, receiver: str) -> None:
        self.log = log
        self._log_file = log.open("wb")
        argv = [sys.executable, "-m", "taskiq", "worker", WORKER, "--workers", "1"]
        self.process = subprocess.Popen(
            [*argv, "--receiver", receiver],
            cwd=ROOT,
            env=env,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so we can signal all of it
        )
        self.worker_pid: int | None = None  # the forked process that runs the broker

    def signal(self, sig: signal.Signals) -> None:
        os.killpg(self.process.pid, sig)

    async def wait_exit(self, seconds: float) -> float:
        """Wait for the whole command to exit; return how long that took."""
        start = time.monotonic()
        while self.process.poll() is None:
            assert time.monotonic() - start < seconds, f"worker did not exit:\n{self.output()}"
            await asyncio.sleep(0.005)
        return time.monotonic() - start

    def output(self) -> str:
        self._log_file.flush()
        return self.log.read_text(errors="replace")[-4000:]

    def stop(self) -> None:
        """Make sure nothing is left running (after a failed test)."""
        if self.process.poll() is None:
            self.signal(signal.SIGKILL)
            self.process.wait(10)
        self._log_file.close()


class Lab:
    """Starts workers and reads what their jobs recorded."""

    def __init__(
        self, settings: QueueSettings, redis_url: str, client: Redis, tmp_path: Path, receiver: str
    ) -> None:
        self.receiver = receiver
        self.settings = settings
        self.redis_url = redis_url
        self.client = client
        self.tmp_path = tmp_path
        self.workers: list[Worker] = []

    def key(self, name: str) -> str:
        return f"{self.settings.key_prefix}:test:{name}"

    async def start_worker(self) -> Worker:
        worker = Worker(
            worker_env(self.settings, self.redis_url),
            self.tmp_path / f"worker-{len(self.workers)}.log",
            self.receiver,
        )
        self.workers.append(worker)
        ready_before = len(self.workers) - 1

        async def ready() -> bool:
            assert worker.process.poll() is None, f"worker died:\n{worker.output()}"
            return await self.client.llen(self.key("ready")) > ready_before

        await wait_for(ready, "the worker to start", seconds=15)
        worker.worker_pid = int(await self.client.lindex(self.key("ready"), ready_before))
        return worker

    async def records(self, name: str) -> list[dict[str, Any]]:
        return [json.loads(raw) for raw in await self.client.lrange(self.key(name), 0, -1)]

    async def wait_record(
        self, name: str, job: str, attempt: int, seconds: float = 5
    ) -> dict[str, Any]:
        async def found() -> bool:
            return any(
                r["job"] == job and r["attempt"] == attempt for r in await self.records(name)
            )

        await wait_for(found, f"{name} record of {job} attempt {attempt}", seconds)
        return next(
            r for r in await self.records(name) if r["job"] == job and r["attempt"] == attempt
        )

    async def job(self, job_id: str) -> dict[str, str]:
        broker = RedisJobBroker(self.settings, client=self.client)
        await broker.startup()
        try:
            return await job_fields(broker, job_id)
        finally:
            await broker.shutdown()

    async def stats(self) -> dict[str, int]:
        raw = await self.client.hgetall(f"{self.settings.key_prefix}:{{default}}:stats")
        return {k.decode(): int(v) for k, v in raw.items()}


async def wait_for(check: Callable[[], Awaitable[bool]], what: str, seconds: float = 5) -> None:
    """Poll `check` (Redis state has no event to wait on) until true; fail after `seconds`."""
    deadline = time.monotonic() + seconds
    while not await check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.01)


@pytest.fixture
async def lab(
    settings: QueueSettings,
    jobqueue_redis_url: str,
    tmp_path: Path,
    receiver_class: type[Receiver],
) -> AsyncIterator[Lab]:
    client = Redis.from_url(jobqueue_redis_url)
    receiver = f"{receiver_class.__module__}:{receiver_class.__name__}"
    lab = Lab(settings, jobqueue_redis_url, client, tmp_path, receiver)
    try:
        yield lab
    finally:
        for worker in lab.workers:
            worker.stop()
        await client.aclose()


async def test_job_of_a_killed_worker_is_run_again_by_another(
    lab: Lab, settings: QueueSettings
) -> None:
    first = await lab.start_worker()
    async with JobQueue(RedisJobBroker(settings)) as queue:
        # 30 s on its first attempt (it "hangs" in the worker we kill), 0.3 s on the next.
        info = await queue.enqueue("sleep", {"name": "crash", "first_seconds": 30, "seconds": 0.3})
    started = await lab.wait_record("started", "crash", 1)
    assert started["pid"] == first.worker_pid

    second = await lab.start_worker()
    assert (await lab.job(info.id))["state"] == "active"
    killed_at = time.time()
    first.signal(signal.SIGKILL)
    await first.wait_exit(5)

    again = await lab.wait_record("started", "crash", 2, seconds=10)
    recovery = again["t"] - killed_at
    print(f"\nrecovery after SIGKILL: {recovery:.3f} s (lease 1 s, recovery every 0.2 s)")
    assert again["pid"] == second.worker_pid
    # The lease was renewed at most a third of it before the kill, so it ran out 0.67-1 s after;
    # then one recovery scan (every 0.2 s +-10 %) and a fetch. 0.5 s of slack for a busy machine.
    bound = settings.lease_timeout + 1.1 * settings.recovery_interval + 0.5
    assert recovery < bound, f"recovered after {recovery:.2f} s, bound {bound:.2f} s"
    assert recovery > settings.lease_timeout * 2 / 3 - 0.05, "recovered before the lease ran out"
    job = await lab.job(info.id)
    assert job["lost"] == "1"
    assert job["retried"] == "0"  # a lost lease is not a failed attempt

    await lab.wait_record("finished", "crash", 2)

    async def gone() -> bool:
        return not await lab.job(info.id)

    await wait_for(gone, "the job to complete")
    assert await lab.stats() == {"processed": 1}


async def test_job_whose_lease_keeps_expiring_goes_to_dead(settings: QueueSettings) -> None:
    # A "worker" that leases the job and never heartbeats nor acknowledges: like one that is
    # killed each time it picks the job up. The recovery scan is run by hand, as a worker would.
    settings = settings.model_copy(update={"lease_timeout": 0.2, "max_deliveries": 3})
    broker = RedisJobBroker(settings)
    await broker.startup()
    try:
        keys = broker.keys["default"]
        info = await JobQueue(broker, owns_broker=False).enqueue("poison", {"n": 1})
        for lost in (1, 2, 3):
            (delivery,) = await broker.fetch(1)
            assert delivery.id == info.id
            await broker.worker_loops().recover_once()
            assert await broker.client.zscore(keys.lease, info.id) is not None  # not yet expired
            await asyncio.sleep(0.25)
            await broker.worker_loops().recover_once()
            assert (await job_fields(broker, info.id))["lost"] == str(lost)
            if lost < 3:
                assert await broker.client.lrange(keys.pending, 0, -1) == [info.id.encode()]

        assert await broker.client.llen(keys.pending) == 0
        assert await broker.client.zcard(keys.lease) == 0
        assert await broker.client.zscore(keys.dead, info.id) is not None
        job = await job_fields(broker, info.id)
        assert job["state"] == "dead"
        assert job["error"].startswith("lost 3 times: its lease expired before it finished")
        assert await broker.client.hgetall(keys.stats) == {b"dead": b"1"}
        assert await broker.fetch(1) == []
    finally:
        await broker.shutdown()


async def test_sigterm_lets_short_jobs_finish_and_puts_long_ones_back(
    lab: Lab, settings: QueueSettings
) -> None:
    # Two jobs run at once; a third is fetched with them (prefetch) but waits for a free slot.
    lab.settings = settings = settings.model_copy(update={"concurrency": 2})
    async with JobQueue(RedisJobBroker(settings)) as queue:
        short = await queue.enqueue("sleep", {"name": "short", "seconds": 1.0})
        long = await queue.enqueue("sleep", {"name": "long", "seconds": 30})
        waiting = await queue.enqueue("sleep", {"name": "waiting", "seconds": 0})
    worker = await lab.start_worker()
    await lab.wait_record("started", "short", 1)
    await lab.wait_record("started", "long", 1)
    assert (await lab.job(waiting.id))["state"] == "active"  # leased by the worker, not started

    worker.signal(signal.SIGTERM)
    took = await worker.wait_exit(settings.shutdown_timeout + 5)
    print(f"\nexit after SIGTERM with a job past the grace: {took:.3f} s (grace 2 s)")

    assert {r["job"] for r in await lab.records("started")} == {"short", "long"}
    assert {r["job"] for r in await lab.records("finished")} == {"short"}, worker.output()
    assert not await lab.job(short.id)  # completed and deleted
    # The long job waited out the grace period, then went back to pending, not counted as a
    # failure: no retry used, no error, no `failed` count. So did the job that never started.
    assert took >= settings.shutdown_timeout - 0.1
    assert took < settings.shutdown_timeout + 3
    for job_id in (long.id, waiting.id):
        job = await lab.job(job_id)
        assert job["state"] == "pending"
        assert job["retried"] == "0"
        assert job["lost"] == "0"
        assert "error" not in job
    pending = f"{settings.key_prefix}:{{default}}:pending"
    assert set(await lab.client.lrange(pending, 0, -1)) == {long.id.encode(), waiting.id.encode()}
    assert await lab.client.zcard(f"{settings.key_prefix}:{{default}}:lease") == 0
    assert await lab.stats() == {"processed": 1}


async def test_idle_worker_exits_quickly_on_sigterm(lab: Lab) -> None:
    worker = await lab.start_worker()
    await asyncio.sleep(0.3)  # let it settle into idle polling
    assert worker.worker_pid is not None
    assert not exited(worker.worker_pid)

    signalled = time.monotonic()
    worker.signal(signal.SIGTERM)
    worker_exit = None
    while worker.process.poll() is None:
        if worker_exit is None and exited(worker.worker_pid):
            worker_exit = time.monotonic() - signalled
        assert time.monotonic() - signalled < 5, worker.output()
        await asyncio.sleep(0.002)
    command_exit = time.monotonic() - signalled
    worker_exit = command_exit if worker_exit is None else worker_exit
    print(f"\nidle SIGTERM: worker process {worker_exit:.3f} s, command {command_exit:.3f} s")

    assert worker.process.returncode == 0, worker.output()
    assert worker_exit < 1.0
    # Taskiq's process manager looks at its signals once a second, hence the looser bound for
    # the parent process.
    assert command_exit < 2.0
