"""Acknowledgements: those of jobs that finish together in one round trip, re-sent after outages.

Jobs fetched together usually finish together. Their acknowledgements wait a moment (`linger`)
for company, then go out as one pipeline in which the completions of each queue are one script
call (the common case), and retries or dead-letterings one call each. A call made while a
pipeline is in flight rides the next one, so under load batches grow by themselves. Nobody awaits
an acknowledgement on the hot path, so the linger costs no throughput.

A fetch is urgent: it ends the linger at once and takes the waiting acknowledgements along, so
a worker under load talks to Redis about once per batch of jobs, not once per job.

When Redis cannot be reached, acknowledgements are kept and sent again with backoff until it is
back (or until shutdown gives up on them). That is safe because every acknowledgement is fenced:
one that already took effect, or whose job was recovered meanwhile, changes nothing the second
time. A fetch is never re-sent: its caller decides.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from redis import exceptions as redis_errors

from jobqueue._outage import Backoff, OutageLog
from jobqueue.redis._errors import is_transient
from jobqueue.redis._scripts import Call, Scripts

__all__ = ["AckBatcher"]

CompletionCall = Callable[[str, list[Any]], Call]
"""Builds the completion call of one queue from the flat fields of its completions."""

_Completion = tuple[tuple[Any, ...], "asyncio.Future[bool]"]


@dataclass(slots=True)
class _Waiting:
    """What one call of a pipeline answers: a chunk of completions, or one other call."""

    queue: str = ""
    completions: list[_Completion] = field(default_factory=list)
    call: Call | None = None
    future: asyncio.Future[Any] | None = None
    resend: bool = False


class AckBatcher:
    """Coalesces acknowledgement script calls into pipelines, and re-sends them after outages."""

    def __init__(
        self,
        scripts: Scripts,
        completion_call: CompletionCall,
        outage: OutageLog,
        *,
        linger: float = 0.0,
        max_batch: int = 500,
    ) -> None:
        self._scripts = scripts
        self._completion_call = completion_call
        self._outage = outage
        self._linger = linger
        self._max_batch = max_batch
        self._completions: dict[str, list[_Completion]] = {}
        self._calls: list[_Waiting] = []
        self._size = 0
        self._drainer: asyncio.Task[None] | None = None
        self._urgent = asyncio.Event()
        self._backoff = Backoff(first=0.1, cap=2.0)

    @property
    def idle(self) -> bool:
        """Nothing is waiting or in flight: an urgent call may as well go out on its own."""
        return self._drainer is None and not self._size

    def complete(self, queue: str, fields: tuple[Any, ...]) -> asyncio.Future[bool]:
        """Queue the completion of one delivery; the future says whether Redis applied it."""
        future: asyncio.Future[bool] = self._future()
        self._completions.setdefault(queue, []).append((fields, future))
        return future

    def submit(
        self, call: Call, *, urgent: bool = False, resend: bool = False
    ) -> asyncio.Future[Any]:
        """Queue any other script call; the future holds its reply.

        An urgent call (a fetch) is sent without waiting for the linger to end; a `resend` call
        (an acknowledgement) is kept and sent again while Redis cannot be reached.
        """
        future: asyncio.Future[Any] = self._future()
        self._calls.append(_Waiting(call=call, future=future, resend=resend))
        if urgent:
            self._urgent.set()
        return future

    async def flush(self, timeout: float) -> int:
        """Wait until everything queued so far has been answered, for `timeout` seconds at most.

        Returns how many acknowledgements could not be delivered in that time (their jobs keep
        their leases in Redis and run again once those expire).
        """
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                while self._drainer is not None:
                    await asyncio.shield(self._drainer)
        if self._drainer is None:
            return 0
        self._drainer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._drainer
        given_up = self._size
        error = redis_errors.ConnectionError("Redis was unavailable until shutdown")
        _, waiting = self._take()
        for item in waiting:
            _fail(item, error)
        return given_up

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
                    async with asyncio.timeout(self._linger):
                        await self._urgent.wait()
            while self._size:
                self._urgent.clear()
                calls, waiting = self._take()
                try:
                    replies = await self._scripts.batch(calls)
                except asyncio.CancelledError:
                    self._keep(waiting, None)
                    raise
                except Exception as exc:
                    if not is_transient(exc):
                        for item in waiting:
                            _fail(item, exc)
                        continue
                    self._outage.failed("acknowledgement", exc)
                    self._keep(waiting, exc)
                    await asyncio.sleep(self._backoff.next())
                    continue
                self._outage.ok()
                self._backoff.reset()
                for item, reply in zip(waiting, replies, strict=True):
                    _answer(item, reply)
        finally:
            self._drainer = None

    def _keep(self, waiting: list[_Waiting], error: BaseException | None) -> None:
        """Queue again what may be re-sent; fail the rest (`error` None: shutdown is near)."""
        for item in waiting:
            if item.call is None:
                self._completions.setdefault(item.queue, [])[:0] = item.completions
                self._size += len(item.completions)
            elif item.resend:
                self._calls.insert(0, item)
                self._size += 1
            else:
                _fail(item, error or asyncio.CancelledError())

    def _take(self) -> tuple[list[Call], list[_Waiting]]:
        """Everything queued, as pipeline calls and, per call, what it answers."""
        calls: list[Call] = []
        waiting: list[_Waiting] = []
        for queue, items in self._completions.items():
            for start in range(0, len(items), self._max_batch):
                chunk = items[start : start + self._max_batch]
                flat = [part for fields, _ in chunk for part in fields]
                calls.append(self._completion_call(queue, flat))
                waiting.append(_Waiting(queue=queue, completions=chunk))
        for item in self._calls:
            assert item.call is not None
            calls.append(item.call)
            waiting.append(item)
        self._completions = {}
        self._calls = []
        self._size = 0
        return calls, waiting


def _answer(item: _Waiting, reply: Any) -> None:
    if item.call is None:
        if isinstance(reply, Exception):
            _fail(item, reply)
            return
        stale = {int(position) for position in reply}
        for position, (_, future) in enumerate(item.completions, start=1):
            if not future.done():
                future.set_result(position not in stale)
    elif item.future is not None and not item.future.done():
        if isinstance(reply, Exception):
            item.future.set_exception(reply)
        else:
            item.future.set_result(reply)


def _fail(item: _Waiting, error: BaseException) -> None:
    futures = [f for _, f in item.completions] if item.call is None else [item.future]
    for future in futures:
        if future is not None and not future.done():
            if isinstance(error, asyncio.CancelledError):
                future.cancel()
            else:
                future.set_exception(error)
