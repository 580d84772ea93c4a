"""Hostile names: job ids, job types and queue names that no queue should accept.

Each value (empty, 10 kB, 1 MB, with `{` or `}`, with a newline, CR LF or NUL, non-ASCII
Unicode, a lone surrogate that has no UTF-8 form) is tried as a job id
(`EnqueueOptions(job_id=...)`), as a job type, as a queue in the enqueue options, and as a
queue name in the settings (`QueueSettings.from_env(queues=...)`, then an enqueue to it). Before
and after each attempt the whole Redis database is dumped (`DUMP` of every key), so "nothing
stored" does not depend on the storage layout.

Non-ASCII Unicode is a policy choice: job ids and queue names are refused (they end up in Redis
keys, log lines and command lines, where a narrow alphabet is the safe one), while a job type,
which names code rather than data, may be any printable text (`ALLOWED`).

Promise: each attempt fails with a clear jobqueue error (a subclass of `JobQueueError`) and
stores nothing, but for the allowed ones, which are accepted. The row counts attempts in `in`,
and attempts that ended as promised in `done`.
"""

from __future__ import annotations

import collections
from typing import Any, cast

from pydantic import SecretStr
from redis.asyncio import Redis

from chaos.harness import Context, ScenarioResult, Stage, describe
from jobqueue import EnqueueOptions, JobQueue, JobQueueError, QueueSettings
from jobqueue.redis import RedisJobBroker

NAME = "hostile-names"
TITLE = "empty, huge, braces, newline, NUL, unicode names"
PROMISE = "every hostile id, type or queue name refused with a JobQueueError; nothing stored"

VALUES: dict[str, str] = {
    "empty": "",
    "10 kB": "k" * 10 * 1024,
    "1 MB": "m" * 1024 * 1024,
    "open brace": "a{b",
    "close brace": "a}b",
    "hash tag": "{x}",
    "newline": "a\nb",
    "CR LF": "a\r\nb",
    "NUL": "a\x00b",
    "unicode": "jöb-日本-🙂",
    "lone surrogate": "a\udc80b",
}
FIELDS = ("job id", "job type", "queue option", "queue setting")
ALLOWED = {("job type", "unicode")}
"""(field, value) pairs that are names, not hostile ones: they must be accepted."""


def _kept(field: str, label: str, verdict: str) -> bool:
    """Whether a verdict is what the promise asks for (an allowed name is stored as a job)."""
    if (field, label) in ALLOWED:
        return verdict.startswith("accepted")
    return verdict == "refused"


async def snapshot(client: Redis) -> dict[bytes, bytes]:
    """Every key of the database and its serialized value."""
    out: dict[bytes, bytes] = {}
    async for key in client.scan_iter(count=1000):
        value = await client.dump(key)
        if value is not None:
            out[cast(bytes, key)] = value
    return out


async def attempt(stage: Stage, field: str, value: str) -> Any:
    """Try one hostile value in one place; the `JobInfo` if it was accepted."""
    queue = stage.producer.queue
    payload = {"key": "hostile", "ms": 1}
    if field == "job id":
        return await queue.enqueue_with_options("chaos:work", payload, EnqueueOptions(job_id=value))
    if field == "job type":
        return await queue.enqueue_with_options(value, payload, EnqueueOptions())
    if field == "queue option":
        return await queue.enqueue_with_options("chaos:work", payload, EnqueueOptions(queue=value))
    settings = QueueSettings.from_env(
        url=SecretStr(stage.redis.url),
        key_prefix=stage.settings.key_prefix,
        queues={value: 1},
        default_queue=value,
    )
    async with JobQueue(RedisJobBroker(settings)) as other:
        return await other.enqueue("chaos:work", payload)


async def run(ctx: Context) -> ScenarioResult:
    """Run the scenario."""
    result = ScenarioResult(NAME, TITLE, PROMISE)
    outcomes: dict[str, dict[str, str]] = {}
    async with Stage(ctx, workers=0) as stage:
        client = stage.producer.broker.client
        for field in FIELDS:
            for label, value in VALUES.items():
                before = await snapshot(client)
                error: BaseException | None = None
                try:
                    await attempt(stage, field, value)
                except Exception as exc:
                    error = exc
                after = await snapshot(client)
                changed = {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)}
                if error is None:
                    verdict = "accepted"
                elif not isinstance(error, JobQueueError):
                    verdict = f"unclear error {describe(error)[:80]}"
                else:
                    verdict = "refused"
                if changed:
                    verdict += f", stored {len(changed)} keys"
                outcomes.setdefault(field, {})[label] = verdict
    result.jobs_in = len(FIELDS) * len(VALUES)
    result.completed = sum(
        1 for f, by in outcomes.items() for label, v in by.items() if _kept(f, label, v)
    )
    for field, by_value in outcomes.items():
        bad = {
            label: verdict
            for label, verdict in by_value.items()
            if not _kept(field, label, verdict)
        }
        if bad:
            kinds = collections.Counter(v.split(",")[0].split(" ")[0] for v in bad.values())
            result.fail(
                True, f"{field}: {dict(kinds)}: " + "; ".join(f"{k} {v}" for k, v in bad.items())
            )
    result.details["outcomes"] = outcomes
    result.not_applicable += ["dead", "lost", "twice", "crash", "state"]
    return result.finish()
