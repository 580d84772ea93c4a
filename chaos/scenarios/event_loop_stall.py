"""A job blocks its worker's event loop for longer than the lease.

Worker A takes three innocent jobs and one `chaos:stall` job; then worker B starts and takes
innocent jobs of its own until it is full. All of them wait for a trigger file. Once it exists, the
innocent jobs sleep (asyncio) two leases (4 s; 6 s in the full run) and the stall job blocks A's
event loop with `time.sleep(1.5 * lease)` (on its first run; a job that stalls on every run can
never keep its lease, and goes to dead as lost after `QUEUE_MAX_DELIVERIES`): A's heartbeat cannot
run, its leases run out, and B's recovery scan puts A's jobs back in pending. B is busy, so they
wait there until A wakes up, acknowledges the stall job late, and fetches again: A may then hold a
second delivery of a job whose first delivery it still runs. Concurrency and prefetch are small to
make that order of events the likely one, and the stall job's id sorts after the innocent ones, so
that it is the first to be fetched again.

Promise: no job lost, each job completes at most twice, no job in dead (none has a reason to be
there), the stalled worker's late acknowledgement changes nothing (no job is completed and also
pending, retrying or dead: every id in exactly one place, or gone), and no worker process exits.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from chaos.harness import (
    Context,
    EnqueueItem,
    ScenarioResult,
    Stage,
    fill,
    set_times,
    state_anomalies,
    tally,
    work_item,
)
from jobqueue import EnqueueOptions

NAME = "event-loop-stall"
TITLE = "a job blocks the event loop for 1.5 x the lease"
PROMISE = (
    "0 lost, each job done at most twice, nothing in dead, the late ack changes nothing "
    "(every job in one place), 0 worker exits"
)
LEASE = 2.0


async def run(ctx: Context) -> ScenarioResult:
    """Run the scenario."""
    result = ScenarioResult(NAME, TITLE, PROMISE)
    slots = ctx.pick(4, 6)
    innocent_ms = ctx.pick(2 * LEASE, 6.0) * 1000
    trigger = ctx.path("stall-trigger")
    stall_s = 1.5 * LEASE
    on_a = [f"stall-a-innocent-{i}" for i in range(slots - 1)]
    on_b = [f"stall-b-innocent-{i}" for i in range(slots)]
    stall_id = "stall-z-stall"
    stall_payload: dict[str, Any] = {"key": stall_id, "seconds": stall_s, "trigger": str(trigger)}
    stall: EnqueueItem = ("chaos:stall", stall_payload, EnqueueOptions(job_id=stall_id))
    async with Stage(ctx, workers=1, lease_timeout=LEASE, concurrency=slots, prefetch=0) as stage:
        pool, ledger, producer = stage.pool, stage.ledger, stage.producer
        await producer.submit(
            [*(work_item(i, innocent_ms, trigger=str(trigger)) for i in on_a), stall]
        )
        if not await started(ledger, {*on_a, stall_id}, 15):
            raise RuntimeError("worker A did not start its jobs")
        pool.size = 2
        pool.start()
        await pool.wait_ready(slots=[1])
        await producer.submit([work_item(i, innocent_ms, trigger=str(trigger)) for i in on_b])
        if not await started(ledger, set(on_b), 15):
            raise RuntimeError("worker B did not start its jobs")
        trigger.touch()
        fault_end = time.time() + stall_s
        accepted = set(producer.accepted)
        await stage.drain(accepted, set(), seconds=3 * innocent_ms / 1000 + 20)
        found = await stage.collect()
        crashes = pool.crash_report()
    counts = tally(accepted, ledger, found.dead)
    fill(
        result,
        counts,
        crashes,
        pool,
        allowed_twice={k for k, n in counts.ran_twice.items() if n <= 2},
        anomalies=state_anomalies(found.places, ledger.first_done()),
        found=found,
        producer=producer,
    )
    thrice = {k: n for k, n in counts.ran_twice.items() if n > 2}
    result.fail(bool(thrice), f"jobs completed more than twice: {thrice}")
    result.fail(crashes.unexpected > 0, f"{crashes.unexpected} worker processes exited")
    set_times(result, ledger, fault_end, 0)
    result.not_applicable.append("recov s")
    runs = ledger.done_counts()
    result.notes.append(
        f"{crashes.recovery_scans} recovery scans took jobs back; completions per job: "
        + ", ".join(f"{k.removeprefix('stall-')}={runs[k]}" for k in sorted(accepted))
    )
    return result.finish()


async def started(ledger: Any, keys: set[str], seconds: float) -> bool:
    """Wait until each key has a `start` line."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        ledger.refresh()
        if keys <= {e.key for e in ledger.of("start")}:
            return True
        await asyncio.sleep(0.05)
    return False
