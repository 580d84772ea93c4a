"""`data:sync`: tell the sync API that an entity changed, and record the sync status."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta

import httpx
from dependency_injector.wiring import Provide

from examples.app.containers import Container
from examples.app.jobs.http import post_json
from examples.app.jobs.types import SyncData
from examples.app.settings import AppSettings
from jobqueue.cache import Cache, CacheKey

log = logging.getLogger(__name__)

STATUS_KEYS = CacheKey("sync")
STATUS_TTL = timedelta(hours=1)


def status_key(entity_type: str, entity_id: str) -> str:
    """Where the last sync of an entity is recorded."""
    return STATUS_KEYS.build(entity_type, entity_id)


async def sync_data(
    payload: SyncData,
    http: httpx.AsyncClient = Provide[Container.core.http_client],
    cache: Cache = Provide[Container.core.cache],
    settings: AppSettings = Provide[Container.settings],
) -> None:
    """POST the change; on success record `synced` with the time, for an hour."""
    now = datetime.now(UTC).isoformat()
    change = {**payload.model_dump(), "timestamp": now}
    await post_json(http, settings.sync_api_url, change)
    status = {"status": "synced", "action": payload.action, "synced_at": now}
    await cache.set(
        status_key(payload.entity_type, payload.entity_id), json.dumps(status), STATUS_TTL
    )
    log.info("synced %s %s (%s)", payload.entity_type, payload.entity_id, payload.action)
