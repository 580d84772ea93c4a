"""The Redis driver: a Taskiq broker that keeps each job's life cycle in Redis."""

from jobqueue.redis._broker import RedisJobBroker
from jobqueue.redis._keys import QueueKeys
from jobqueue.redis._schedule_source import RedisScheduleSource
from jobqueue.redis.inspector import Inspector

__all__ = ["Inspector", "QueueKeys", "RedisJobBroker", "RedisScheduleSource"]
