"""The Redis driver: a Taskiq broker that keeps each job's life cycle in Redis."""

from jobqueue.redis.broker import RedisJobBroker
from jobqueue.redis.keys import QueueKeys
from jobqueue.redis.schedule_source import RedisScheduleSource

__all__ = ["QueueKeys", "RedisJobBroker", "RedisScheduleSource"]
