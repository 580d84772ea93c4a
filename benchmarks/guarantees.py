"""Measure jobqueue's delivery guarantees on a private Redis and print them as a table.

Run `python -m benchmarks.guarantees` (or `python benchmarks/guarantees.py`) from the repository
root. With the default settings unless noted, it measures:

- the share of fetches per queue (weights critical=6, default=3, low=1) over 3,000 fetches;
- how late delayed jobs run (200 jobs delayed 0.2-1 s, one in-process worker): p50, p99, max;
- how long a job held by a `taskiq worker` killed with SIGKILL takes to run again in a second
  worker: default settings (lease 30 s, recovery every 5 s; about half a minute) and fast ones
  (lease 3 s, recovery every 0.5 s);
- how long an idle `taskiq worker` takes to exit after SIGTERM (median of 5): the worker process
  itself, and the whole command (Taskiq's process manager checks for signals once a second).

`--skip-slow` leaves out the recovery measurement with the default 30 s lease.

This module is also the worker the recovery and shutdown measurements run:
`taskiq worker benchmarks.guarantees:make_broker --workers 1`, configured by `QUEUE_*` variables.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from pydantic import SecretStr
from redis.asyncio import Redis
from taskiq import TaskiqEvents, TaskiqState

from jobqueue import EnqueueOptions, JobQueue, JobRegistry, QueueSettings
from jobqueue.redis import RedisJobBroker
from jobqueue.testing import RedisServer, run_worker

ROOT = Path(__file__).resolve().parent.parent
WORKER = "benchmarks.guarantees:make_broker"
RECEIVER = ("--receiver", "jobqueue.receiver:JobReceiver")

# -- the worker side ------------------------------------------------------------------------------

registry = JobRegistry()
_broker: RedisJobBroker | None = None


def _key(settings: QueueSettings, name: str) -> str:
    return f"{settings.key_prefix}:bench:{name}"


@registry.job("bench:hang")
async def hang(payload: dict[str, Any]) -> None:
    """Record each start; sleep `first_seconds` on the first attempt, nothing on later ones."""
    assert _broker is not None
    client, settings = _broker.client, _broker.settings
    attempt = await client.incr(_key(settings, f"attempts:{payload['name']}"))
    record = {"name": payload["name"], "attempt": attempt, "pid": os.getpid(), "t": time.time()}
    await client.rpush(_key(settings, "started"), json.dumps(record))
    if attempt == 1:
        await asyncio.sleep(payload["first_seconds"])


def make_broker() -> RedisJobBroker:
    """The broker of a benchmark worker process (settings from `QUEUE_*`)."""
    global _broker
    broker = RedisJobBroker(QueueSettings.from_env(), registry=registry)

    async def ready(state: TaskiqState) -> None:
        await broker.client.rpush(_key(broker.settings, "ready"), os.getpid())

    broker.add_event_handler(TaskiqEvents.WORKER_STARTUP, ready)
    _broker = broker
    return broker


# -- helpers --------------------------------------------------------------------------------------


def settings_on(url: str, **overrides: Any) -> QueueSettings:
    """Default settings on the private server, with a key prefix of their own."""
    prefix = f"bench-{uuid.uuid4().hex[:8]}"
    return QueueSettings(url=SecretStr(url), key_prefix=prefix, **overrides)


async def poll(check: Callable[[], Awaitable[bool]], what: str, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not await check():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        await asyncio.sleep(0.005)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def exited(pid: int) -> bool:
    """Whether a process that is not our child has exited (gone, or a zombie)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] in ("Z", "X")


class WorkerProcess:
    """A `taskiq worker` command in its own process group; signals go to that group only."""

    def __init__(self, url: str, settings: QueueSettings, env: dict[str, str]) -> None:
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("QUEUE_")}
        full_env.update(QUEUE_URL=url, QUEUE_KEY_PREFIX=settings.key_prefix, **env)
        self.settings = settings
        self.process = subprocess.Popen(
            [sys.executable, "-m", "taskiq", "worker", WORKER, "--workers", "1", *RECEIVER],
            cwd=ROOT,
            env=full_env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        self.worker_pid = 0

    async def wait_ready(self, client: Redis, index: int) -> None:
        key = _key(self.settings, "ready")

        async def ready() -> bool:
            if self.process.poll() is not None:
                raise RuntimeError("the worker process exited at startup")
            return await client.llen(key) > index

        await poll(ready, "the worker to start", 30)
        self.worker_pid = int(await client.lindex(key, index))

    def signal(self, sig: signal.Signals) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, sig)

    def close(self) -> None:
        self.signal(signal.SIGKILL)
        self.process.wait(10)


# -- measurements ---------------------------------------------------------------------------------


async def weighted_shares(url: str, fetches: int = 3000) -> dict[str, float]:
    settings = settings_on(url)
    broker = RedisJobBroker(settings)
    await broker.startup()
    try:
        queue = JobQueue(broker, owns_broker=False)
        # More jobs in each queue than it can be asked for, so none runs dry and skews the ratio.
        for name in settings.queues:
            opts = EnqueueOptions(queue=name)
            for _ in range(fetches // 500):
                await queue.enqueue_many([("bench:noop", {}, opts)] * 500)
        counts: collections.Counter[str] = collections.Counter()
        for _ in range(fetches):
            (delivery,) = await broker.fetch(1)
            counts[delivery.queue] += 1
        return {name: counts[name] / fetches for name in settings.queue_names}
    finally:
        await broker.shutdown()


async def delay_lateness(url: str, jobs: int = 200) -> list[float]:
    settings = settings_on(url)
    ran_at: dict[int, float] = {}
    jobs_registry = JobRegistry()

    @jobs_registry.job("bench:delayed")
    async def delayed(payload: dict[str, int]) -> None:
        ran_at[payload["i"]] = time.time()

    due: dict[int, float] = {}
    producer = RedisJobBroker(settings, registry=jobs_registry)
    async with (
        JobQueue(producer) as queue,
        run_worker(RedisJobBroker(settings, registry=jobs_registry)),
    ):
        for i in range(jobs):
            info = await queue.enqueue_with_delay("bench:delayed", {"i": i}, random.uniform(0.2, 1))
            due[i] = info.process_at.timestamp()

        async def all_ran() -> bool:
            return len(ran_at) == jobs

        await poll(all_ran, "the delayed jobs", 10)
    return [ran_at[i] - due[i] for i in range(jobs)]


async def recovery_after_sigkill(url: str, env: dict[str, str]) -> float:
    """Seconds from SIGKILL of the worker holding a job to that job starting in another worker."""
    settings = settings_on(url)
    client = Redis.from_url(url)
    workers: list[WorkerProcess] = []
    try:
        first = WorkerProcess(url, settings, env)
        workers.append(first)
        await first.wait_ready(client, 0)
        async with JobQueue(RedisJobBroker(settings)) as queue:
            await queue.enqueue("bench:hang", {"name": "crash", "first_seconds": 3600})

        async def started(attempt: int) -> dict[str, Any] | None:
            for raw in await client.lrange(_key(settings, "started"), 0, -1):
                record = json.loads(raw)
                if record["attempt"] == attempt:
                    return record
            return None

        async def first_started() -> bool:
            return await started(1) is not None

        await poll(first_started, "the job to start", 10)
        second = WorkerProcess(url, settings, env)
        workers.append(second)
        await second.wait_ready(client, 1)

        killed_at = time.time()
        first.signal(signal.SIGKILL)

        async def second_started() -> bool:
            return await started(2) is not None

        bound = 2 * float(env.get("QUEUE_LEASE_TIMEOUT", settings.lease_timeout)) + 30
        await poll(second_started, "the job to run again", bound)
        record = await started(2)
        if record is None or record["pid"] != second.worker_pid:
            raise RuntimeError(f"the job ran again, but not in the second worker: {record}")
        return float(record["t"]) - killed_at
    finally:
        for worker in workers:
            worker.close()
        await client.aclose()


async def idle_shutdown(url: str) -> tuple[float, float]:
    """Seconds from SIGTERM to the exit of the worker process, and of the whole command."""
    settings = settings_on(url)
    client = Redis.from_url(url)
    worker = WorkerProcess(url, settings, {})
    try:
        await worker.wait_ready(client, 0)
        await asyncio.sleep(0.5)  # idle: polling, no jobs
        signalled = time.monotonic()
        worker.signal(signal.SIGTERM)
        worker_exit = None
        while worker.process.poll() is None:
            if worker_exit is None and exited(worker.worker_pid):
                worker_exit = time.monotonic() - signalled
            if time.monotonic() - signalled > 30:
                raise RuntimeError("the worker did not exit within 30 s of SIGTERM")
            await asyncio.sleep(0.002)
        command_exit = time.monotonic() - signalled
        return (command_exit if worker_exit is None else worker_exit), command_exit
    finally:
        worker.close()
        await client.aclose()


# -- report ---------------------------------------------------------------------------------------


def row(what: str, value: str, note: str = "") -> None:
    print(f"{what:<44} {value:>18}  {note}", flush=True)


async def main(skip_slow: bool) -> None:
    with RedisServer() as server:
        url = server.url
        print(f"jobqueue guarantees (private Redis on {url}, Python {sys.version.split()[0]})\n")
        row("measurement", "result", "notes")
        row("-" * 44, "-" * 18, "-" * 30)

        shares = await weighted_shares(url)
        observed = " / ".join(f"{shares[name] * 100:.1f}" for name in shares)
        row("weighted fetch share (%, 3,000 fetches)", observed, "expected 60 / 30 / 10")

        lateness = await delay_lateness(url)
        row(
            "delay lateness p50 / p99 (ms, 200 jobs)",
            f"{percentile(lateness, 0.5) * 1000:.1f} / {percentile(lateness, 0.99) * 1000:.1f}",
            f"max {max(lateness) * 1000:.1f} ms, earliest {min(lateness) * 1000:+.1f} ms",
        )

        fast = {"QUEUE_LEASE_TIMEOUT": "3", "QUEUE_RECOVERY_INTERVAL": "0.5"}
        fast_runs = [await recovery_after_sigkill(url, fast) for _ in range(3)]
        row(
            "recovery after SIGKILL, fast (s)",
            f"{statistics.median(fast_runs):.2f}",
            "lease 3 s, recovery 0.5 s; median of 3, runs "
            + ", ".join(f"{r:.2f}" for r in fast_runs),
        )
        if skip_slow:
            row("recovery after SIGKILL, default (s)", "skipped", "--skip-slow")
        else:
            default_run = await recovery_after_sigkill(url, {})
            row(
                "recovery after SIGKILL, default (s)",
                f"{default_run:.2f}",
                "lease 30 s, recovery 5 s; one run",
            )

        exits = [await idle_shutdown(url) for _ in range(5)]
        row(
            "idle SIGTERM -> worker process exit (s)",
            f"{statistics.median(e[0] for e in exits):.3f}",
            "median of 5; max " + f"{max(e[0] for e in exits):.3f}",
        )
        row(
            "idle SIGTERM -> taskiq command exit (s)",
            f"{statistics.median(e[1] for e in exits):.3f}",
            "median of 5; max "
            + f"{max(e[1] for e in exits):.3f} (process manager polls every 1 s)",
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--skip-slow", action="store_true", help="skip the recovery run with the 30 s lease"
    )
    asyncio.run(main(parser.parse_args().skip_slow))
