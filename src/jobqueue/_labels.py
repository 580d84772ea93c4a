"""The Taskiq labels that carry enqueue options; `queue.py` writes them and drivers read them."""

from __future__ import annotations

__all__ = ["Label"]


class Label:
    """Label names. `timeout` is Taskiq's own: its receiver enforces it around the job."""

    QUEUE = "queue"
    MAX_RETRY = "max_retry"
    TIMEOUT = "timeout"
    UNIQUE_TTL = "unique_ttl"
    PROCESS_AT = "process_at"
    DELAY = "delay"
    """Taskiq's own delay label (seconds), honoured on the `kick()` path."""
    ACK_TYPE = "ack_type"
