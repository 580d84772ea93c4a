"""Producer rates of jobqueue alone, in-process, against a private Redis; optionally profiled.

    python -m benchmarks.producer seq 10000          # one enqueue at a time
    python -m benchmarks.producer c100 20000         # 100 enqueues in flight
    python -m benchmarks.producer batch 20000        # enqueue_many, 1,000 jobs per call
    python -m benchmarks.producer batch 20000 --profile   # and print cProfile's top functions

Quicker than the full harness for trying a change to the enqueue path; the harness
(`python -m benchmarks --phases enqueue`) is what compares with other systems.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import time

from pydantic import SecretStr

from jobqueue import JobQueue, QueueSettings
from jobqueue.redis import RedisJobBroker
from jobqueue.testing.redis_server import RedisServer

MODES = ("seq", "c100", "batch")


async def measure(url: str, mode: str, n: int, profile: cProfile.Profile | None) -> float:
    settings = QueueSettings(url=SecretStr(url), key_prefix="bench")
    async with JobQueue(RedisJobBroker(settings)) as queue:
        for _ in range(200):  # warm-up: connections, scripts
            await queue.enqueue("noop", 0.0)
        started = time.perf_counter()
        if profile is not None:
            profile.enable()
        if mode == "seq":
            for _ in range(n):
                await queue.enqueue("noop", time.time())
        elif mode == "c100":

            async def sender(count: int) -> None:
                for _ in range(count):
                    await queue.enqueue("noop", time.time())

            await asyncio.gather(*(sender(n // 100) for _ in range(100)))
        else:
            for _ in range(0, n, 1000):
                await queue.enqueue_many([("noop", time.time()) for _ in range(1000)])
        if profile is not None:
            profile.disable()
        return n / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=MODES)
    parser.add_argument("n", type=int)
    parser.add_argument("--profile", action="store_true", help="print cProfile's top 25")
    args = parser.parse_args()
    profile = cProfile.Profile() if args.profile else None
    with RedisServer() as server:
        rate = asyncio.run(measure(server.url, args.mode, args.n, profile))
    print(f"{args.mode}: {rate:,.0f} jobs/s")
    if profile is not None:
        pstats.Stats(profile).sort_stats("tottime").print_stats(25)


if __name__ == "__main__":
    main()
