"""Prometheus metrics (the Redis collector, a worker's own) and OpenTelemetry tracing.

    python examples/docs/metrics_tracing.py

Runs against a throw-away Redis with a worker in this process; scrapes both endpoints once and
prints the spans of one job.
"""

from __future__ import annotations

import asyncio
import socket

import httpx
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client import CollectorRegistry, start_http_server

from jobqueue import JobQueue, JobRegistry, QueueSettings, create_broker
from jobqueue.broker import JobBroker
from jobqueue.metrics import RedisCollector
from jobqueue.redis import RedisJobBroker
from jobqueue.testing import RedisServer, run_worker
from jobqueue.tracing import TracingMiddleware

jobs = JobRegistry()
exporter = InMemorySpanExporter()
provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(exporter))


@jobs.job("mail:send")
async def send(payload: dict[str, str]) -> None:
    await asyncio.sleep(0.01)


# --8<-- [start:tracing]
def make_broker() -> JobBroker:
    """The worker's factory (producers add the same middleware)."""
    broker = create_broker(registry=jobs)  # QUEUE_METRICS_PORT=9101 also serves its metrics
    broker.add_middlewares(TracingMiddleware(provider))  # provider: your SDK's TracerProvider
    return broker


# --8<-- [end:tracing]


# --8<-- [start:collector]
def serve_queue_metrics(settings: QueueSettings, port: int) -> RedisCollector:
    """What `jobqueue metrics --port` does: Redis is read at every scrape."""
    registry = CollectorRegistry()
    collector = RedisCollector(settings)
    registry.register(collector)
    start_http_server(port, addr="127.0.0.1", registry=registry)
    return collector


# --8<-- [end:collector]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def lines(text: str, *names: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith(names)]


async def main(settings: QueueSettings) -> None:
    queue_port, worker_port = free_port(), free_port()
    collector = serve_queue_metrics(settings, queue_port)
    worker_settings = settings.model_copy(update={"metrics_port": worker_port})
    producer = RedisJobBroker(settings, registry=jobs)
    producer.add_middlewares(TracingMiddleware(provider))
    async with JobQueue(producer) as queue:
        worker = RedisJobBroker(worker_settings, registry=jobs)
        worker.add_middlewares(TracingMiddleware(provider))
        async with run_worker(worker):
            await queue.enqueue_many(("mail:send", {"to": f"user{n}@example.com"}) for n in range(3))
            await asyncio.sleep(0.5)
            async with httpx.AsyncClient() as client:
                queues = (await client.get(f"http://127.0.0.1:{queue_port}/metrics")).text
                own = (await client.get(f"http://127.0.0.1:{worker_port}/metrics")).text
    names = ("jobqueue_queue_jobs{queue=\"default\"", "jobqueue_queue_processed_total", "jobqueue_workers")
    print("\n".join(lines(queues, *names)))
    print("\n".join(lines(own, "jobqueue_attempts_total", "jobqueue_attempt_duration_seconds_count")))
    collector.close()
    spans = sorted(exporter.get_finished_spans(), key=lambda s: s.start_time or 0)
    for span in spans[:2] + spans[-1:]:
        links = [f"{link.context.span_id:016x}" for link in span.links]
        print(f"{span.name:<18} {span.kind.name:<8} span={span.context.span_id:016x} links={links}")
    assert any(s.links for s in spans)


if __name__ == "__main__":
    with RedisServer() as server:
        asyncio.run(main(QueueSettings.from_env(url=server.url)))
