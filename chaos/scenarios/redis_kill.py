"""Redis is SIGKILLed under a steady load and restarted on its append-only file.

Redis runs with `appendonly yes` and `appendfsync always` (see `ChaosRedis`), so whatever it
answered before it died is in the file. It stays down a few seconds, then a new server starts
on the same port from the same directory and answers `-LOADING` while it replays the file
(slowed down on purpose, so the window is long enough to matter); twice in the full run.
Workers keep running; the producer re-sends what failed, with the same job ids. Completed jobs
are kept for ten minutes (`QUEUE_COMPLETED_RETENTION`), so that a re-send of a job that had in
fact landed and already ran is refused as a duplicate instead of running it again: doubles
are then jobqueue's doing.

Promise: no job lost, no job completed twice (an acknowledgement that failed during the outage
is sent again once Redis is back), no worker process exits, and the producer sees only
transient errors (connection, timeout, "busy loading" or jobqueue's "unavailable"), never a
plain `ResponseError`.
"""

from __future__ import annotations

import asyncio
import time
from typing import Literal

from chaos.harness import (
    Context,
    ScenarioResult,
    Stage,
    fill,
    new_id,
    random_ms,
    set_times,
    state_anomalies,
    tally,
    work_item,
)

NAME = "redis-sigkill"
TITLE = "SIGKILL of Redis, restart on its AOF (same port)"
PROMISE = (
    "0 lost, 0 ran twice, 0 worker exits; the producer sees only transient errors during the outage"
)


async def run_outage(
    ctx: Context, result: ScenarioResult, how: Literal["sigkill", "shutdown"]
) -> ScenarioResult:
    """Steady load, one Redis outage (`how`), restart on the AOF, drain, verdict."""
    jobs, rate = ctx.pick(800, 5000), ctx.pick(100, 150)
    before, down = ctx.pick(2.5, 8.0), ctx.pick(2.0, 5.0)
    async with Stage(
        ctx,
        workers=3,
        aof=True,
        loading_delay_us=100,
        ballast=6000,
        completed_retention=600,
    ) as stage:
        load = asyncio.create_task(
            stage.producer.steady(jobs, rate, lambda i: work_item(new_id(how, i), random_ms()))
        )
        outages: list[tuple[float, float, float]] = []
        for _ in range(ctx.pick(1, 2)):
            await asyncio.sleep(before)
            fault_start = time.time()
            if how == "sigkill":
                stage.redis.kill()
            else:
                await stage.redis.shutdown_nosave()
            await asyncio.sleep(down)
            restart_at = time.time()
            fault_end = await stage.redis.restart()
            outages.append((fault_start, restart_at, fault_end))
        await load
        accepted = set(stage.producer.accepted)
        await stage.drain(accepted, set(), seconds=60)
        found = await stage.collect()
        crashes = stage.pool.crash_report()
        ledger, pool, producer = stage.ledger, stage.pool, stage.producer
    counts = tally(accepted, ledger, found.dead)
    fill(
        result,
        counts,
        crashes,
        pool,
        allowed_twice=None,
        anomalies=state_anomalies(found.places, ledger.first_done()),
        found=found,
        producer=producer,
    )
    set_times(result, ledger, outages[-1][2], rate)
    result.fail(crashes.unexpected > 0, f"{crashes.unexpected} worker processes exited")
    plain = {k: n for k, n in producer.errors.items() if "ResponseError" in k}
    result.fail(bool(plain), f"the producer got plain ResponseErrors: {plain}")
    result.details["outages"] = [
        {"start": start, "restart": restart, "end": end} for start, restart, end in outages
    ]
    result.notes.append(
        "Redis down "
        + ", ".join(f"{r - s:.1f} s then loading {e - r:.1f} s" for s, r, e in outages)
        + f"; {len(producer.landed_earlier)} re-sent jobs had landed"
    )
    return result.finish()


async def run(ctx: Context) -> ScenarioResult:
    """Run the scenario."""
    return await run_outage(ctx, ScenarioResult(NAME, TITLE, PROMISE), "sigkill")
