"""The Redis driver: a Taskiq broker that keeps each job's life cycle in Redis."""

from jobqueue.redis.broker import RedisJobBroker
from jobqueue.redis.keys import QueueKeys

__all__ = ["QueueKeys", "RedisJobBroker"]
