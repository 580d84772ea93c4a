"""Taskiq middlewares that jobqueue's brokers install on themselves."""

from jobqueue.middleware.lifecycle import LifecycleMiddleware
from jobqueue.middleware.logging import LoggingMiddleware

__all__ = ["LifecycleMiddleware", "LoggingMiddleware"]
