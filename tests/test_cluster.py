"""jobqueue on a real Redis Cluster: 3 primaries with a replica each, queues on different nodes.

The cluster is made by `redis-cli --cluster create` from `redis-server` on PATH (version 7),
on loopback ports; the tests skip, saying so, where those are missing.
"""

from __future__ import annotations

import asyncio
import collections
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio.cluster import RedisCluster
from tests.topology import Process, cluster

from jobqueue import (
    ConfigurationError,
    DuplicateJobError,
    EnqueueOptions,
    JobQueue,
    JobRegistry,
    QueueSettings,
    QueueUnavailableError,
    fixed_schedule,
)
from jobqueue.cli import main as cli
from jobqueue.redis import Inspector, RedisJobBroker
from jobqueue.testing import run_worker

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def nodes() -> Iterator[list[Process]]:
    with cluster(primaries=3, replicas=1) as made:
        yield made


@pytest.fixture
def cluster_settings(nodes: list[Process], request: pytest.FixtureRequest) -> QueueSettings:
    return QueueSettings(
        cluster_nodes=[f"127.0.0.1:{nodes[0].port}"],
        key_prefix=f"cl-{request.node.name[:40]}",
        lease_timeout=1.0,
        recovery_interval=0.2,
        poll_interval=0.02,
    )


async def wait(check: Any, what: str, seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not await check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


def test_settings_that_cannot_work_on_a_cluster_are_refused() -> None:
    with pytest.raises(ConfigurationError, match="QUEUE_DB"):
        QueueSettings.from_env(cluster_nodes="127.0.0.1:7000", db=3)
    with pytest.raises(ConfigurationError, match="QUEUE_URL"):
        QueueSettings.from_env(cluster_nodes="127.0.0.1:7000", url="redis://localhost")
    with pytest.raises(ConfigurationError, match="not both"):
        QueueSettings.from_env(cluster_nodes="127.0.0.1:7000", sentinels="127.0.0.1:26379")
    with pytest.raises(ConfigurationError, match="QUEUE_CLUSTER_NODES"):
        QueueSettings.from_env(cluster_nodes="127.0.0.1:99999")


async def test_queues_live_on_different_nodes(cluster_settings: QueueSettings) -> None:
    broker = RedisJobBroker(cluster_settings)
    await broker.startup()
    try:
        client = broker.client
        assert isinstance(client, RedisCluster)
        owners = {client.get_node_from_key(k.pending).name for k in broker.keys.values()}
        assert len(owners) >= 2, owners  # critical, default and low: not all on one primary
    finally:
        await broker.shutdown()


async def test_jobs_delays_retries_and_unique_jobs(cluster_settings: QueueSettings) -> None:
    runs: collections.Counter[str] = collections.Counter()
    registry = JobRegistry()

    @registry.job("cl:job", retry_delay=fixed_schedule(0.05))
    async def job(payload: dict[str, str]) -> None:
        runs[payload["n"]] += 1
        if payload["n"] == "flaky" and runs["flaky"] == 1:
            raise ValueError("the first attempt fails")

    async with JobQueue(RedisJobBroker(cluster_settings, registry=registry)) as queue:
        for name in ("critical", "default", "low"):
            await queue.enqueue_with_options("cl:job", {"n": name}, EnqueueOptions(queue=name))
        await queue.enqueue_with_delay("cl:job", {"n": "later"}, 0.2)
        await queue.enqueue("cl:job", {"n": "flaky"})
        unique = EnqueueOptions(unique=True, unique_ttl=60)
        await queue.enqueue_with_options("cl:job", {"n": "once"}, unique)
        with pytest.raises(DuplicateJobError):
            await queue.enqueue_with_options("cl:job", {"n": "once"}, unique)
        async with run_worker(RedisJobBroker(cluster_settings, registry=registry)):
            await wait(lambda: _true(len(runs) == 6 and runs["flaky"] == 2), "every job")
        assert runs == {"critical": 1, "default": 1, "low": 1, "later": 1, "flaky": 2, "once": 1}
        broker = queue.broker
        assert isinstance(broker, RedisJobBroker)
        info = {q.queue: q for q in await Inspector(broker).queue_info(memory=False)}
        assert info["default"].processed_total == 4
        assert info["default"].failed_total == 1
        assert info["critical"].processed_total == info["low"].processed_total == 1


async def _true(value: bool) -> bool:
    return value


async def test_weighted_fetch_keeps_its_shares(cluster_settings: QueueSettings) -> None:
    settings = cluster_settings.model_copy(update={"prefetch": 0})
    async with JobQueue(RedisJobBroker(settings)) as queue:
        for name in ("critical", "default", "low"):
            await queue.enqueue_many(
                [("cl:any", {}, EnqueueOptions(queue=name)) for _ in range(1000)]
            )
        broker = queue.broker
        assert isinstance(broker, RedisJobBroker)
        taken: collections.Counter[str] = collections.Counter()
        for _ in range(1000):
            (delivery,) = await broker.fetch(1)
            taken[delivery.queue] += 1
        for name, share in {"critical": 0.6, "default": 0.3, "low": 0.1}.items():
            assert abs(taken[name] / 1000 - share) < 0.06, taken


async def test_the_command_line_and_the_inspector(
    cluster_settings: QueueSettings,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    async with JobQueue(RedisJobBroker(cluster_settings)) as queue:
        later = await queue.enqueue_with_delay("cl:any", {"x": 1}, 3600)
    monkeypatch.setenv("QUEUE_CLUSTER_NODES", ",".join(cluster_settings.cluster_nodes))
    monkeypatch.setenv("QUEUE_KEY_PREFIX", cluster_settings.key_prefix)
    assert await asyncio.to_thread(cli, ["queues", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert {q["queue"]: q["scheduled"] for q in listed}["default"] == 1
    assert await asyncio.to_thread(cli, ["cancel", later.id]) == 0
    assert f"{later.id}  cancelled" in capsys.readouterr().out


def start_worker(settings: QueueSettings, log: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUEUE_")}
    env |= {
        "QUEUE_CLUSTER_NODES": ",".join(settings.cluster_nodes),
        "QUEUE_KEY_PREFIX": settings.key_prefix,
        "QUEUE_LEASE_TIMEOUT": str(settings.lease_timeout),
        "QUEUE_RECOVERY_INTERVAL": str(settings.recovery_interval),
        "QUEUE_POLL_INTERVAL": str(settings.poll_interval),
    }
    argv = [sys.executable, "-m", "taskiq", "worker", "tests.workers.recording:make_broker"]
    argv += ["--workers", "1", "--receiver", "jobqueue.receiver:JobReceiver"]
    return subprocess.Popen(
        argv,
        cwd=ROOT,
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


@pytest.fixture
async def cluster_client(cluster_settings: QueueSettings) -> AsyncIterator[RedisJobBroker]:
    broker = RedisJobBroker(cluster_settings)
    await broker.startup()
    try:
        yield broker
    finally:
        await broker.shutdown()


async def test_a_job_of_a_killed_worker_runs_again(
    cluster_settings: QueueSettings, cluster_client: RedisJobBroker, tmp_path: Path
) -> None:
    prefix = cluster_settings.key_prefix
    started = f"{prefix}:test:started"
    first = start_worker(cluster_settings, tmp_path / "first.log")
    second: subprocess.Popen[bytes] | None = None
    try:
        queue = JobQueue(cluster_client, owns_broker=False)
        await queue.enqueue("sleep", {"name": "crash", "first_seconds": 30, "seconds": 0.1})

        async def attempts() -> list[int]:
            raw = await cluster_client.client.lrange(started, 0, -1)
            return [json.loads(r)["attempt"] for r in raw]

        await wait(lambda: _true_async(attempts(), [1]), "the first attempt", 20)
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(5)
        second = start_worker(cluster_settings, tmp_path / "second.log")
        await wait(lambda: _true_async(attempts(), [1, 2]), "the job running again", 20)
    finally:
        for worker in (first, second):
            if worker is not None and worker.poll() is None:
                os.killpg(worker.pid, signal.SIGKILL)
                worker.wait(5)


async def _true_async(found: Any, expected: list[int]) -> bool:
    return bool(await found == expected)


async def test_a_primary_failover_loses_no_durable_enqueue(
    nodes: list[Process], cluster_settings: QueueSettings
) -> None:
    settings = cluster_settings.model_copy(update={"durable_replicas": 1, "durable_timeout": 1.0})
    ran: collections.Counter[int] = collections.Counter()
    registry = JobRegistry()

    @registry.job("cl:count")
    async def count(payload: dict[str, int]) -> None:
        ran[payload["n"]] += 1

    accepted: set[int] = set()
    async with JobQueue(RedisJobBroker(settings, registry=registry)) as queue:
        broker = queue.broker
        assert isinstance(broker, RedisJobBroker)
        client = broker.client
        assert isinstance(client, RedisCluster)
        victim_name = client.get_node_from_key(broker.keys["default"].pending).name
        victim = next(n for n in nodes if f"127.0.0.1:{n.port}" == victim_name)
        async with run_worker(RedisJobBroker(settings, registry=registry)):
            for n in range(600):
                if n == 200:
                    victim.kill()  # its replica takes over (cluster-node-timeout 1 s) ...
                    # ... and the old primary comes back as its replica, so WAIT can succeed again
                    asyncio.get_running_loop().call_later(1.5, victim.restart)
                for _ in range(100):  # a producer retries with the same id until it lands
                    try:
                        await queue.enqueue_with_options(
                            "cl:count", {"n": n}, EnqueueOptions(job_id=f"d{n}")
                        )
                    except DuplicateJobError:
                        pass  # an earlier try landed after all
                    except (QueueUnavailableError, ConnectionError):
                        await asyncio.sleep(0.1)
                        continue
                    accepted.add(n)
                    break
            await wait(lambda: _true(accepted <= set(ran)), "every accepted job", 60)
    assert len(accepted) == 600
    lost = accepted - set(ran)
    print(f"\ncluster failover: {len(accepted)} acknowledged, {len(lost)} lost")
    assert not lost
