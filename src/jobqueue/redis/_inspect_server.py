"""The inspector's view of the Redis server itself: version, memory, clients, jobqueue's keys.

Everything comes from one `INFO`, one `DBSIZE` and per-queue counts of known keys, in one round
trip: never a `SCAN` or `KEYS`, so it costs the same with a million jobs as with none.
"""

from __future__ import annotations

from typing import Any

from jobqueue.redis._inspect_base import InspectorBase, once_more
from jobqueue.redis._keys import queues_set, schedule_runs, workers_index
from jobqueue.redis._views import ServerInfo

__all__ = ["ServerPart"]

_STRUCTURES = (
    "jobs",
    "pending",
    "lease",
    "scheduled",
    "retry",
    "dead",
    "completed",
    "paused",
    "stats",
    "scanned_at",
    "groups",
)
"""The keys every queue may have, by the name of their `QueueKeys` property."""


class ServerPart(InspectorBase):
    """The Redis server."""

    async def server_info(self) -> ServerInfo:
        """The server's version, uptime, memory and clients, and the keys jobqueue keeps there.

        `jobqueue_keys` counts the keys found by name (each queue's structures, its error groups,
        the workers' records, the schedules): per-job attempt hashes and unique locks are not
        counted one by one (that would need a scan); `stored_jobs` is the number of jobs they
        belong to. On a Redis Cluster the server figures are those of one node.
        """
        prefix = self.broker.settings.key_prefix
        keys = [self.broker.keys[name] for name in self.broker.keys]
        shared = [queues_set(prefix), workers_index(prefix), f"{prefix}:schedules"]
        shared.append(schedule_runs(prefix))

        async def read() -> list[Any]:
            async with self.broker.client.pipeline(transaction=False) as pipe:
                pipe.info()
                pipe.dbsize()
                pipe.zcard(workers_index(prefix))
                for name in shared:
                    pipe.exists(name)
                for k in keys:
                    pipe.hlen(k.jobs)
                    pipe.zcard(k.groups)
                    for attribute in _STRUCTURES:
                        pipe.exists(getattr(k, attribute))
                return list(await pipe.execute())

        info, dbsize, workers, *counts = await once_more(read)
        found = workers + sum(int(c) for c in counts[: len(shared)])
        jobs = 0
        width = 2 + len(_STRUCTURES)
        for i in range(len(keys)):
            stored, groups, *present = counts[
                len(shared) + i * width : len(shared) + (i + 1) * width
            ]
            jobs += int(stored)
            found += 2 * int(groups) + sum(int(p) for p in present)  # a group: hash and its ids
        return _server(_flat(info), int(dbsize), found, jobs)


def _flat(info: Any) -> dict[str, Any]:
    """`INFO` as one dict (a cluster client answers per node: the first node's is used)."""
    if isinstance(info, dict) and info and all(isinstance(v, dict) for v in info.values()):
        first = next(iter(info.values()))
        return dict(first) if "redis_version" in first else dict(info)
    return dict(info) if isinstance(info, dict) else {}


def _int(info: dict[str, Any], name: str) -> int:
    try:
        return int(info.get(name) or 0)
    except (TypeError, ValueError):
        return 0


def _server(info: dict[str, Any], dbsize: int, keys: int, jobs: int) -> ServerInfo:
    return ServerInfo(
        version=str(info.get("redis_version", "?")),
        mode=str(info.get("redis_mode", "standalone")),
        uptime_seconds=_int(info, "uptime_in_seconds"),
        used_memory=_int(info, "used_memory"),
        used_memory_peak=_int(info, "used_memory_peak"),
        maxmemory=_int(info, "maxmemory"),
        maxmemory_policy=str(info.get("maxmemory_policy", "")),
        connected_clients=_int(info, "connected_clients"),
        blocked_clients=_int(info, "blocked_clients"),
        ops_per_second=_int(info, "instantaneous_ops_per_sec"),
        database_keys=dbsize,
        jobqueue_keys=keys,
        stored_jobs=jobs,
    )
