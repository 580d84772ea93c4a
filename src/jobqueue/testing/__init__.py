"""Helpers for testing code that uses jobqueue: a recording queue, a private Redis, a worker."""

from jobqueue.testing.recording import EnqueuedJob, RecordingQueue
from jobqueue.testing.redis_server import RedisServer
from jobqueue.testing.worker import run_worker

__all__ = ["EnqueuedJob", "RecordingQueue", "RedisServer", "run_worker"]
