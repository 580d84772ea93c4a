"""Request bodies and the "job accepted" answer, shared by the FastAPI and the aiohttp app."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, Field

from examples.app.jobs.types import EMAIL_PATTERN
from jobqueue import JobInfo


class NewUser(BaseModel):
    """The body of `POST /users`."""

    name: str = Field(min_length=1, max_length=200)
    email: str = Field(pattern=EMAIL_PATTERN)


class ReportRequest(BaseModel):
    """The body of `POST /reports`; `delay_seconds` defaults to the app's `REPORT_DELAY`."""

    report_type: Literal["users", "signups"] = "users"
    start_date: date | None = None
    end_date: date | None = None
    delay_seconds: float | None = Field(default=None, ge=0, le=86_400)


class WebhookEvent(BaseModel):
    """The body of `POST /webhooks/{source}`."""

    event_id: str = Field(min_length=1)
    event: str = Field(min_length=1)
    data: dict[str, Any] = Field(default_factory=dict)


def accepted(info: JobInfo) -> dict[str, Any]:
    """The JSON answer for an enqueued job."""
    return {
        "job_id": info.id,
        "job_type": info.job_type,
        "queue": info.queue,
        "state": info.state.value,
        "process_at": info.process_at.isoformat(),
    }
