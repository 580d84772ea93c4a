"""How long the dashboard's pages take with a large backlog in Redis.

    python -m benchmarks.dashboard                  # 1,000,000 jobs
    python -m benchmarks.dashboard --jobs 100000 --runs 50

Fills a private `redis-server` (never the system's) with jobs in jobqueue's real layout, as
`benchmarks.operations` does (its `fill`), serves the dashboard with uvicorn on a free loopback
port, and times whole HTTP requests from a client (render included): the overview page, its
live fragment, a page of dead jobs, the error groups, the workers and the Redis page. It prints
the median and the slowest of `--runs` requests of each. The target for the overview is under
200 ms with 1,000,000 jobs.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import threading
import time

import httpx
import uvicorn
from pydantic import SecretStr
from redis.asyncio import Redis

from benchmarks.operations import WORKERS, fill
from jobqueue import QueueSettings
from jobqueue.testing import RedisServer
from jobqueue.web import dashboard

PAGES = [
    ("overview", "/"),
    ("overview, live part", "/live/overview"),
    ("dead jobs, first page", "/queues/default/dead"),
    ("dead jobs, page 1000", "/queues/default/dead?offset=25000"),
    ("error groups", "/errors"),
    ("workers", "/workers"),
    ("redis", "/redis"),
]


def time_pages(url: str, runs: int) -> None:
    with httpx.Client(base_url=url, timeout=60) as client:
        print(f"{'page':<26}{'median ms':>10}{'max ms':>9}  bytes")
        for name, path in PAGES:
            client.get(path).raise_for_status()  # warm up: broker started, scripts loaded
            times = []
            for _ in range(runs):
                start = time.perf_counter()
                response = client.get(path)
                times.append((time.perf_counter() - start) * 1000)
                response.raise_for_status()
            median, slowest = statistics.median(times), max(times)
            print(f"{name:<26}{median:>10.1f}{slowest:>9.1f}  {len(response.content):,}")


async def filled(url: str, prefix: str, jobs: int) -> None:
    client = Redis.from_url(url)
    try:
        started = time.monotonic()
        await fill(client, prefix, jobs)
        info = await client.info("memory")
        print(
            f"{jobs:,} jobs and {WORKERS} workers written in {time.monotonic() - started:.1f} s; "
            f"Redis uses {info['used_memory'] / 2**20:.0f} MiB"
        )
    finally:
        await client.aclose()


def main(jobs: int, runs: int) -> None:
    with RedisServer() as redis:
        asyncio.run(filled(redis.url, "bench", jobs))
        settings = QueueSettings(url=SecretStr(redis.url), key_prefix="bench")
        config = uvicorn.Config(dashboard(settings), host="127.0.0.1", port=0, log_level="warning")
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        try:
            time_pages(f"http://127.0.0.1:{port}", runs)
        finally:
            server.should_exit = True
            thread.join(10)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m benchmarks.dashboard")
    parser.add_argument("--jobs", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    main(args.jobs, args.runs)
