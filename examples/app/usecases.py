"""What the endpoints do, apart from HTTP: the FastAPI and the aiohttp app both call these.

Each use case writes what must be written now and leaves the slow part to a job.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from examples.app.jobs.report import report_key
from examples.app.jobs.types import (
    GENERATE_REPORT,
    PROCESS_WEBHOOK,
    SEND_EMAIL,
    SYNC_DATA,
    GenerateReport,
    ProcessWebhook,
    SendEmail,
    SyncData,
)
from examples.app.repository import User, UserRepository
from examples.app.schemas import NewUser, ReportRequest, WebhookEvent
from jobqueue import EnqueueOptions, JobInfo, Queue
from jobqueue.cache import Cache

WEBHOOK_OPTIONS = EnqueueOptions(queue="critical", max_retry=3, timeout=10)
"""Partners wait on webhooks: the critical queue, and a short leash."""
SYNC_OPTIONS = EnqueueOptions(unique=True)
"""One pending sync per entity change: a second request while it waits (at most `SYNC_DATA`'s
`unique_ttl`, 5 minutes) is a duplicate."""


async def register_user(body: NewUser, users: UserRepository, queue: Queue) -> tuple[User, JobInfo]:
    """Store the user, then enqueue the welcome email (sent in the background)."""
    user = await users.create(body.name, body.email)
    # If this enqueue fails the request fails, though the user exists: a real app would use an
    # outbox table, or let the user ask for the email again.
    email = SendEmail(
        user_id=user.id, to=user.email, subject="Welcome!", body=f"Welcome aboard, {user.name}!"
    )
    return user, await queue.enqueue(SEND_EMAIL, email)


async def request_report(
    body: ReportRequest, queue: Queue, default_delay: float
) -> tuple[str, JobInfo]:
    """Enqueue the report to run after a delay (the data settles first); its id to poll for."""
    report_id = uuid.uuid4().hex
    payload = GenerateReport(report_id=report_id, **body.model_dump(exclude={"delay_seconds"}))
    delay = default_delay if body.delay_seconds is None else body.delay_seconds
    return report_id, await queue.enqueue_with_delay(GENERATE_REPORT, payload, delay)


async def read_report(cache: Cache, report_id: str) -> dict[str, Any] | None:
    """The report, once its job has stored it."""
    stored = await cache.get(report_key(report_id))
    return None if stored is None else dict(json.loads(stored))


async def accept_webhook(source: str, event: WebhookEvent, queue: Queue) -> JobInfo:
    """Enqueue the webhook to the critical queue and answer the partner at once."""
    payload = ProcessWebhook(source=source, **event.model_dump())
    return await queue.enqueue_with_options(PROCESS_WEBHOOK, payload, WEBHOOK_OPTIONS)


async def request_sync(change: SyncData, queue: Queue) -> JobInfo:
    """Enqueue a sync of one entity change; `DuplicateJobError` if the same one is pending."""
    return await queue.enqueue_with_options(SYNC_DATA, change, SYNC_OPTIONS)
