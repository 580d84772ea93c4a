"""Prometheus metrics of a worker process: its attempts, and how long they ran, by outcome.

The broker tells `WorkerMetrics.observe` every attempt's outcome as it is decided (one of its
`outcome_listeners`), so the counts follow jobqueue's own decision: `completed`, `retried`,
`dead`, `requeued` (stopped by a shutdown) or `lost` (its lease had expired). With
`QUEUE_METRICS_PORT` set, `serve_worker_metrics` serves them over HTTP from the worker process.

prometheus-client is imported only here, when metrics are asked for (the `metrics` extra).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import Any

from jobqueue._attempt import Delivery, Outcome, OutcomeKind
from jobqueue.broker import JobBroker
from jobqueue.errors import ConfigurationError

__all__ = ["DURATION_BUCKETS", "WorkerMetrics", "WorkerMetricsServer", "serve_worker_metrics"]

logger = logging.getLogger("jobqueue.metrics")

DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)
OUTCOMES = {
    OutcomeKind.COMPLETE: "completed",
    OutcomeKind.RETRY: "retried",
    OutcomeKind.DEAD: "dead",
    OutcomeKind.REQUEUE: "requeued",
    OutcomeKind.LOST: "lost",
}
_LABELS = ("queue", "job_type", "outcome")
_shared: WorkerMetrics | None = None
_lock = threading.Lock()


def prometheus() -> Any:
    """The `prometheus_client` module, or a `ConfigurationError` saying how to install it."""
    try:
        import prometheus_client
    except ImportError:
        raise ConfigurationError(
            "Prometheus metrics need prometheus-client: pip install 'jobqueue[metrics]'"
        ) from None
    return prometheus_client


class WorkerMetrics:
    """`jobqueue_attempts_total` and `jobqueue_attempt_duration_seconds` (queue, type, outcome).

    Args:
        registry: Where to register them; the default registry when omitted.
    """

    def __init__(self, registry: Any = None) -> None:
        client = prometheus()
        where = {} if registry is None else {"registry": registry}
        self.attempts = client.Counter(
            "jobqueue_attempts", "Attempts that ended, by outcome", _LABELS, **where
        )
        self.duration = client.Histogram(
            "jobqueue_attempt_duration_seconds",
            "How long attempts ran, by outcome",
            _LABELS,
            buckets=DURATION_BUCKETS,
            **where,
        )

    def observe(self, delivery: Delivery, outcome: Outcome) -> None:
        """Count one attempt's outcome (an `outcome_listeners` entry of the broker)."""
        labels = (delivery.queue, delivery.job_type, OUTCOMES.get(outcome.kind, outcome.kind))
        self.attempts.labels(*labels).inc()
        if delivery.started_at is not None:
            self.duration.labels(*labels).observe(time.monotonic() - delivery.started_at)


def shared_metrics() -> WorkerMetrics:
    """The process's `WorkerMetrics`, in the default registry (made at the first call)."""
    global _shared
    with _lock:
        if _shared is None:
            _shared = WorkerMetrics()
        return _shared


class WorkerMetricsServer:
    """The metrics endpoint of one worker broker; `close()` stops it and the counting."""

    def __init__(self, broker: JobBroker, metrics: WorkerMetrics, server: Any) -> None:
        self.broker = broker
        self.metrics = metrics
        self.server = server
        self.port: int | None = server.server_port if server is not None else None

    def close(self) -> None:
        """Stop counting this broker's attempts, and stop serving."""
        if self.metrics.observe in self.broker.outcome_listeners:
            self.broker.outcome_listeners.remove(self.metrics.observe)
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None


def serve_worker_metrics(broker: JobBroker, port: int) -> WorkerMetricsServer:
    """Count the broker's attempts, and serve the process's metrics on `port` (0: any free port).

    With `PROMETHEUS_MULTIPROC_DIR` set (`--workers N`: every process writes its values there),
    the process that gets the port serves the sum of all of them; the others only count.

    Raises:
        ConfigurationError: prometheus-client is not installed.
    """
    client = prometheus()
    metrics = shared_metrics()
    broker.outcome_listeners.append(metrics.observe)
    registry = client.REGISTRY
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        registry = client.CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    try:
        server, _ = client.start_http_server(port, registry=registry)
    except OSError as exc:
        level = logging.INFO if os.environ.get("PROMETHEUS_MULTIPROC_DIR") else logging.WARNING
        logger.log(level, "Metrics not served on port %s (%s); still counting", port, exc)
        server = None
    return WorkerMetricsServer(broker, metrics, server)
