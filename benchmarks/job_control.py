"""Measure job control against a real `taskiq worker` process on a private Redis.

    python -m benchmarks.job_control            # 200 of each
    python -m benchmarks.job_control --n 50

Prints, p50 / p99 / max in milliseconds:

- cancel: from the moment `queue.cancel()` is called for a running job to the moment its
  handler, in the worker process, gets `asyncio.CancelledError`;
- result: from the moment a job's attempt ends in the worker (its last line before returning)
  to the moment `await info.result()` returns in the producer.

Both ends of each interval are `time.time()` on the same machine. The worker records its side
in a Redis list; the job runs one at a time, so nothing queues behind it.

This module is also the worker: `taskiq worker benchmarks.job_control:make_broker`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from jobqueue import JobQueue, JobRegistry, QueueSettings
from jobqueue.redis import RedisJobBroker
from jobqueue.testing import RedisServer

ROOT = Path(__file__).resolve().parent.parent
registry = JobRegistry()
_broker: RedisJobBroker | None = None


async def _note(name: str) -> None:
    assert _broker is not None
    await _broker.client.rpush(f"{_broker.settings.key_prefix}:bench:{name}", repr(time.time()))


@registry.job("control:hang")
async def hang(payload: Any) -> None:
    await _note("started")
    try:
        await asyncio.sleep(60)
    except asyncio.CancelledError:
        await asyncio.shield(_note("cancelled"))
        raise


@registry.job("control:quick", result_ttl=60)
async def quick(payload: Any) -> int:
    await asyncio.sleep(0.01)
    await _note("ending")
    return 1


def make_broker() -> RedisJobBroker:
    """The worker: `taskiq worker benchmarks.job_control:make_broker`."""
    global _broker
    _broker = RedisJobBroker(QueueSettings.from_env(), registry=registry)
    return _broker


async def _wait_list(broker: RedisJobBroker, name: str, length: int) -> float:
    key = f"{broker.settings.key_prefix}:bench:{name}"
    deadline = time.monotonic() + 10
    while await broker.client.llen(key) < length:
        if time.monotonic() > deadline:
            raise TimeoutError(f"no {name} record {length}")
        await asyncio.sleep(0.0005)
    return float(await broker.client.lindex(key, length - 1))


def _summary(name: str, lags: list[float]) -> str:
    ms = sorted(x * 1000 for x in lags)
    p99 = ms[min(len(ms) - 1, round(0.99 * (len(ms) - 1)))]
    p50 = statistics.median(ms)
    return f"{name:<8} n={len(ms):<4} p50 {p50:6.1f} ms   p99 {p99:6.1f} ms   max {ms[-1]:6.1f} ms"


def start_worker(url: str) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUEUE_")}
    env |= {"QUEUE_URL": url, "QUEUE_KEY_PREFIX": "control", "QUEUE_PREFETCH": "0"}
    argv = [sys.executable, "-m", "taskiq", "worker", "benchmarks.job_control:make_broker"]
    argv += ["--workers", "1", "--receiver", "jobqueue.receiver:JobReceiver"]
    argv += ["--log-level", "ERROR"]
    return subprocess.Popen(argv, cwd=ROOT, env=env, start_new_session=True)


async def measure(url: str, n: int) -> None:
    settings = QueueSettings(url=SecretStr(url), key_prefix="control")
    async with JobQueue(RedisJobBroker(settings, registry=registry)) as queue:
        broker = queue.broker
        assert isinstance(broker, RedisJobBroker)
        cancels = []
        for i in range(1, n + 1):
            info = await queue.enqueue("control:hang", {})
            await _wait_list(broker, "started", i)
            asked = time.time()
            await queue.cancel(info.id)
            cancels.append(await _wait_list(broker, "cancelled", i) - asked)
        results = []
        for i in range(1, n + 1):
            info = await queue.enqueue("control:quick", {})
            await info.result(timeout=10)
            returned = time.time()
            results.append(returned - await _wait_list(broker, "ending", i))
    print(_summary("cancel", cancels))
    print(_summary("result", results))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200)
    args = parser.parse_args()
    with RedisServer() as server:
        worker = start_worker(server.url)
        try:
            asyncio.run(measure(server.url, args.n))
        finally:
            os.killpg(worker.pid, signal.SIGTERM)
            worker.wait(10)


if __name__ == "__main__":
    main()
