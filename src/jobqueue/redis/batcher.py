"""Coalesce script calls made at the same moment into one pipeline.

Jobs that finish together (a batch fetched together usually does) acknowledge together: one round
trip for all their acks instead of one each. A call made while a pipeline is in flight rides the
next one, so under load batches grow by themselves. With `linger`, the first call of a batch
waits that long for company: for acknowledgements that nobody awaits, this costs no throughput.
"""

from __future__ import annotations

import asyncio
from typing import Any

from jobqueue.redis.scripts import Call, Scripts

__all__ = ["CallBatcher"]


class CallBatcher:
    """Runs script calls through `Scripts.batch`, many callers per round trip."""

    def __init__(self, scripts: Scripts, *, linger: float = 0.0, max_batch: int = 500) -> None:
        self._scripts = scripts
        self._linger = linger
        self._max_batch = max_batch
        self._waiting: list[tuple[Call, asyncio.Future[Any]]] = []
        self._drainer: asyncio.Task[None] | None = None

    def submit(self, call: Call) -> asyncio.Future[Any]:
        """Queue a call for the next pipeline; the future holds its reply."""
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._waiting.append((call, future))
        if self._drainer is None:
            self._drainer = asyncio.create_task(self._drain())
        return future

    async def call(self, call: Call) -> Any:
        """Queue a call for the next pipeline and wait for its reply."""
        return await self.submit(call)

    async def flush(self) -> None:
        """Wait until every call submitted so far has been sent and answered."""
        while self._drainer is not None:
            await asyncio.shield(self._drainer)

    async def _drain(self) -> None:
        try:
            await asyncio.sleep(self._linger)  # let calls made meanwhile join this pipeline
            while self._waiting:
                batch = self._waiting[: self._max_batch]
                del self._waiting[: self._max_batch]
                try:
                    replies = await self._scripts.batch([call for call, _ in batch])
                except BaseException as exc:
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(exc)
                    if isinstance(exc, asyncio.CancelledError):
                        raise
                    continue
                for (_, future), reply in zip(batch, replies, strict=True):
                    if future.done():
                        continue
                    if isinstance(reply, Exception):
                        future.set_exception(reply)
                    else:
                        future.set_result(reply)
        finally:
            self._drainer = None
