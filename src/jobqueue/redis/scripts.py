"""The Lua scripts behind every state change; each one is a single atomic step in Redis."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources

from redis.asyncio import Redis
from redis.commands.core import AsyncScript

__all__ = ["Scripts"]

_NAMES = (
    "enqueue",
    "fetch",
    "extend",
    "complete",
    "retry",
    "kill",
    "forward",
    "recover",
    "requeue",
)


def _source(name: str) -> str:
    folder = resources.files("jobqueue.redis").joinpath("lua")
    common = folder.joinpath("_common.lua").read_text(encoding="utf-8")
    return common + "\n" + folder.joinpath(f"{name}.lua").read_text(encoding="utf-8")


@dataclass(frozen=True, slots=True)
class Scripts:
    """The registered scripts; calls use EVALSHA and load the script on first use."""

    enqueue: AsyncScript
    fetch: AsyncScript
    extend: AsyncScript
    complete: AsyncScript
    retry: AsyncScript
    kill: AsyncScript
    forward: AsyncScript
    recover: AsyncScript
    requeue: AsyncScript

    @classmethod
    def register(cls, client: Redis) -> Scripts:
        """Register every script on a client."""
        return cls(**{name: client.register_script(_source(name)) for name in _NAMES})
