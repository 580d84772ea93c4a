"""`email:send`: send one email through the email API, at most once per user and subject."""

from __future__ import annotations

import logging
from datetime import timedelta

import httpx
from dependency_injector.wiring import Provide

from examples.app.containers import Container
from examples.app.jobs.http import post_json
from examples.app.jobs.types import SendEmail
from examples.app.repository import UserRepository
from examples.app.settings import AppSettings
from jobqueue import PermanentError
from jobqueue.cache import Cache, CacheKey

log = logging.getLogger(__name__)

SENT_KEYS = CacheKey("email")
SENT_TTL = timedelta(hours=1)
"""How long a sent email is remembered: a retry or a duplicate job in that window sends nothing."""


async def send_email(
    payload: SendEmail,
    users: UserRepository = Provide[Container.users],
    http: httpx.AsyncClient = Provide[Container.core.http_client],
    cache: Cache = Provide[Container.core.cache],
    settings: AppSettings = Provide[Container.settings],
) -> None:
    """Send the email unless the cache says it was sent; then remember that it was."""
    key = SENT_KEYS.build("sent", payload.user_id, payload.subject)
    if await cache.exists(key):
        log.info("email %r to user %d was already sent; skipping", payload.subject, payload.user_id)
        return
    user = await users.get(payload.user_id)
    if user is None:  # deleted since the job was enqueued: no retry will bring it back
        raise PermanentError(f"user {payload.user_id} does not exist")
    message = {
        "to": payload.to,
        "name": user.name,
        "subject": payload.subject,
        "body": payload.body,
    }
    # The key doubles as the API's idempotency key, should the job die between POST and set.
    await post_json(http, settings.email_api_url, message, **{"Idempotency-Key": key})
    await cache.set(key, "sent", ttl=SENT_TTL)
    log.info("sent email %r to %s (user %d)", payload.subject, payload.to, user.id)
