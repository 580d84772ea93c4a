"""Which Redis the queue talks to: one server, a primary behind Sentinel, or a Cluster.

The checks here refuse, when the settings are read, what cannot work, naming the setting.
"""

from __future__ import annotations

from typing import Any, Protocol

__all__ = ["check_topology", "parse_addresses", "split_address"]


class _Topology(Protocol):
    @property
    def sentinels(self) -> list[str]: ...
    @property
    def sentinel_master(self) -> str | None: ...
    @property
    def cluster_nodes(self) -> list[str]: ...
    @property
    def db(self) -> int: ...
    @property
    def url(self) -> Any: ...
    @property
    def model_fields_set(self) -> set[str]: ...


def parse_addresses(value: Any) -> list[str]:
    """`host:port,host:port` (or a list of them), each checked."""
    if value is None or value == "":
        return []
    items = value.split(",") if isinstance(value, str) else list(value)
    addresses = [str(item).strip() for item in items if str(item).strip()]
    for address in addresses:
        split_address(address)
    return addresses


def split_address(address: str) -> tuple[str, int]:
    """`host:port` as (host, port); an IPv6 host may be bracketed (`[::1]:26379`)."""
    host, sep, port = address.rpartition(":")
    if not sep or not host:
        raise ValueError(f"{address!r} is not host:port")
    try:
        number = int(port)
    except ValueError:
        raise ValueError(f"{address!r}: the port is not a number") from None
    if not 0 < number < 65536:
        raise ValueError(f"{address!r}: the port must be 1 to 65535")
    return host.strip("[]"), number


def check_topology(settings: _Topology, prefix: str = "QUEUE_") -> None:
    """Refuse settings that cannot work together (the message names the variables)."""
    if settings.sentinels and settings.cluster_nodes:
        raise ValueError(f"set {prefix}SENTINELS or {prefix}CLUSTER_NODES, not both")
    if settings.sentinels and not settings.sentinel_master:
        raise ValueError(f"{prefix}SENTINELS needs {prefix}SENTINEL_MASTER, the primary's name")
    if (settings.sentinels or settings.cluster_nodes) and settings.url is not None:
        which = f"{prefix}SENTINELS" if settings.sentinels else f"{prefix}CLUSTER_NODES"
        raise ValueError(f"{prefix}URL and {which} both say where Redis is: set one")
    if settings.cluster_nodes and "db" in settings.model_fields_set and settings.db != 0:
        raise ValueError(f"a Redis Cluster has database 0 only: unset {prefix}DB or set it to 0")
