"""`jobqueue metrics`: serve the Redis-wide Prometheus metrics, one scrape target for a fleet."""

from __future__ import annotations

import signal
import threading

import click

from jobqueue.cli._session import Session

__all__ = ["STOP", "metrics"]

STOP = threading.Event()
"""Set by SIGINT or SIGTERM (or by whoever runs `main` in a thread) to stop serving."""


@click.command()
@click.option("--port", type=click.IntRange(0, 65535), default=9100, show_default=True)
@click.option("--addr", default="0.0.0.0", show_default=True, help="Address to listen on.")  # noqa: S104
@click.option("--no-memory", is_flag=True, help="Skip the sampled memory of each queue.")
@click.pass_obj
def metrics(session: Session, port: int, addr: str, no_memory: bool) -> None:
    """Serve the queues' metrics for Prometheus, read from Redis at every scrape."""
    from jobqueue._worker_metrics import prometheus
    from jobqueue.metrics import RedisCollector

    client = prometheus()
    registry = client.CollectorRegistry()
    collector = RedisCollector(session.settings, memory=not no_memory)
    registry.register(collector)
    server, _ = client.start_http_server(port, addr=addr, registry=registry)
    click.echo(f"serving metrics on http://{addr}:{server.server_port}/metrics", err=True)
    STOP.clear()
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: STOP.set())
    try:
        STOP.wait()
    finally:
        server.shutdown()
        server.server_close()
        collector.close()
