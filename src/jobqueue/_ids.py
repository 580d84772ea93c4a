"""Job ids: 128 random bits from the OS's CSPRNG, as 32 hex characters (like `uuid4().hex`)."""

from __future__ import annotations

import os

__all__ = ["new_id"]

_pool = bytearray()


def new_id() -> str:
    """A new random job id.

    The bytes are read 4 KiB at a time: one `os.urandom` call per job is a system call per job.
    """
    global _pool
    if not _pool:
        _pool = bytearray(os.urandom(4096))
    chunk = _pool[-16:]
    del _pool[-16:]
    return chunk.hex()


def _forget_pool() -> None:
    _pool.clear()  # a forked child must not hand out its parent's next ids


os.register_at_fork(after_in_child=_forget_pool)
