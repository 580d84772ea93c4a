"""Error groups: the retry and dead jobs of a queue, grouped by a fingerprint of their error.

The groups are kept up to date by the scripts that move jobs (see `group_error` and `ungroup`
in `lua/_common.lua`): a job joins its error's group when it enters retry or dead, and leaves it
when it leaves both (forwarded to pending, run again, deleted, or trimmed from the dead set). So
listing groups reads the groups alone, whatever the size of the dead set. The fingerprint is the
exception type plus the message with quoted values (`'?'`), ids (`<id>`) and numbers (`<n>`)
masked; "retries exhausted after N attempts: " and "permanent: " are not part of it.
"""

from __future__ import annotations

from typing import Any

from jobqueue.options import JobState
from jobqueue.redis._inspect_base import InspectorBase, at, integer, once_more
from jobqueue.redis._inspect_queues import ProgressCallback
from jobqueue.redis._views import ErrorGroup

__all__ = ["GroupsPart"]


class GroupsPart(InspectorBase):
    """Error groups."""

    async def error_groups(self, queue: str | None = None, *, limit: int = 100) -> list[ErrorGroup]:
        """The error groups of a queue (or of every configured queue), largest first.

        Args:
            queue: The queue; every configured queue when omitted.
            limit: Groups read per queue, most recently seen first.
        """
        names = [queue] if queue else list(self.broker.keys)
        calls = [self.calls.groups(self._keys(name), limit) for name in names]
        replies = await self._batch(calls)
        groups = []
        for name, reply in zip(names, replies, strict=True):
            if isinstance(reply, Exception):
                raise reply
            groups += _groups(name, reply)
        return sorted(groups, key=_largest_first)

    async def error_group(self, group_id: str, queue: str | None = None) -> ErrorGroup | None:
        """One error group, looked up in `queue` or in every configured queue."""
        names = [queue] if queue else list(self.broker.keys)
        calls = [self.calls.groups(self._keys(name), 1, group_id) for name in names]
        for name, reply in zip(names, await self._batch(calls), strict=True):
            if isinstance(reply, Exception):
                raise reply
            if reply:
                return _groups(name, reply)[0]
        return None

    async def rebuild_error_groups(
        self, queue: str, *, progress: ProgressCallback | None = None
    ) -> int:
        """File the retry and dead jobs that have no group (stored before groups existed).

        This one reads the whole retry and dead sets, in chunks; run it once after upgrading.

        Returns:
            How many jobs were filed.
        """
        k = self._keys(queue)
        client = self.broker.client
        total = int(await once_more(lambda: client.zcard(k.retry)))
        total += int(await once_more(lambda: client.zcard(k.dead)))
        filed = seen = 0
        for state in (JobState.RETRY, JobState.DEAD):
            offset = 0
            while offset >= 0:
                count, nxt = await self._call(self.calls.regroup(k, state.value, offset))
                filed += int(count)
                seen += (int(nxt) - offset) if int(nxt) >= 0 else 0
                offset = int(nxt)
                if progress is not None:
                    progress(min(seen, total), total)
        return filed


def _largest_first(group: ErrorGroup) -> tuple[int, float]:
    return -group.count, -(group.last_seen.timestamp() if group.last_seen else 0.0)


def _groups(queue: str, flat: list[Any]) -> list[ErrorGroup]:
    out = []
    for i in range(0, len(flat), 9):
        gid, etype, message, example, first, last, seen, count, latest = flat[i : i + 9]
        out.append(
            ErrorGroup(
                id=_str(gid),
                queue=queue,
                error_type=_str(etype),
                message=_str(message),
                example=_str(example),
                count=int(count),
                seen=integer(seen),
                first_seen=at(integer(first) / 1000 or None),
                last_seen=at(integer(last) / 1000 or None),
                sample_job=_str(latest) or None,
            )
        )
    return out


def _str(raw: Any) -> str:
    return raw.decode(errors="replace") if isinstance(raw, bytes) else str(raw or "")
