"""How long the operator's listings take with a large backlog in Redis.

    python -m benchmarks.operations                 # 1,000,000 jobs
    python -m benchmarks.operations --jobs 100000 --runs 50

Fills a private `redis-server` (never the system's) with jobs in jobqueue's real layout, written
by a Lua script on the server (records in the `jobs` hash, ids in pending / scheduled / retry /
dead / completed, attempt hashes, and the error groups as `group_error` keeps them), plus worker
records as workers write them; then times `Inspector.queue_info()` (with the sampled memory
estimate), `Inspector.error_groups()` and `Inspector.workers()`, and prints the median and the
slowest of `--runs` calls of each. The target is under 100 ms with 1,000,000 jobs.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import orjson
from pydantic import SecretStr
from redis.asyncio import Redis

from jobqueue import QueueSettings
from jobqueue.redis import RedisJobBroker
from jobqueue.redis._keys import QueueKeys, worker_key, workers_index
from jobqueue.redis.inspector import Inspector
from jobqueue.testing import RedisServer

LUA = Path(__file__).resolve().parent.parent / "src" / "jobqueue" / "redis" / "lua"
FILL = """
local base, state, first, count = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local now = now_ms()
local errors = {
  'ValueError: row %d has no id', "ConnectionError: host 'db-%d' refused the connection",
  "KeyError: 'user-%d'", 'TimeoutError: the attempt ran longer than its timeout of %d s',
  'retries exhausted after 3 attempts: RuntimeError: job %d failed upstream',
}
for i = first, first + count - 1 do
  local id = string.format('%032x', i)
  redis.call('HSET', base .. 'jobs', id,
    'bench:job\\31' .. (now - 1000) .. '\\31\\31\\31\\31{"n":' .. i .. '}')
  if state == 'pending' then
    redis.call('LPUSH', base .. 'pending', id)
  elseif state == 'scheduled' then
    redis.call('ZADD', base .. 'scheduled', now + 3600000 + i, id)
  elseif state == 'completed' then
    redis.call('HSET', attempt_key(base, id), 'deliveries', 1, 'completed_at', now)
    redis.call('ZADD', base .. 'completed', now + 3600000, id)
  else
    local err = string.format(errors[i % #errors + 1], i)
    redis.call('HSET', attempt_key(base, id), 'deliveries', 1, 'retried', 1, 'error', err,
      'traceback', 'Traceback (most recent call last): ...', 'failed_at', now)
    redis.call('ZADD', base .. state, now + i, id)
    group_error(base, id, err, now)
  end
end
return count
"""
# Per 1,000,000 jobs: (queue, state, share).
LAYOUT = [
    ("default", "pending", 0.40),
    ("low", "pending", 0.20),
    ("default", "scheduled", 0.10),
    ("default", "retry", 0.05),
    ("default", "dead", 0.15),
    ("low", "dead", 0.05),
    ("critical", "completed", 0.05),
]
CHUNK = 10_000
WORKERS = 50


async def fill(client: Redis, prefix: str, jobs: int) -> None:
    script = (LUA / "_common.lua").read_text() + FILL
    sha = await client.script_load(script)
    first = 0
    for queue, state, share in LAYOUT:
        base = QueueKeys(prefix, queue).base
        todo = int(jobs * share)
        while todo > 0:
            count = min(CHUNK, todo)
            await client.evalsha(sha, 0, base, state, first, count)
            first += count
            todo -= count
    now = time.time()
    async with client.pipeline(transaction=False) as pipe:
        for n in range(WORKERS):
            worker_id = f"bench-host-{n % 5}:{1000 + n}:abc{n:03d}"
            record = {
                "id": worker_id,
                "host": f"bench-host-{n % 5}",
                "pid": 1000 + n,
                "queues": {"critical": 6, "default": 3, "low": 1},
                "concurrency": 10,
                "prefetch": 10,
                "started_at": now - 3600,
                "heartbeat_at": now,
                "ttl": 600,
                "held": 10,
                "running": [
                    {
                        "id": f"{n:016x}{j:016x}",
                        "queue": "default",
                        "type": "bench:job",
                        "started_at": now - j,
                    }
                    for j in range(10)
                ],
                "version": "bench",
            }
            pipe.set(worker_key(prefix, worker_id), orjson.dumps(record), px=600_000)
            pipe.zadd(workers_index(prefix), {worker_id: int(now * 1000) + 600_000})
        await pipe.execute()


async def timed(runs: int, call: Callable[[], Awaitable[Any]]) -> tuple[float, float, Any]:
    result = await call()  # warm up: scripts loaded, connection open
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        result = await call()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), max(times), result


async def main(jobs: int, runs: int) -> None:
    with RedisServer() as server:
        settings = QueueSettings(url=SecretStr(server.url), key_prefix="bench")
        client = Redis.from_url(server.url)
        started = time.monotonic()
        await fill(client, settings.key_prefix, jobs)
        filled = time.monotonic() - started
        info = await client.info("memory")
        print(
            f"{jobs:,} jobs and {WORKERS} workers written in {filled:.1f} s; "
            f"Redis uses {info['used_memory'] / 2**20:.0f} MiB"
        )
        broker = RedisJobBroker(settings)
        await broker.startup()
        try:
            inspector = Inspector(broker)
            rows = [
                ("queue_info() with memory", lambda: inspector.queue_info()),
                ("queue_info(memory=False)", lambda: inspector.queue_info(memory=False)),
                ("error_groups()", lambda: inspector.error_groups()),
                ("workers()", lambda: inspector.workers()),
            ]
            print(f"{'listing':<28}{'median ms':>10}{'max ms':>9}  result")
            for name, call in rows:
                median, slowest, result = await timed(runs, call)
                print(f"{name:<28}{median:>10.2f}{slowest:>9.2f}  {_summary(result)}")
        finally:
            await broker.shutdown()
            await client.aclose()


def _summary(result: list[Any]) -> str:
    if result and hasattr(result[0], "size"):
        return ", ".join(f"{q.queue}: {q.size:,} jobs" for q in result)
    if result and hasattr(result[0], "count"):
        return f"{len(result)} groups, {sum(g.count for g in result):,} jobs"
    return f"{len(result)} items"


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m benchmarks.operations")
    parser.add_argument("--jobs", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    asyncio.run(main(args.jobs, args.runs))
