"""Celery with the Redis broker, one `--pool solo` worker process (runs one job at a time).

The solo pool runs tasks inline and sync, so the "sleep" job calls `time.sleep(0.001)`.
"""

from __future__ import annotations

from typing import Any

from celery import Celery

from benchmarks.systems import _body

SYNC = True
SETTINGS: dict[str, Any] = {
    "cli": "celery -A benchmarks.systems.celery:app worker --pool solo -Q bench",
    "pool": "solo (one task at a time, in the worker process; concurrency 1)",
    "body": "sync: time.sleep(0.001) for the sleep job",
    "prefetch_multiplier": "default 4",
    "acks_late": "default False",
    "results": "no result backend",
    "gossip/mingle/heartbeat": "defaults (on)",
    "log_level": "celery CLI default (WARNING)",
}

app = Celery("bench", broker=_body.queue_url())
app.conf.task_default_queue = "bench"
app.conf.broker_connection_retry_on_startup = True


@app.task(name="noop")
def noop(t: float) -> None:
    _body.noop_sync(t)


@app.task(name="sleep")
def sleep(t: float) -> None:
    _body.sleep_sync(t)


TASKS = {"noop": noop, "sleep": sleep}


def worker_command() -> tuple[list[str], dict[str, str]]:
    argv = ["-m", "celery", "-A", f"{__name__}:app", "worker", "--pool", "solo", "-Q", "bench"]
    return argv, {}


class Producer:
    def enqueue(self, body: str, t: float) -> None:
        TASKS[body].apply_async((t,))

    def close(self) -> None:
        app.close()


def open_producer() -> Producer:
    return Producer()
