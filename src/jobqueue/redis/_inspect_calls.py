"""The inspector's Lua scripts, and one call builder per script (as `_calls.py` is the broker's).

Each `.lua` file's header names its KEYS and ARGV; the method of the same name below is the only
Python that lays them out. The scripts run on the broker's client, one queue per call, so every
call touches keys of one hash tag only.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from jobqueue.errors import JobQueueError
from jobqueue.options import JobState
from jobqueue.redis._keys import QueueKeys, queues_set
from jobqueue.redis._scripts import Call, Script, Scripts
from jobqueue.settings import QueueSettings

__all__ = ["ACT_CHUNK", "InspectorCalls", "InspectorScripts", "set_key"]

ACT_CHUNK = 500
"""Jobs one call of `act.lua` (or `purge.lua`) handles: short enough not to stall Redis."""


class InspectorScripts(Scripts):
    """The broker's scripts plus the inspector's (loaded together, on first use)."""

    def __init__(self, scripts: Scripts) -> None:
        super().__init__(scripts.client, scripts.connection, cluster=scripts.cluster)
        self.info = Script("info")
        self.memory = Script("memory")
        self.scan = Script("scan")
        self.act = Script("act")
        self.groups = Script("groups")
        self.regroup = Script("regroup")
        self.purge = Script("purge")
        self._all = [v for v in vars(self).values() if isinstance(v, Script)]


class InspectorCalls:
    """Builds the inspector's script calls."""

    def __init__(self, scripts: InspectorScripts, settings: QueueSettings) -> None:
        self.scripts = scripts
        self.settings = settings
        s = settings
        self._dead_bounds = (s.dead_max_jobs, int(s.dead_max_age * 1000))

    def info(self, k: QueueKeys) -> Call:
        """Jobs per state, counters, latency, today's counts (`info.lua`)."""
        keys = [*_states(k), k.paused, k.stats, k.jobs, k.groups]
        return self.scripts.info, keys, [k.base]

    def memory(self, k: QueueKeys, samples: int) -> Call:
        """The queue's memory, estimated by sampling (`memory.lua`)."""
        keys = [*_states(k), k.paused, k.stats, k.jobs, k.groups, k.scanned_at]
        return self.scripts.memory, keys, [k.base, samples]

    def scan(
        self,
        k: QueueKeys,
        state: str,
        *,
        offset: int,
        limit: int,
        most: int,
        job_type: str | None,
        error: str | None,
        newest_first: bool,
    ) -> Call:
        """One page of a state's jobs, filtered (`scan.lua`)."""
        key = k.pending if state == "pending" else set_key(k, state)
        args: list[Any] = [k.base, 1 if state == "pending" else 0, offset, limit, most]
        args += [job_type or "", (error or "").lower(), 1 if newest_first else 0]
        return self.scripts.scan, [key, k.jobs], args

    def act(
        self,
        k: QueueKeys,
        action: str,
        source: str,
        *,
        offset: int = 0,
        job_type: str | None = None,
        error: str | None = None,
        ids: Sequence[str] = (),
    ) -> Call:
        """Run, delete or kill jobs by id, or a chunk of a state or group (`act.lua`)."""
        keys = [k.pending, k.scheduled, k.retry, k.dead, k.completed, k.lease, k.jobs, k.stats]
        args: list[Any] = [k.base, action, source, offset, ACT_CHUNK, job_type or ""]
        args += [(error or "").lower(), *self._dead_bounds, "killed by an operator", *ids]
        return self.scripts.act, keys, args

    def groups(self, k: QueueKeys, limit: int, group_id: str = "") -> Call:
        """The queue's error groups, or one of them (`groups.lua`)."""
        return self.scripts.groups, [k.groups], [k.base, limit, group_id]

    def regroup(self, k: QueueKeys, state: str, offset: int) -> Call:
        """File ungrouped retry or dead jobs under their error's group (`regroup.lua`)."""
        return self.scripts.regroup, [set_key(k, state)], [k.base, offset, ACT_CHUNK]

    def purge(self, k: QueueKeys) -> Call:
        """Delete a chunk of a queue's jobs, then the queue (`purge.lua`)."""
        keys = [k.pending, k.scheduled, k.retry, k.dead, k.completed, k.lease, k.jobs]
        keys.append(queues_set(self.settings.key_prefix))
        return self.scripts.purge, keys, [k.base, ACT_CHUNK, k.queue]


def _states(k: QueueKeys) -> list[str]:
    return [k.pending, k.lease, k.scheduled, k.retry, k.dead, k.completed]


def set_key(k: QueueKeys, state: JobState | str) -> str:
    """The sorted set that holds a queue's jobs in a state other than pending.

    A new state kept in a sorted set (such as a `cancelled` one) is one more entry here.

    Raises:
        JobQueueError: The state is pending (a list), or one no set holds.
    """
    names = {
        JobState.ACTIVE: k.lease,
        JobState.SCHEDULED: k.scheduled,
        JobState.RETRY: k.retry,
        JobState.DEAD: k.dead,
        JobState.CANCELLED: k.dead,  # kept with the dead jobs, marked cancelled
        JobState.COMPLETED: k.completed,
    }
    try:
        return names[JobState(state)]
    except (KeyError, ValueError):
        raise JobQueueError(f"no sorted set holds the {state} jobs of a queue") from None
