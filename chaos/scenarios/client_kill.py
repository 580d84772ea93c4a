"""`CLIENT KILL TYPE normal`, repeatedly, under a steady load.

Ten times a second the harness has Redis close every normal client connection (workers' and
the producer's, not its own): what was in flight fails with a connection error, and each
client has to connect again. Nothing is lost on the Redis side; only replies are. Completed
jobs are kept for ten minutes (`QUEUE_COMPLETED_RETENTION`), so that the producer's re-send of
a job that had in fact landed is refused as a duplicate rather than run again.

Promise: no job lost, none completed twice, no worker process exits.
"""

from __future__ import annotations

import asyncio
import time

from chaos.harness import (
    Context,
    ScenarioResult,
    Stage,
    fill,
    is_transient,
    new_id,
    random_ms,
    set_times,
    state_anomalies,
    tally,
    work_item,
)

NAME = "client-kill"
TITLE = "CLIENT KILL TYPE normal of all connections, repeatedly"
PROMISE = "0 lost, 0 ran twice, 0 worker exits"


async def run(ctx: Context) -> ScenarioResult:
    """Run the scenario."""
    result = ScenarioResult(NAME, TITLE, PROMISE)
    jobs, rate = ctx.pick(800, 5000), ctx.pick(100, 150)
    kills, every = ctx.pick(60, 300), 0.1
    kill_times: list[float] = []
    closed = 0
    async with Stage(ctx, workers=3, completed_retention=600) as stage:
        load = asyncio.create_task(
            stage.producer.steady(jobs, rate, lambda i: work_item(new_id("ckill", i), random_ms()))
        )
        await asyncio.sleep(2.0)
        while len(kill_times) < kills and not load.done():
            try:
                closed += await stage.redis.client_kill()
            except Exception as exc:  # the admin connection is never killed, but be safe
                if not is_transient(exc):
                    raise
            kill_times.append(time.time())
            await asyncio.sleep(every)
        await load
        accepted = set(stage.producer.accepted)
        await stage.drain(accepted, set(), seconds=40)
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
    set_times(result, ledger, kill_times[-1] if kill_times else None, rate)
    result.fail(crashes.unexpected > 0, f"{crashes.unexpected} worker processes exited")
    result.notes.append(f"{len(kill_times)} CLIENT KILLs closed {closed} connections in all")
    return result.finish()
