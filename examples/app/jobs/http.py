"""Calling partner APIs from jobs: which failures are worth a retry."""

from __future__ import annotations

from typing import Any

import httpx

from jobqueue import PermanentError


async def post_json(
    client: httpx.AsyncClient, url: str, body: Any, **headers: str
) -> httpx.Response:
    """POST `body` as JSON; raise so that the queue retries only what a retry can fix.

    Connection errors, timeouts, 5xx and 429 raise `httpx` errors: the job is retried on its
    schedule. Any other 4xx means the request itself is wrong, so it raises `PermanentError` and
    the job goes to the dead set at once instead of failing the same way five more times.
    """
    response = await client.post(url, json=body, headers=headers)
    if response.is_client_error and response.status_code != httpx.codes.TOO_MANY_REQUESTS:
        raise PermanentError(f"{url} refused the request: {response.status_code} {response.text}")
    return response.raise_for_status()
