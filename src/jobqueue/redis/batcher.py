"""Acknowledge jobs that finish at about the same time in one round trip.

Jobs fetched together usually finish together. Their acknowledgements wait a moment (`linger`)
for company, then go out as one pipeline in which the completions of each queue are one script
call (the common case), and retries or dead-letterings one call each. A call made while a
pipeline is in flight rides the next one, so under load batches grow by themselves. Nobody awaits
an acknowledgement on the hot path, so the linger costs no throughput.

A fetch is urgent: it ends the linger at once and takes the waiting acknowledgements along, so
a worker under load talks to Redis about once per batch of jobs, not once per job.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

from jobqueue.redis.scripts import Call, Scripts

__all__ = ["AckBatcher"]

CompletionCall = Callable[[str, list[str]], Call]
"""Builds the completion call of one queue from its flat list of (id, token) pairs."""


class AckBatcher:
    """Coalesces acknowledgement script calls into pipelines."""

    def __init__(
        self,
        scripts: Scripts,
        completion_call: CompletionCall,
        *,
        linger: float = 0.0,
        max_batch: int = 500,
    ) -> None:
        self._scripts = scripts
        self._completion_call = completion_call
        self._linger = linger
        self._max_batch = max_batch
        self._completions: dict[str, list[tuple[str, str, asyncio.Future[Any]]]] = {}
        self._calls: list[tuple[Call, asyncio.Future[Any]]] = []
        self._size = 0
        self._drainer: asyncio.Task[None] | None = None
        self._urgent = asyncio.Event()

    @property
    def idle(self) -> bool:
        """Nothing is waiting or in flight: an urgent call may as well go out on its own."""
        return self._drainer is None and not self._size

    def complete(self, queue: str, job_id: str, token: str) -> asyncio.Future[Any]:
        """Queue the completion of one job."""
        future = self._future()
        self._completions.setdefault(queue, []).append((job_id, token, future))
        return future

    def submit(self, call: Call, *, urgent: bool = False) -> asyncio.Future[Any]:
        """Queue any other script call; the future holds its reply.

        An urgent call (a fetch) is sent without waiting for the linger to end.
        """
        future = self._future()
        self._calls.append((call, future))
        if urgent:
            self._urgent.set()
        return future

    async def flush(self) -> None:
        """Wait until everything queued so far has been sent and answered."""
        while self._drainer is not None:
            await asyncio.shield(self._drainer)

    def _future(self) -> asyncio.Future[Any]:
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._size += 1
        if self._drainer is None:
            self._drainer = asyncio.create_task(self._drain())
        return future

    async def _drain(self) -> None:
        try:
            if not self._urgent.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._urgent.wait(), self._linger)
            while self._size:
                self._urgent.clear()
                calls, waiters = self._take()
                try:
                    replies = await self._scripts.batch(calls)
                except BaseException as exc:
                    for group in waiters:
                        for future in group:
                            if not future.done():
                                future.set_exception(exc)
                    if isinstance(exc, asyncio.CancelledError):
                        raise
                    continue
                for group, reply in zip(waiters, replies, strict=True):
                    for future in group:
                        if future.done():
                            continue
                        if isinstance(reply, Exception):
                            future.set_exception(reply)
                        else:
                            future.set_result(reply)
        finally:
            self._drainer = None

    def _take(self) -> tuple[list[Call], list[list[asyncio.Future[Any]]]]:
        """Everything queued, as pipeline calls and, per call, the futures it answers."""
        calls: list[Call] = []
        waiters: list[list[asyncio.Future[Any]]] = []
        for queue, items in self._completions.items():
            for start in range(0, len(items), self._max_batch):
                chunk = items[start : start + self._max_batch]
                pairs = [part for job_id, token, _ in chunk for part in (job_id, token)]
                calls.append(self._completion_call(queue, pairs))
                waiters.append([future for _, _, future in chunk])
        for call, future in self._calls:
            calls.append(call)
            waiters.append([future])
        self._completions = {}
        self._calls = []
        self._size = 0
        return calls, waiters
