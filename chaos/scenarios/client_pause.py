"""`CLIENT PAUSE` of every client for longer than the lease, under a steady load.

Redis stops answering everyone (workers, producer) for 3 s with leases of 2 s, a few times,
while jobs of 50-300 ms run (so that many are leased at any instant). Redis's clock runs on:
when a pause ends, every lease taken before it has expired, and the commands the clients
queued meanwhile (heartbeats, recovery scans, acknowledgements, fetches) run in the order
they arrived. When a recovery scan comes before the heartbeats, it takes back the jobs whose
leases ran out while their workers still run them. The ids leased at the instant of a pause
are read in the same write that pauses Redis (see `chaos.layout.leased_then_pause`): those,
and only those, may run twice.

Promise: no job lost, no worker process exits, and a job completes twice only if its lease
expired during a pause; at the end every job is in exactly one place, or gone.
"""

from __future__ import annotations

import asyncio
import time

from chaos import layout
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

NAME = "client-pause"
TITLE = "CLIENT PAUSE ALL longer than the lease (3 s, lease 2 s)"
PROMISE = (
    "0 lost, 0 worker exits; twice only for jobs whose lease expired in the pause; "
    "every job in one place at the end"
)


async def run(ctx: Context) -> ScenarioResult:
    """Run the scenario."""
    result = ScenarioResult(NAME, TITLE, PROMISE)
    jobs, rate = ctx.pick(800, 5000), ctx.pick(100, 150)
    pauses, pause_ms = ctx.pick(2, 4), 3000
    # The pauses spread over the load, the last one ending about when the load does.
    gap = max(2.0, (jobs / rate - pause_ms / 1000) / pauses)
    leased: set[str] = set()
    windows: list[tuple[float, float]] = []
    async with Stage(ctx, workers=3, lease_timeout=2) as stage:
        load = asyncio.create_task(
            stage.producer.steady(
                jobs, rate, lambda i: work_item(new_id("pause", i), random_ms(50, 300))
            )
        )
        for _ in range(pauses):
            await asyncio.sleep(gap)
            started = time.time()
            leased |= await layout.leased_then_pause(
                stage.redis.admin, stage.settings.key_prefix, stage.settings.queues, pause_ms
            )
            windows.append((started, started + pause_ms / 1000))
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
        allowed_twice=leased,
        anomalies=state_anomalies(found.places, ledger.first_done()),
        found=found,
        producer=producer,
    )
    set_times(result, ledger, windows[-1][1], rate)
    result.fail(crashes.unexpected > 0, f"{crashes.unexpected} worker processes exited")
    result.notes.append(
        f"{len(windows)} pauses of {pause_ms} ms; {len(leased)} jobs leased then; "
        f"{crashes.recovery_scans} recovery scans took jobs back"
    )
    result.details["pauses"] = windows
    return result.finish()
