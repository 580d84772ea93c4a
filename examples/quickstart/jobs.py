"""The quickstart's jobs: plain async functions registered under a job type."""

from __future__ import annotations

import logging

from pydantic import BaseModel

from jobqueue import JobRegistry, PermanentError, fixed_schedule

registry = JobRegistry()
log = logging.getLogger("quickstart.jobs")

JOB_SEND_EMAIL = "email:send"


class SendEmail(BaseModel):
    """What a producer puts in an `email:send` job."""

    user_id: int
    to: str
    subject: str


@registry.job(JOB_SEND_EMAIL, max_retry=4, timeout=10, retry_delay=fixed_schedule(30, 60, 300, 600))
async def send_email(payload: SendEmail) -> None:
    """Pretend to send an email; an address without '@' can never succeed, so do not retry it."""
    if "@" not in payload.to:
        raise PermanentError(f"invalid address {payload.to!r}")
    log.info("sent email %r to %s (user %d)", payload.subject, payload.to, payload.user_id)
