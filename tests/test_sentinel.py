"""A Sentinel failover in the middle of a load of 10,000 jobs: three Sentinels, a primary and a
replica, all real `redis-server` processes on loopback ports.

The primary is SIGKILLed while producers enqueue and a worker runs the jobs; the Sentinels
promote the replica, and producers and the worker must find it by themselves. Once the
promotion is seen, the old primary is started again and the Sentinels make it the new primary's
replica (so a durable enqueue, which waits for one replica, can succeed again).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from redis.asyncio import Redis
from redis.exceptions import RedisError
from tests.topology import MASTER, replicated, sentinels

from jobqueue import (
    ConfigurationError,
    DuplicateJobError,
    EnqueueOptions,
    JobQueue,
    JobRegistry,
    QueueSettings,
    QueueUnavailableError,
)
from jobqueue.cache import open_cache
from jobqueue.redis import Inspector, RedisJobBroker
from jobqueue.settings import CacheSettings
from jobqueue.testing import RedisServer, run_worker

JOBS = 10_000
PRODUCERS = 20
KILL_AT = 3_000  # accepted enqueues before the primary is killed


@dataclass
class Ledger:
    accepted: set[int] = field(default_factory=set)
    ran: collections.Counter[int] = field(default_factory=collections.Counter)
    refused: int = 0  # enqueues that raised and were tried again

    def report(self, label: str) -> tuple[int, int]:
        lost = len(self.accepted - set(self.ran))
        twice = sum(1 for n in self.accepted if self.ran[n] > 1)
        print(
            f"\nsentinel failover, {label}: {len(self.accepted)} acknowledged, {lost} lost, "
            f"{twice} run twice, {self.refused} enqueue attempts refused during the switch"
        )
        return lost, twice


@pytest.fixture
def topology() -> Iterator[tuple[RedisServer, list[RedisServer], list[int]]]:
    with replicated(replicas=1) as (primary, followers), sentinels(primary.port) as ports:
        yield primary, followers, ports


async def _primary_port(sentinel_ports: list[int]) -> int:
    async with Redis(port=sentinel_ports[0]) as sentinel:
        _, port = await sentinel.execute_command("SENTINEL", "get-master-addr-by-name", MASTER)
        return int(port)


async def _bring_back_as_replica(old: RedisServer, sentinel_ports: list[int]) -> None:
    """Once a Sentinel names another primary, start the old one again (it becomes a replica)."""
    while await _primary_port(sentinel_ports) == old.port:  # noqa: ASYNC110 (another process)
        await asyncio.sleep(0.1)
    old.restart()


async def _load(settings: QueueSettings, primary: RedisServer, ports: list[int]) -> Ledger:
    ledger = Ledger()
    registry = JobRegistry()

    @registry.job("sentinel:count")
    async def count(payload: dict[str, int]) -> None:
        ledger.ran[payload["n"]] += 1

    numbers = iter(range(JOBS))
    tasks: list[asyncio.Task[None]] = []

    async def produce(queue: JobQueue) -> None:
        for n in numbers:
            if n == KILL_AT:
                primary.kill()
                tasks.append(asyncio.create_task(_bring_back_as_replica(primary, ports)))
            for _ in range(600):  # tries with the same id until one is acknowledged
                try:
                    await queue.enqueue_with_options(
                        "sentinel:count", {"n": n}, EnqueueOptions(job_id=f"s{n}")
                    )
                except DuplicateJobError:
                    pass  # an earlier try was stored after all
                except QueueUnavailableError:
                    ledger.refused += 1
                    await asyncio.sleep(0.05)
                    continue
                ledger.accepted.add(n)
                break

    async with JobQueue(RedisJobBroker(settings, registry=registry)) as queue:
        worker_broker = RedisJobBroker(settings, registry=registry)
        async with run_worker(worker_broker):
            await asyncio.wait_for(asyncio.gather(*(produce(queue) for _ in range(PRODUCERS))), 120)
            await asyncio.wait_for(asyncio.gather(*tasks), 60)
            await asyncio.wait_for(_drained(queue.broker), 120)
    return ledger


async def _drained(broker: object) -> None:
    """Until the queue holds nothing left to run, after the failover."""
    assert isinstance(broker, RedisJobBroker)
    inspector = Inspector(broker)
    quiet_since = time.monotonic()
    while time.monotonic() - quiet_since < 1.0:
        await asyncio.sleep(0.1)
        with contextlib.suppress(QueueUnavailableError, ConnectionError, OSError):
            stats = next(s for s in await inspector.stats() if s.queue == "default")
            if stats.pending + stats.active + stats.retry + stats.scheduled:
                quiet_since = time.monotonic()


def _settings(ports: list[int], durable: int) -> QueueSettings:
    return QueueSettings(
        sentinels=[f"127.0.0.1:{port}" for port in ports],
        sentinel_master=MASTER,
        lease_timeout=2.0,
        recovery_interval=0.2,
        durable_replicas=durable,
        durable_timeout=1.0,
    )


async def test_with_durable_enqueue_every_acknowledged_job_completes(
    topology: tuple[RedisServer, list[RedisServer], list[int]],
) -> None:
    primary, _, ports = topology
    ledger = await _load(_settings(ports, durable=1), primary, ports)
    lost, _ = ledger.report("durable enqueue (QUEUE_DURABLE_REPLICAS=1)")
    assert len(ledger.accepted) == JOBS
    assert await _primary_port(ports) != primary.port, "no failover happened"
    assert lost == 0


async def test_without_durable_enqueue_the_loss_is_measured(
    topology: tuple[RedisServer, list[RedisServer], list[int]],
) -> None:
    primary, _, ports = topology
    ledger = await _load(_settings(ports, durable=0), primary, ports)
    ledger.report("plain enqueue")
    assert len(ledger.accepted) == JOBS  # producers carried on by themselves
    assert await _primary_port(ports) != primary.port, "no failover happened"
    assert ledger.ran, "the worker carried on after the failover"


async def test_the_cache_follows_a_failover(
    topology: tuple[RedisServer, list[RedisServer], list[int]],
) -> None:
    primary, _, ports = topology
    settings = CacheSettings(sentinels=[f"127.0.0.1:{p}" for p in ports], sentinel_master=MASTER)
    async with open_cache(settings) as cache:
        await cache.set("greeting", "hello")
        await asyncio.sleep(0.2)  # the replica has it
        primary.kill()
        deadline = time.monotonic() + 30
        while True:
            try:
                assert await cache.get("greeting") == "hello"
                await cache.set("after", "failover")
                break
            except (ConnectionError, OSError, RedisError):
                assert time.monotonic() < deadline, "the cache never found the new primary"
                await asyncio.sleep(0.1)
    assert await _primary_port(ports) != primary.port


def test_a_cache_setting_that_cannot_work_names_the_cache_variable() -> None:
    with pytest.raises(ConfigurationError, match="CACHE_SENTINEL_MASTER"):
        CacheSettings.from_env(sentinels="127.0.0.1:26379")
