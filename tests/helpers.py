"""Reading what Redis holds of a job, through the inspector (the supported way to look)."""

from __future__ import annotations

from jobqueue.redis import Inspector, RedisJobBroker


async def job_fields(broker: RedisJobBroker, job_id: str, queue: str = "default") -> dict[str, str]:
    """A job as flat strings (`state`, `type`, `retried`, `lost`, `deliveries`, `error`, ...);
    empty when Redis holds no such job."""
    record = await Inspector(broker).job(job_id, queue)
    if record is None:
        return {}
    fields = {
        "state": str(record.state),
        "type": record.job_type,
        "retried": str(record.retried),
        "lost": str(record.lost),
        "deliveries": str(record.deliveries),
    }
    if record.error:
        fields["error"] = record.error
    if record.traceback:
        fields["traceback"] = record.traceback
    return fields
