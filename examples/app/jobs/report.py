"""`report:generate`, in the class-based form: dependencies come in through the constructor.

The registry is given a provider (`providers.Factory(GenerateReportJob, ...)`) and builds one
handler per run, so overriding `container.users` applies to the next run at once.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from examples.app.jobs.types import GenerateReport
from examples.app.repository import User, UserRepository
from jobqueue.cache import Cache, CacheKey

log = logging.getLogger(__name__)

REPORT_KEYS = CacheKey("report")
REPORT_TTL = timedelta(hours=24)


def report_key(report_id: str) -> str:
    """Where a report is kept; the API reads it back from there."""
    return REPORT_KEYS.build(report_id)


class GenerateReportJob:
    """Reads the users, builds the report and keeps it in the cache for a day."""

    def __init__(self, users: UserRepository, cache: Cache) -> None:
        self.users = users
        self.cache = cache

    async def handle(self, payload: GenerateReport) -> None:
        """Build the report named by `payload` and store it as JSON."""
        users = [u for u in await self.users.get_all() if _within(u, payload)]
        report: dict[str, Any] = {
            "report_id": payload.report_id,
            "report_type": payload.report_type,
            "generated_at": datetime.now(UTC).isoformat(),
            "total_users": len(users),
            "status": "completed",
        }
        if payload.report_type == "signups":
            days: dict[str, int] = {}
            for user in users:
                day = user.created_at.date().isoformat()
                days[day] = days.get(day, 0) + 1
            report["signups_per_day"] = days
        await self.cache.set(report_key(payload.report_id), json.dumps(report), ttl=REPORT_TTL)
        log.info("report %s (%s) ready", payload.report_id, payload.report_type)


def _within(user: User, payload: GenerateReport) -> bool:
    day = user.created_at.date()
    after_start = payload.start_date is None or day >= payload.start_date
    return after_start and (payload.end_date is None or day <= payload.end_date)
