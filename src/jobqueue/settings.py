"""Configuration read from the environment (and `.env`): `QUEUE_*`, `CACHE_*` and `HTTP_*`."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal, Self
from urllib.parse import quote, urlsplit, urlunsplit

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from jobqueue._names import check_queue_name
from jobqueue._topology import check_topology, parse_addresses
from jobqueue.errors import ConfigurationError

__all__ = [
    "CacheSettings",
    "HttpSettings",
    "QueueSettings",
    "RedisSettings",
    "check_redis_url",
    "parse_weights",
]

_URL_SCHEMES = ("redis://", "rediss://", "unix://")
_SECRET_FIELDS = frozenset({"password", "url", "sentinel_password"})
_ENCODE_HINT = (
    "percent-encode reserved characters in the username and password "
    "(/ as %2F, # as %23, ? as %3F, @ as %40, : as %3A)"
)
_DB_PATH = re.compile(r"/?[0-9]*")


def parse_weights(value: Any) -> dict[str, int]:
    """Parse queue weights from `critical=6,default=3,low=1`, a JSON object or a mapping.

    Raises:
        ValueError: The text is not such a list, a queue name breaks the rules of
            `check_queue_name` (an `InvalidOptionsError`, which is a `ValueError`), or a weight is
            not an integer >= 1.
    """
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("{"):
            import json

            value = json.loads(text)
        else:
            pairs: dict[str, Any] = {}
            for part in filter(None, (p.strip() for p in text.split(","))):
                name, sep, weight = part.partition("=")
                pairs[name.strip()] = weight.strip() if sep else "1"
            value = pairs
    if not isinstance(value, dict) or not value:
        raise ValueError("expected queue weights such as 'critical=6,default=3,low=1'")
    weights: dict[str, int] = {}
    for name, weight in value.items():
        check_queue_name(str(name))
        number = int(weight)
        if number < 1:
            raise ValueError(f"weight of queue {name!r} must be >= 1, got {number}")
        weights[str(name)] = number
    return weights


class _EnvSettings(BaseSettings):
    """Settings whose errors name the environment variable and never show a secret."""

    @classmethod
    def from_env(cls, **overrides: Any) -> Self:
        """Read the settings, turning a validation error into one that names the variable."""
        try:
            return cls(**overrides)
        except ValidationError as exc:
            prefix = str(cls.model_config.get("env_prefix", ""))
            raise ConfigurationError(_describe(exc, prefix)) from None


class RedisSettings(_EnvSettings):
    """Where a Redis server is: host, port, db and password, or one URL that overrides them.

    The password (and a URL, which may embed one) are `SecretStr`: they never appear in a repr or a
    log line.
    """

    host: str = "localhost"
    port: int = Field(default=6379, ge=1, le=65535)
    password: SecretStr | None = None
    db: int = Field(default=0, ge=0)
    url: SecretStr | None = None
    """Overrides host, port, db and password: `redis://`, `rediss://` (TLS) or `unix://`."""

    @field_validator("url")
    @classmethod
    def _check_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            check_redis_url(value.get_secret_value())
        return value

    sentinels: Annotated[list[str], NoDecode] = Field(default_factory=list)
    """Redis Sentinel addresses, `host:port,host:port`: the primary is found through them."""
    sentinel_master: str | None = None
    """The name Sentinel knows the primary by (needed with `sentinels`)."""
    sentinel_username: str | None = None
    sentinel_password: SecretStr | None = None
    """The Sentinels' own password, if they have one (the primary's is `password`)."""
    cluster_nodes: Annotated[list[str], NoDecode] = Field(default_factory=list)
    """Redis Cluster seed nodes, `host:port,host:port`: the rest is discovered from them."""

    @field_validator("sentinels", "cluster_nodes", mode="before")
    @classmethod
    def _parse_addresses(cls, value: Any) -> list[str]:
        return parse_addresses(value)

    @model_validator(mode="after")
    def _check_topology(self) -> Self:
        check_topology(self, str(self.model_config.get("env_prefix", "")))
        return self

    @property
    def topology(self) -> Literal["single", "sentinel", "cluster"]:
        """One server (or its URL), a primary found by Sentinel, or a Redis Cluster."""
        if self.cluster_nodes:
            return "cluster"
        return "sentinel" if self.sentinels else "single"

    def redis_url(self) -> str:
        """The connection URL, with the password in it (do not log it)."""
        if self.url is not None:
            return self.url.get_secret_value()
        auth = ""
        if self.password is not None:
            auth = ":" + quote(self.password.get_secret_value(), safe="") + "@"
        return f"redis://{auth}{self.host}:{self.port}/{self.db}"

    def redacted_url(self) -> str:
        """The connection URL with the password replaced by `***`: safe to show."""
        parts = urlsplit(self.redis_url())
        userinfo, at, hostport = parts.netloc.rpartition("@")
        if at and ":" in userinfo:
            userinfo = userinfo.partition(":")[0] + ":***"
        query = re.sub(r"(^|&)password=[^&]*", r"\1password=***", parts.query)
        return urlunsplit(parts._replace(netloc=f"{userinfo}{at}{hostport}", query=query))


def check_redis_url(url: str) -> None:
    """Check that redis-py reads a Redis URL as meant; the message never quotes any of it.

    Args:
        url: A `redis://`, `rediss://` or `unix://` URL, possibly holding a password.

    Raises:
        ValueError: The scheme is not one of those, a reserved character in the password cuts
            the URL short, the port is not 1 to 65535, the database is not a number, or redis-py
            cannot read a query parameter.
    """
    if not url.startswith(_URL_SCHEMES):
        raise ValueError("must start with redis://, rediss:// or unix://")
    parts = urlsplit(url)
    rest = url.split("://", 1)[1][len(parts.netloc) :]
    if "@" in rest:  # a '/', '?' or '#' in the password ended the host part before its '@'
        raise ValueError(f"cannot be read: the host part is cut short; {_ENCODE_HINT}")
    hostport = parts.netloc.rpartition("@")[2]
    _check_port(hostport)
    if parts.scheme == "unix":
        if not parts.path:
            raise ValueError("a unix:// URL needs the socket's path (unix:///run/redis.sock)")
    elif not _DB_PATH.fullmatch(parts.path):
        raise ValueError("the database (the URL's path, as in /1) must be a number >= 0")
    from redis.connection import parse_url

    try:  # the query: redis-py reads db, socket_timeout, ... (given no username or password)
        parse_url(f"{parts.scheme}://{hostport}{rest}")  # type: ignore[no-untyped-call]
    except ValueError:
        raise ValueError(
            "a query parameter has a value redis-py cannot read (such as ?db=x)"
        ) from None


def _check_port(hostport: str) -> None:
    _, colon, port = hostport.rpartition(":")
    if not colon or hostport.endswith("]") or not port:  # no port (an IPv6 host ends with ']')
        return
    if not port.isdigit():
        raise ValueError(f"the port must be a number from 1 to 65535; {_ENCODE_HINT}")
    if not 1 <= int(port) <= 65535:
        raise ValueError("the port must be a number from 1 to 65535")


class QueueSettings(RedisSettings):
    """Settings of the queue and its workers; each field `x` is read from `QUEUE_X`.

    Use `QueueSettings.from_env()` to get errors that name the environment variable.
    """

    model_config = SettingsConfigDict(
        env_prefix="QUEUE_",
        env_file=".env",
        extra="ignore",
        frozen=True,
        hide_input_in_errors=True,  # a pydantic error must not show the URL or the password
    )

    driver: Literal["redis", "memory"] = "redis"
    db: int = Field(default=1, ge=0)
    """Database 1 by default, apart from the cache's 0."""

    queues: Annotated[dict[str, int], NoDecode] = Field(
        default_factory=lambda: {"critical": 6, "default": 3, "low": 1}
    )
    """Queue names and weights; from the environment as `critical=6,default=3,low=1`."""
    default_queue: str = "default"
    strict_priority: bool = False
    """Always drain higher-weight queues first instead of sharing fetches by weight."""

    concurrency: int = Field(default=10, ge=1)
    """Jobs one worker process runs at once."""
    prefetch: int = Field(default=10, ge=0)
    """Jobs a worker leases ahead of running them, so one fetch serves many jobs."""
    lease_timeout: float = Field(default=30.0, gt=0)
    """Seconds a fetched job stays reserved without a heartbeat; renewed every third of it."""
    recovery_interval: float = Field(default=5.0, gt=0)
    """Seconds between two scans for jobs whose lease expired (their worker died)."""
    max_deliveries: int = Field(default=5, ge=1)
    """A job whose lease expired this many times (it keeps killing workers) goes to dead."""
    shutdown_timeout: float = Field(default=10.0, ge=0)
    """Seconds running jobs get to finish on SIGTERM before they are put back to pending."""
    poll_interval: float = Field(default=0.05, gt=0)
    """Longest idle wait between two fetches; the wait starts at 1 ms and doubles while idle."""

    default_max_retry: int = Field(default=5, ge=0)
    dead_max_jobs: int = Field(default=10_000, ge=1)
    dead_max_age: float = Field(default=90 * 24 * 3600.0, gt=0)
    completed_retention: float = Field(default=0.0, ge=0)
    """Seconds a completed job is kept for inspection; 0 deletes it at once."""
    key_prefix: str = "jq"
    metrics_port: int | None = Field(default=None, ge=0, le=65535)
    """Port on which a worker process serves its Prometheus metrics; unset: none are served."""

    durable_replicas: int = Field(default=0, ge=0)
    """Replicas that must confirm an enqueue (`WAIT`) before it counts as done; 0: none."""
    durable_timeout: float = Field(default=1.0, gt=0)
    """Seconds an enqueue waits for `durable_replicas` confirmations."""

    @field_validator("queues", mode="before")
    @classmethod
    def _parse_queues(cls, value: Any) -> dict[str, int]:
        return parse_weights(value)

    @model_validator(mode="after")
    def _check_default_queue(self) -> QueueSettings:
        if self.default_queue not in self.queues:
            raise ValueError(
                f"QUEUE_DEFAULT_QUEUE {self.default_queue!r} is not one of QUEUE_QUEUES "
                f"{list(self.queues)}"
            )
        return self

    @property
    def queue_names(self) -> tuple[str, ...]:
        """Queue names, highest weight first."""
        return tuple(sorted(self.queues, key=lambda name: -self.queues[name]))


class CacheSettings(RedisSettings):
    """Settings of the cache; each field `x` is read from `CACHE_X` (database 0 by default)."""

    model_config = SettingsConfigDict(
        env_prefix="CACHE_",
        env_file=".env",
        extra="ignore",
        frozen=True,
        hide_input_in_errors=True,  # a pydantic error must not show the URL or the password
    )

    driver: Literal["redis", "memory"] = "redis"
    key_prefix: str = "cache"


class HttpSettings(_EnvSettings):
    """Settings of the shared HTTP client; each field `x` is read from `HTTP_X`."""

    model_config = SettingsConfigDict(
        env_prefix="HTTP_", env_file=".env", extra="ignore", frozen=True
    )

    timeout: float = Field(default=10.0, gt=0)
    """Seconds for reading, writing and waiting for a pooled connection."""
    connect_timeout: float = Field(default=5.0, gt=0)
    max_connections: int = Field(default=100, ge=1)
    max_keepalive_connections: int = Field(default=20, ge=0)


def _describe(exc: ValidationError, prefix: str) -> str:
    """Render a validation error naming environment variables; secret values are never shown."""
    lines = []
    for error in exc.errors():
        if not error["loc"]:  # a check across fields: its input is every setting, secrets too
            lines.append(f"{prefix}*: {error['msg']}")
            continue
        field = str(error["loc"][0])
        shown = "" if field in _SECRET_FIELDS else f" (got {error.get('input')!r})"
        lines.append(f"{prefix}{field}".upper() + f": {error['msg']}{shown}")
    return "invalid configuration: " + "; ".join(lines)
