"""OpenTelemetry tracing: each job carries its enqueue's trace context, each attempt is a span.

Add `TracingMiddleware()` to the producer's broker and to the worker's:

- at enqueue (`pre_send`), a PRODUCER span `enqueue <job type>` is recorded and its context is
  injected into the job's Taskiq labels (`traceparent`, `tracestate`: W3C trace context, or
  whatever propagator is configured). Labels that jobqueue does not own are stored with the job
  and come back in the worker's message, so the context survives delays, retries and restarts;
- in the worker, each attempt runs in a CONSUMER span `run <job type>`, linked to the producer's
  span, with `jobqueue.job.id`, `jobqueue.job.type`, `jobqueue.queue` and `jobqueue.attempt`
  (and the `messaging.*` attributes). It is the current span while the job runs, so spans the job
  makes (HTTP calls, queries) are its children. A failed attempt records its exception.

Needs the `otel` extra (opentelemetry-api); an SDK and exporter are the application's choice.
"""

from __future__ import annotations

import contextlib
from importlib import metadata
from typing import Any

from taskiq import TaskiqMessage, TaskiqMiddleware, TaskiqResult

from jobqueue._labels import Label
from jobqueue._middleware import delivery_of
from jobqueue._wire import DELIVERY_LABEL
from jobqueue.broker import JobBroker

try:
    from opentelemetry import context as otel_context
    from opentelemetry import propagate, trace
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError("jobqueue.tracing needs OpenTelemetry: pip install 'jobqueue[otel]'") from exc

__all__ = ["TracingMiddleware"]


def _version() -> str:
    try:
        return metadata.version("jobqueue")
    except metadata.PackageNotFoundError:
        return "unknown"


class TracingMiddleware(TaskiqMiddleware):
    """Carries trace context from enqueue to every attempt (see the module's docstring).

    Args:
        tracer_provider: Where spans go; the global tracer provider when omitted.
        child_of_producer: Make each attempt's span a child of the producer's span (one trace
            per job) rather than the root of a trace of its own linked to it (the default, as
            OpenTelemetry's messaging conventions suggest for work that runs later).
    """

    def __init__(self, tracer_provider: Any = None, *, child_of_producer: bool = False) -> None:
        super().__init__()
        self.tracer = trace.get_tracer("jobqueue", _version(), tracer_provider=tracer_provider)
        self.child_of_producer = child_of_producer
        self._spans: dict[tuple[str, str], tuple[Any, object]] = {}

    def pre_send(self, message: TaskiqMessage) -> TaskiqMessage:
        """Record the enqueue, and put its trace context into the job's labels."""
        queue = str(message.labels.get(Label.QUEUE, ""))
        span = self.tracer.start_span(
            f"enqueue {message.task_name}",
            kind=trace.SpanKind.PRODUCER,
            attributes={
                "messaging.system": "jobqueue",
                "messaging.operation.type": "send",
                "messaging.destination.name": queue,
                "messaging.message.id": message.task_id,
                "jobqueue.job.id": message.task_id,
                "jobqueue.job.type": message.task_name,
                "jobqueue.queue": queue,
            },
        )
        carrier: dict[str, str] = {}
        propagate.inject(carrier, context=trace.set_span_in_context(span))
        message.labels.update(carrier)
        span.end()
        return message

    def pre_execute(self, message: TaskiqMessage) -> TaskiqMessage:
        """Start the attempt's span, linked to the enqueue's, and make it the current one."""
        producer = trace.get_current_span(propagate.extract(message.labels)).get_span_context()
        links = [trace.Link(producer)] if producer.is_valid else []
        parent = None
        if self.child_of_producer and producer.is_valid:
            parent = trace.set_span_in_context(trace.NonRecordingSpan(producer))
        delivery = None
        if isinstance(self.broker, JobBroker):
            delivery = delivery_of(self.broker.attempts, message)
        queue = delivery.queue if delivery else str(message.labels.get(Label.QUEUE, ""))
        attributes: dict[str, Any] = {
            "messaging.system": "jobqueue",
            "messaging.operation.type": "process",
            "messaging.destination.name": queue,
            "messaging.message.id": message.task_id,
            "jobqueue.job.id": message.task_id,
            "jobqueue.job.type": message.task_name,
            "jobqueue.queue": queue,
        }
        if delivery is not None:
            attributes["jobqueue.attempt"] = delivery.retried + 1
        span = self.tracer.start_span(
            f"run {message.task_name}",
            context=parent,
            kind=trace.SpanKind.CONSUMER,
            links=links,
            attributes=attributes,
        )
        token = otel_context.attach(trace.set_span_in_context(span))
        self._spans[_key(message)] = (span, token)
        return message

    def on_error(
        self, message: TaskiqMessage, result: TaskiqResult[Any], exception: BaseException
    ) -> None:
        """Record the attempt's exception on its span."""
        found = self._spans.get(_key(message))
        if found is not None:
            span = found[0]
            span.record_exception(exception)
            span.set_status(trace.Status(trace.StatusCode.ERROR, f"{type(exception).__name__}"))

    def post_execute(self, message: TaskiqMessage, result: TaskiqResult[Any]) -> None:
        """End the attempt's span."""
        found = self._spans.pop(_key(message), None)
        if found is None:
            return
        span, token = found
        span.end()
        with contextlib.suppress(ValueError):  # detached in another context: nothing to undo
            otel_context.detach(token)  # type: ignore[arg-type]


def _key(message: TaskiqMessage) -> tuple[str, str]:
    return message.task_id, str(message.labels.get(DELIVERY_LABEL, ""))
