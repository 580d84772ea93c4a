"""The loggers jobqueue writes to; every module takes its logger from here.

`jobqueue` carries the per-job lines (enqueued, processing, completed, failed, dead), the
`jobqueue.redis` and `jobqueue.memory` children carry what the drivers do on their own (recovery,
outages, stale acknowledgements). Payloads are never logged: a line names a job by type and id.
"""

from __future__ import annotations

import logging

__all__ = ["driver_logger", "job_logger", "memory_logger", "redis_logger"]

job_logger = logging.getLogger("jobqueue")
driver_logger = logging.getLogger("jobqueue.worker")
redis_logger = logging.getLogger("jobqueue.redis")
memory_logger = logging.getLogger("jobqueue.memory")
