"""`webhook:process`: handle a partner's webhook out of the request that delivered it."""

from __future__ import annotations

import logging
from datetime import timedelta

from dependency_injector.wiring import Provide

from examples.app.containers import Container
from examples.app.jobs.types import ProcessWebhook
from jobqueue.cache import Cache, CacheKey

log = logging.getLogger(__name__)

SEEN_KEYS = CacheKey("webhook")
SEEN_TTL = timedelta(days=1)
"""Partners redeliver webhooks; an event seen within a day is not processed twice."""


def seen_key(source: str, event_id: str) -> str:
    """Where a processed event is remembered."""
    return SEEN_KEYS.build(source, event_id)


async def process_webhook(
    payload: ProcessWebhook, cache: Cache = Provide[Container.core.cache]
) -> None:
    """Process the event once; a redelivered event is skipped."""
    key = seen_key(payload.source, payload.event_id)
    if await cache.exists(key):
        log.info("webhook %s from %s already processed", payload.event_id, payload.source)
        return
    # A real app would act on `payload.event` here (mark an order paid, ...).
    await cache.set(key, payload.event, ttl=SEEN_TTL)
    log.info("processed webhook %s %s from %s", payload.event, payload.event_id, payload.source)
