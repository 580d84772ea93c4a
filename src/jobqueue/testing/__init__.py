"""Helpers for testing code that uses jobqueue: a private Redis server and an in-process worker."""

from jobqueue.testing.redis_server import RedisServer
from jobqueue.testing.worker import run_worker

__all__ = ["RedisServer", "run_worker"]
