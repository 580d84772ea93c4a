"""Unique-job races: several producer processes enqueue the same unique job at the same time.

Four processes (`python -m chaos.scenarios.unique_races ...`, each with its own connection)
wait for the harness's go, then each fires 50 concurrent
`enqueue_with_options("chaos:work", {"key": "unique-<round>"}, EnqueueOptions(unique=True,
unique_ttl=60))`, for several rounds. No worker runs while they race (a completed job
releases its lock, and a later enqueue would then rightly succeed). Afterwards one worker
starts and runs whatever was stored.

Promise: in each round exactly one enqueue succeeds, all the others get `DuplicateJobError`
(nothing else), exactly one job is stored, and it runs exactly once.
"""

from __future__ import annotations

import asyncio
import collections
import json
import subprocess
import sys
import time
from typing import Any

from pydantic import SecretStr
from redis.asyncio import Redis

from chaos.harness import (
    ROOT,
    Context,
    ScenarioResult,
    Stage,
    describe,
    fill,
    state_anomalies,
    tally,
)
from jobqueue import DuplicateJobError, EnqueueOptions, JobInfo, JobQueue, QueueSettings
from jobqueue.redis import RedisJobBroker
from jobqueue.redis.inspector import Inspector

NAME = "unique-races"
TITLE = "4 processes x 50 tasks enqueue one unique job at once"
PROMISE = "exactly one accepted, stored and run per round; the rest DuplicateJobError"
CONTROL = "chaos-harness:unique"


async def child(url: str, prefix: str, rounds: int, tasks: int) -> None:
    """One racing producer: print one JSON line of what each round gave it."""
    settings = QueueSettings(url=SecretStr(url), key_prefix=prefix)
    control = Redis.from_url(url)
    opts = EnqueueOptions(unique=True, unique_ttl=60)
    out: list[dict[str, Any]] = []
    async with JobQueue(RedisJobBroker(settings)) as queue:
        await queue.enqueue_many([])  # connected before the race starts
        await control.incr(f"{CONTROL}:ready")
        for number in range(rounds):
            while int(await control.get(f"{CONTROL}:go") or -1) < number:  # noqa: ASYNC110
                await asyncio.sleep(0.001)
            payload = {"key": f"unique-{number}", "ms": 1}
            results = await asyncio.gather(
                *(queue.enqueue_with_options("chaos:work", payload, opts) for _ in range(tasks)),
                return_exceptions=True,
            )
            counts: collections.Counter[str] = collections.Counter()
            ids = []
            for item in results:
                if isinstance(item, JobInfo):
                    counts["accepted"] += 1
                    ids.append(item.id)
                elif isinstance(item, DuplicateJobError):
                    counts["duplicate"] += 1
                else:
                    counts[describe(item)] += 1
            out.append({"round": number, "counts": dict(counts), "ids": ids})
            await control.incr(f"{CONTROL}:done:{number}")
    await control.aclose()
    print(json.dumps(out), flush=True)


def spawn(ctx: Context, argv: list[str], count: int) -> list[subprocess.Popen[bytes]]:
    """Start the racing producer processes (their stderr goes to a log each)."""
    children = []
    for i in range(count):
        with ctx.path(f"producer-{i}.log").open("wb") as log:
            children.append(subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=log))
    return children


async def run(ctx: Context) -> ScenarioResult:
    """Run the scenario."""
    result = ScenarioResult(NAME, TITLE, PROMISE)
    processes, tasks, rounds = 4, 50, ctx.pick(10, 50)
    async with Stage(ctx, workers=0) as stage:
        control = stage.redis.admin
        argv = [sys.executable, "-m", "chaos.scenarios.unique_races", stage.redis.url]
        argv += [stage.settings.key_prefix, str(rounds), str(tasks)]
        children = spawn(ctx, argv, processes)
        try:
            deadline = time.monotonic() + 60
            while int(await control.get(f"{CONTROL}:ready") or 0) < processes:
                if time.monotonic() > deadline or any(c.poll() is not None for c in children):
                    raise RuntimeError("the racing producers did not start")
                await asyncio.sleep(0.05)
            for number in range(rounds):
                await control.set(f"{CONTROL}:go", number)
                while int(await control.get(f"{CONTROL}:done:{number}") or 0) < processes:
                    if time.monotonic() > deadline + 60 * (number + 1):
                        raise RuntimeError(f"round {number} did not finish")
                    await asyncio.sleep(0.01)
            outputs = [await asyncio.to_thread(c.communicate, timeout=60) for c in children]
            reports = [json.loads(out) for out, _ in outputs]
        finally:
            for c in children:
                if c.poll() is None:
                    c.kill()
                    c.wait(5)
        stored = collections.Counter(
            str(record.payload.get("key"))
            for record in await Inspector(stage.producer.broker).jobs("default", "pending", 10**6)
            if isinstance(record.payload, dict)
        )
        stage.pool.size = 1
        stage.pool.start()
        await stage.pool.wait_ready()
        keys = {f"unique-{n}" for n in range(rounds)}
        await stage.drain(keys, set(), seconds=30)
        found = await stage.collect()
        crashes = stage.pool.crash_report()
        ledger, pool = stage.ledger, stage.pool
    per_round: dict[int, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    for report in reports:
        for entry in report:
            per_round[entry["round"]].update(entry["counts"])
    counts = tally(keys, ledger, found.dead)
    fill(
        result,
        counts,
        crashes,
        pool,
        allowed_twice=None,
        anomalies=state_anomalies(found.places, ledger.first_done()),
        found=found,
    )
    result.jobs_in = sum(c["accepted"] for c in per_round.values())
    wrong = {n: dict(c) for n, c in per_round.items() if c["accepted"] != 1}
    result.fail(bool(wrong), f"rounds without exactly one accepted enqueue: {wrong}")
    errors = {
        n: {k: v for k, v in c.items() if k not in ("accepted", "duplicate")}
        for n, c in per_round.items()
    }
    errors = {n: e for n, e in errors.items() if e}
    result.fail(bool(errors), f"enqueues that failed otherwise than as duplicates: {errors}")
    not_one = {k: n for k in sorted(keys) if (n := stored[k]) != 1}
    result.fail(bool(not_one), f"rounds without exactly one stored job: {not_one}")
    result.fail(crashes.unexpected > 0, f"{crashes.unexpected} worker processes exited")
    result.notes.append(
        f"{rounds} rounds of {processes} x {tasks} enqueues: "
        f"{sum(c['accepted'] for c in per_round.values())} accepted, "
        f"{sum(c['duplicate'] for c in per_round.values())} duplicates"
    )
    result.not_applicable += ["recov s", "drain s"]
    return result.finish()


if __name__ == "__main__":
    asyncio.run(child(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])))
