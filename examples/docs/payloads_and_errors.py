"""Payloads, refused options and the error hierarchy.

    python examples/docs/payloads_and_errors.py

Runs against a throw-away Redis; every enqueue below is refused before anything is stored.
"""

from __future__ import annotations

import asyncio
import decimal
import enum
import uuid
from datetime import UTC, date, datetime

from pydantic import BaseModel

from jobqueue import (
    EnqueueOptions,
    InvalidOptionsError,
    JobQueueError,
    JobRegistry,
    PayloadError,
    Queue,
    QueueSettings,
    UnknownQueueError,
    connect,
)
from jobqueue.testing import RedisServer

jobs = JobRegistry()


class Invoice(BaseModel):
    """A payload model: producers send an instance, the handler receives one."""

    invoice_id: uuid.UUID
    amount: decimal.Decimal
    due: date


@jobs.job("invoice:send")
async def send_invoice(payload: Invoice) -> None:
    """Not run here."""


# --8<-- [start:payloads]
class Plan(enum.Enum):
    """Stored as its value."""

    FREE = "free"
    PRO = "pro"


async def payload_examples(queue: Queue) -> None:
    # A pydantic model is stored as model_dump(mode="json").
    invoice = Invoice(invoice_id=uuid.uuid4(), amount=decimal.Decimal("9.90"), due=date.today())
    await queue.enqueue("invoice:send", invoice)

    # A dict is validated against the handler's payload type when the queue knows the job type
    # (through its registry, or a JobType); the error names the field.
    try:
        await queue.enqueue("invoice:send", {"invoice_id": "42", "amount": "9.90", "due": "soon"})
    except PayloadError as exc:
        print(exc)
        invalid_field = exc.field
    assert invalid_field == "payload.invoice_id"

    # Dicts, lists and scalars are stored as JSON; datetimes, dates, UUIDs and Decimals become
    # strings and enums their values.
    await queue.enqueue("audit:log", {"at": datetime.now(UTC), "plan": Plan.PRO, "ids": [1, 2]})

    # Anything else is refused, and the error names the field.
    fields = []
    for bad in [{"user": {"tags": {"a", "b"}}}, {"scores": [1.0, float("nan")]}, {1: "x"}]:
        try:
            await queue.enqueue("audit:log", bad)
        except PayloadError as exc:
            print(f"{exc.job_type}: {exc}")
            fields.append(exc.field)
    assert fields == ["payload.user.tags", "payload.scores[1]", "payload"]


# --8<-- [end:payloads]


# --8<-- [start:refused]
def refused_options() -> None:
    # Contradictory or invalid options are refused when the options are built.
    for kwargs in [
        {"delay": 60, "process_at": datetime.now(UTC)},  # one or the other
        {"process_at": datetime(2030, 1, 1)},  # naive datetime
        {"max_retry": -1},
        {"timeout": 0},
        {"delay": -5},
        {"unique_ttl": 60},  # unique_ttl without unique=True
        {"unique": True, "unique_ttl": 0},
        {"job_id": ""},
        {"job_id": "a{b}"},  # braces are reserved by Redis hash tags
    ]:
        try:
            EnqueueOptions(**kwargs)  # type: ignore[arg-type]
        except InvalidOptionsError as exc:
            print(f"{kwargs}: {exc}")
        else:
            raise AssertionError(f"accepted {kwargs}")


async def refused_at_enqueue(queue: Queue) -> None:
    # Some checks need the configuration or the job type, so they run at enqueue.
    try:
        await queue.enqueue_with_options("audit:log", {}, EnqueueOptions(queue="urgent"))
    except UnknownQueueError as exc:
        print(f"{exc.queue!r} is not one of {exc.known}")
    try:  # unique without a TTL in the options or on the job type
        await queue.enqueue_with_options("audit:log", {}, EnqueueOptions(unique=True))
    except InvalidOptionsError as exc:
        print(exc)


# --8<-- [end:refused]


# --8<-- [start:hierarchy]
async def catch_everything(queue: Queue) -> None:
    try:
        await queue.enqueue("audit:log", {"when": object()})
    except JobQueueError as exc:  # the root of every error jobqueue raises
        print(f"refused ({type(exc).__name__}): {exc}")
    # PayloadError and InvalidOptionsError are also ValueErrors.
    assert issubclass(PayloadError, ValueError)
    assert issubclass(InvalidOptionsError, ValueError)


# --8<-- [end:hierarchy]


async def main(settings: QueueSettings) -> None:
    refused_options()
    async with connect(settings, registry=jobs) as queue:
        await payload_examples(queue)
        await refused_at_enqueue(queue)
        await catch_everything(queue)


if __name__ == "__main__":
    with RedisServer() as server:
        asyncio.run(main(QueueSettings.from_env(url=server.url)))
