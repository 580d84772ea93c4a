"""OpenTelemetry: the enqueue's trace context travels in the job; each attempt's span links to
the producer's, with the job's id, type, queue and attempt number."""

from __future__ import annotations

import asyncio
import time

from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from taskiq.receiver import Receiver

from jobqueue import JobQueue, JobRegistry, QueueSettings, fixed_schedule
from jobqueue.redis import RedisJobBroker
from jobqueue.testing import run_worker
from jobqueue.tracing import TracingMiddleware


async def test_attempts_link_to_the_enqueue(
    settings: QueueSettings, receiver_class: type[Receiver]
) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    jobs = JobRegistry()
    inner: list[trace.SpanContext] = []

    @jobs.job("mail:send", max_retry=1, retry_delay=fixed_schedule(0.05))
    async def send(payload: dict[str, str]) -> None:
        inner.append(trace.get_current_span().get_span_context())
        if len(inner) == 1:
            raise ConnectionError("smtp down")

    producer = RedisJobBroker(settings, registry=jobs)
    producer.add_middlewares(TracingMiddleware(provider))
    worker = RedisJobBroker(settings, registry=jobs)
    worker.add_middlewares(TracingMiddleware(provider))
    async with JobQueue(producer) as queue:
        info = await queue.enqueue("mail:send", {"to": "ada@example.com"})
        async with run_worker(worker, receiver_class=receiver_class):
            deadline = time.monotonic() + 10
            while len([s for s in exporter.get_finished_spans() if s.name.startswith("run")]) < 2:
                assert time.monotonic() < deadline
                await asyncio.sleep(0.02)

    spans = exporter.get_finished_spans()
    (sent,) = [s for s in spans if s.name == "enqueue mail:send"]
    runs = sorted((s for s in spans if s.name == "run mail:send"), key=lambda s: s.start_time or 0)
    assert sent.kind is trace.SpanKind.PRODUCER
    assert sent.attributes is not None
    assert sent.attributes["jobqueue.job.id"] == info.id
    for attempt, span in enumerate(runs, start=1):
        assert span.kind is trace.SpanKind.CONSUMER
        assert [link.context.span_id for link in span.links] == [sent.context.span_id]
        assert span.links[0].context.trace_id == sent.context.trace_id
        assert span.parent is None  # a trace of its own, linked to the producer's
        assert span.attributes is not None
        assert span.attributes["jobqueue.job.id"] == info.id
        assert span.attributes["jobqueue.job.type"] == "mail:send"
        assert span.attributes["jobqueue.queue"] == "default"
        assert span.attributes["jobqueue.attempt"] == attempt
    assert runs[0].status.status_code is trace.StatusCode.ERROR
    assert [e.name for e in runs[0].events] == ["exception"]
    assert runs[1].status.status_code is trace.StatusCode.UNSET
    # the job ran inside its attempt's span
    assert [c.span_id for c in inner] == [s.context.span_id for s in runs]


async def test_child_of_producer(settings: QueueSettings) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    jobs = JobRegistry()

    @jobs.job("noop")
    async def noop(payload: dict[str, str]) -> None:
        pass

    producer = RedisJobBroker(settings, registry=jobs)
    producer.add_middlewares(TracingMiddleware(provider))
    worker = RedisJobBroker(settings, registry=jobs)
    worker.add_middlewares(TracingMiddleware(provider, child_of_producer=True))
    async with JobQueue(producer) as queue:
        await queue.enqueue("noop", {})
        async with run_worker(worker):
            deadline = time.monotonic() + 10
            while not [s for s in exporter.get_finished_spans() if s.name == "run noop"]:
                assert time.monotonic() < deadline
                await asyncio.sleep(0.02)
    spans = {s.name: s for s in exporter.get_finished_spans()}
    assert spans["run noop"].parent is not None
    assert spans["run noop"].parent.span_id == spans["enqueue noop"].context.span_id
