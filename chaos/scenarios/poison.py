"""Poison messages: bad jobs among good ones.

Between two batches of good jobs go:

- garbage written straight into Redis where a job would be (see `chaos.layout`): bytes that
  are not UTF-8, text that is not JSON, an empty message, JSON that is not a job (an object, an
  array), a job message whose `args` is not a list, one whose label does not parse as its
  declared type, one whose `task_id` is another job's, and an id in pending with no job at all;
- through the producer: a job type no worker handles, a huge payload (5 MB; 20 MB in the full
  run) of a good job type, and jobs whose handlers raise `BaseException`, `SystemExit` or
  `KeyboardInterrupt` (with `max_retry=0`), or end their worker process with `os._exit(1)`.

The job that ends its worker goes in a second phase, once the first has settled, again
between good jobs: the jobs its worker had fetched with it come back when their leases run
out, and must complete too. Every poison payload carries a random marker string; the worker
logs are searched for it.

Promise: every bad job ends in dead with a reason that says what was wrong (`malformed` for the
garbage, `no job stored` for the bare id, `unknown job type`, the exception's class name, and
`lost` for the job that kills its worker `QUEUE_MAX_DELIVERIES` times, 3 in the quick run
and the default 5 in the full one); the huge job
completes, or is refused at enqueue with a jobqueue error; no bad message runs a handler; the
good jobs all complete; no worker process exits except through the deliberate `os._exit`
(counted apart); and no payload bytes appear in any worker log.
"""

from __future__ import annotations

import uuid
from typing import Any

import orjson

from chaos import layout
from chaos.harness import (
    Context,
    EnqueueItem,
    ScenarioResult,
    Stage,
    fill,
    new_id,
    random_ms,
    state_anomalies,
    tally,
    work_item,
)
from jobqueue import EnqueueOptions

MAX_DELIVERIES = {True: 3, False: 5}
"""`QUEUE_MAX_DELIVERIES` in the quick and the full run (5 is the default)."""
NAME = "poison"
TITLE = "garbage in Redis, unknown types, huge payload, BaseException, os._exit"
PROMISE = (
    "every bad job in dead with a reason that says what was wrong; good jobs all complete; "
    "0 worker exits but the deliberate os._exit; no payload bytes in worker logs; the dead set "
    "stays readable through Inspector"
)


def _message(task_id: str, task_name: str, args: Any, **labels: Any) -> bytes:
    """A Taskiq message as jobqueue's producer writes it, with any `args` and labels."""
    return orjson.dumps(
        {
            "task_id": task_id,
            "task_name": task_name,
            "labels": {"queue": "default", **labels.get("labels", {})},
            "labels_types": labels.get("labels_types", {}),
            "args": args,
            "kwargs": {},
        }
    )


def raw_jobs(marker: str) -> dict[str, tuple[bytes | None, str]]:
    """Id -> (stored message or None, the reason expected in dead)."""
    m = marker.encode()
    work = {"key": "poison-ran-labels", "ms": 1, "marker": marker}
    return {
        "poison-raw-binary": (b"\xff\xfe\x00\x01" + m + b"\x80\x81 garbage", "malformed"),
        "poison-raw-not-json": (b"{not json " + m, "malformed"),
        "poison-raw-empty": (b"", "malformed"),
        "poison-raw-object": (orjson.dumps({"marker": marker, "not": "a job"}), "malformed"),
        "poison-raw-array": (orjson.dumps([marker, 1, 2]), "malformed"),
        "poison-raw-args": (_message("poison-raw-args", "chaos:work", marker), "malformed"),
        "poison-raw-label": (
            _message(
                "poison-raw-label",
                "chaos:work",
                [work],
                labels={"timeout": marker},
                labels_types={"timeout": 4},  # FLOAT: the value does not parse
            ),
            "malformed",
        ),
        "poison-raw-other-id": (
            _message(
                "poison-someone-else",
                "chaos:work",
                [{"key": "poison-ran-other-id", "ms": 1, "marker": marker}],
            ),
            "malformed",
        ),
        "poison-raw-no-job": (None, "no job stored"),
    }


def raw_records(marker: str) -> dict[str, tuple[bytes, str]]:
    """Id -> (stored record in the current layout, the reason expected in dead)."""
    m = marker.encode()
    us = b"\x1f"
    return {
        "poison-rec-binary": (b"\xff\xfe\x00" + m + b"\x80", "malformed"),
        "poison-rec-fields": (b"chaos:work" + us + b"1" + us + m, "malformed"),
        "poison-rec-options": (us.join([b"chaos:work", b"1", b"", b"r=x", b"", m]), "malformed"),
        "poison-rec-labels": (us.join([b"chaos:work", b"1", b"", b"", b"[1]", b"{}"]), "malformed"),
        "poison-rec-body": (us.join([b"chaos:work", b"1", b"", b"", b"", b"{" + m]), "malformed"),
        "poison-rec-shape": (us.join([b"chaos:work", b"1", b"", b"a=1", b"", b"[1]"]), "malformed"),
    }


def produced_jobs(marker: str, huge_mb: int) -> dict[str, tuple[EnqueueItem, str | None]]:
    """Id -> (what the producer enqueues, the reason expected in dead; None: completes)."""
    out: dict[str, tuple[EnqueueItem, str | None]] = {}

    def add(job_id: str, job_type: str, payload: dict[str, Any], reason: str | None) -> None:
        opts = EnqueueOptions(max_retry=0, job_id=job_id)
        out[job_id] = ((job_type, {"key": job_id, "marker": marker, **payload}, opts), reason)

    add("poison-unknown-type", "chaos:no-such-type", {}, "unknown job type")
    blob = marker + "x" * (huge_mb * 1024 * 1024)
    add("poison-huge", "chaos:work", {"ms": 1, "blob": blob}, None)
    for kind in ("BaseException", "SystemExit", "KeyboardInterrupt"):
        add(f"poison-raises-{kind}", "chaos:raise", {"kind": kind}, kind)
    add("poison-os-exit", "chaos:raise", {"kind": "exit"}, "lost")
    return out


async def run(ctx: Context) -> ScenarioResult:
    """Run the scenario: the bad messages first, then the job that kills its worker."""
    result = ScenarioResult(NAME, TITLE, PROMISE)
    marker = f"POISON-{uuid.uuid4().hex[:12]}"
    good = ctx.pick(100, 500)
    raw = raw_jobs(marker)
    records = raw_records(marker)
    produced = produced_jobs(marker, ctx.pick(5, 20))
    killer = produced.pop("poison-os-exit")
    expected_dead = {k: reason for k, (_, reason) in raw.items()}
    expected_dead |= {k: reason for k, (_, reason) in records.items()}
    expected_dead |= {k: reason for k, (_, reason) in produced.items() if reason}
    expected_dead["poison-os-exit"] = "lost"
    numbers = iter(range(10**6))

    def goods() -> list[EnqueueItem]:
        return [work_item(new_id("good", next(numbers)), random_ms(5, 20)) for _ in range(good)]

    async with Stage(
        ctx, workers=2, lease_timeout=2, max_deliveries=MAX_DELIVERIES[ctx.quick]
    ) as stage:
        producer = stage.producer
        # Phase 1: messages that cannot run, and handlers that raise; between good jobs.
        await producer.submit(goods())
        for job_id, (message, _) in raw.items():
            await layout.write_raw_bad_job(
                producer.broker.client, stage.settings.key_prefix, "default", job_id, message
            )
        for job_id, (record, _) in records.items():
            await layout.write_raw_bad_record(
                producer.broker.client, stage.settings.key_prefix, "default", job_id, record
            )
        for item, _ in produced.values():
            await producer.submit([item])
        await producer.submit(goods())
        first = set(producer.accepted) | set(raw) | set(records)
        await stage.drain(first - set(expected_dead), set(expected_dead), seconds=30)
        # Phase 2: a job that ends its worker process, between good jobs.
        await producer.submit(goods())
        await producer.submit([killer[0]])
        await producer.submit(goods())
        jobs_in = set(producer.accepted) | set(raw) | set(records)
        await stage.drain(jobs_in - set(expected_dead), set(expected_dead), seconds=45)
        found = await stage.collect()
        crashes = stage.pool.crash_report(marker)
        ledger, pool = stage.ledger, stage.pool
    huge_refusal = producer.refused.pop("poison-huge", None)
    counts = tally(jobs_in, ledger, found.dead, expected_dead)
    fill(
        result,
        counts,
        crashes,
        pool,
        allowed_twice=ledger.started_in(pool.deliberate_pids()),
        anomalies=state_anomalies(found.places, ledger.first_done()),
        found=found,
        producer=producer,
    )
    if huge_refusal is not None:
        result.fail(
            not huge_refusal.startswith("jobqueue."),
            f"the huge payload was refused with a non-jobqueue error: {huge_refusal}",
        )
        result.notes.append(f"huge payload refused at enqueue: {huge_refusal}")
    ran = sorted(k for k in ledger.done_counts() if k.startswith("poison-ran-"))
    result.fail(bool(ran), f"malformed messages ran their handler: {ran}")
    result.fail(crashes.unexpected > 0, f"{crashes.unexpected} unexpected worker exits")
    result.fail(
        crashes.marker_lines > 0,
        f"poison payload bytes in worker logs: {crashes.marker_lines} lines with the marker "
        f"(longest log line {crashes.longest_log_line:,} characters)",
    )
    bad = sorted(expected_dead)
    result.notes.append(
        "bad jobs: "
        + "; ".join(f"{k.removeprefix('poison-')} -> {_short(found.dead.get(k))}" for k in bad)
    )
    result.details["bad_jobs"] = {k: found.dead.get(k) for k in bad}
    return result.finish()


def _short(reason: str | None) -> str:
    if reason is None:
        return "not in dead"
    return reason.split("\n", 1)[0][:70]
