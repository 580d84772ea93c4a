"""Settings from QUEUE_* variables, errors that name the variable, and secrets kept out of logs.

    python examples/docs/configuration.py

Needs no Redis: it only reads settings.
"""

from __future__ import annotations

import os

from jobqueue import ConfigurationError, QueueSettings


def clear_queue_env() -> None:
    for name in [n for n in os.environ if n.startswith("QUEUE_")]:
        del os.environ[name]


# --8<-- [start:read]
def read_settings() -> None:
    os.environ.update(
        {
            "QUEUE_URL": "rediss://:s3cret@redis.internal:6380/2",
            "QUEUE_QUEUES": "critical=6,default=3,low=1",
            "QUEUE_CONCURRENCY": "20",
            "QUEUE_LEASE_TIMEOUT": "15",
        }
    )
    settings = QueueSettings.from_env()
    assert settings.concurrency == 20
    assert settings.queues == {"critical": 6, "default": 3, "low": 1}
    assert settings.redis_url() == "rediss://:s3cret@redis.internal:6380/2"  # do not log this
    assert "s3cret" not in repr(settings)  # url and password print as '**********'
    print(settings)

    # Keyword arguments override the environment (handy in tests and scripts).
    settings = QueueSettings.from_env(concurrency=1, strict_priority=True)
    assert settings.concurrency == 1


# --8<-- [end:read]


# --8<-- [start:errors]
def bad_settings() -> None:
    for name, value in [
        ("QUEUE_PORT", "sixty-three-seventy-nine"),
        ("QUEUE_QUEUES", "critical=6,default=0"),
        ("QUEUE_DEFAULT_QUEUE", "emails"),
        ("QUEUE_URL", "http://:s3cret@redis.internal"),
    ]:
        clear_queue_env()
        os.environ[name] = value
        try:
            QueueSettings.from_env()
            message = "accepted"
        except ConfigurationError as exc:
            message = str(exc)
        print(message)
        assert name.removeprefix("QUEUE_").lower() in message.lower()
        assert "s3cret" not in message  # values of secret settings are never shown


# --8<-- [end:errors]


if __name__ == "__main__":
    clear_queue_env()
    read_settings()
    bad_settings()
    clear_queue_env()
