"""SIGKILL storm: worker processes are killed one after another while jobs flow.

A steady load of short jobs (10-50 ms) runs on several worker commands. Every couple of seconds
the harness SIGKILLs the worker process of a random command; Taskiq's process manager starts a
new one. The jobs the killed process held come back when their leases run out (2 s here) and
run elsewhere.

Promise: no job is lost; a job completes more than once only if it had started in a killed
process (it was caught mid-run, or finished and its acknowledgement had not reached Redis); no
worker process exits other than the ones the harness killed.
"""

from __future__ import annotations

import asyncio
import random
import time

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

NAME = "sigkill-storm"
TITLE = "SIGKILL of random worker processes, repeatedly"
PROMISE = "0 lost; twice only for jobs that started in a killed process; 0 unexpected worker exits"


async def run(ctx: Context) -> ScenarioResult:
    """Run the scenario."""
    result = ScenarioResult(NAME, TITLE, PROMISE)
    jobs, rate = ctx.pick(900, 6000), ctx.pick(100, 150)
    kills, every = ctx.pick(4, 20), ctx.pick(1.5, 2.0)
    async with Stage(ctx, workers=ctx.pick(3, 4)) as stage:
        load = asyncio.create_task(
            stage.producer.steady(jobs, rate, lambda i: work_item(new_id("storm", i), random_ms()))
        )
        await asyncio.sleep(1.0)
        give_up = time.monotonic() + 4 * kills * every
        while len(stage.pool.killed) < kills and time.monotonic() < give_up:
            if stage.pool.sigkill_child(random.randrange(stage.pool.size)) is None:
                await asyncio.sleep(0.1)  # that one is restarting: pick again
                continue
            await asyncio.sleep(every)
        await load
        accepted = set(stage.producer.accepted)
        await stage.drain(accepted, set(), seconds=30)
        found = await stage.collect()
        crashes = stage.pool.crash_report()
        ledger = stage.ledger
        pool = stage.pool
        producer = stage.producer
    counts = tally(accepted, ledger, found.dead)
    fill(
        result,
        counts,
        crashes,
        pool,
        allowed_twice=ledger.started_in(pool.killed),
        anomalies=state_anomalies(found.places, ledger.first_done()),
        found=found,
        producer=producer,
    )
    fault_end = pool.kill_times[-1] if pool.kill_times else None
    set_times(result, ledger, fault_end, rate)
    result.fail(crashes.unexpected > 0, f"{crashes.unexpected} unexpected worker exits")
    result.fail(len(pool.killed) < kills, f"only {len(pool.killed)} of {kills} kills happened")
    result.notes.append(f"{len(pool.killed)} worker processes SIGKILLed")
    return result.finish()
