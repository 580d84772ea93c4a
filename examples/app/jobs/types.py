"""Job types and their payloads: all a producer imports to enqueue (no handler code, no container).

A `JobType` ties a name to its payload model and its defaults, so `queue.enqueue(SEND_EMAIL,
payload)` is checked by mypy, validated before anything is stored, and goes to the job type's
queue with its retries and timeout, in a process that never imports the handlers (the API).
Payloads carry ids, not data: a job reads the current state when it runs.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, Field

from jobqueue import JobType

EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
"""Loose on purpose: the email API is the judge of an address."""


class SendEmail(BaseModel):
    """Send one email to a user."""

    user_id: int
    to: str = Field(pattern=EMAIL_PATTERN)
    subject: str = Field(min_length=1, max_length=200)
    body: str


class GenerateReport(BaseModel):
    """Build a report and keep it in the cache under its id."""

    report_id: str
    report_type: Literal["users", "signups"]
    start_date: date | None = None
    end_date: date | None = None


class SyncData(BaseModel):
    """Tell the sync API that an entity changed."""

    entity_type: str
    entity_id: str
    action: Literal["created", "updated", "deleted"]


class ProcessWebhook(BaseModel):
    """A webhook received from a partner, processed out of the request."""

    source: str
    event_id: str
    event: str
    data: dict[str, Any] = Field(default_factory=dict)


# --8<-- [start:job-types]
SEND_EMAIL = JobType("email:send", SendEmail, max_retry=4, timeout=30)
GENERATE_REPORT = JobType("report:generate", GenerateReport, queue="low", max_retry=2, timeout=120)
SYNC_DATA = JobType("data:sync", SyncData, max_retry=5, timeout=30, unique_ttl=300)
"""`unique_ttl`: an enqueue with `unique=True` holds the same change for up to 5 minutes."""
PROCESS_WEBHOOK = JobType("webhook:process", ProcessWebhook)
"""Queue, retries and timeout per enqueue: see `usecases.WEBHOOK_OPTIONS`."""
# --8<-- [end:job-types]
