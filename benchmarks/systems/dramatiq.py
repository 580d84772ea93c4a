"""dramatiq with its `RedisBroker`: `dramatiq <module> --processes 1 --threads 10`.

dramatiq runs actors on threads, so the jobs are the sync bodies: the "sleep" job calls
`time.sleep(0.001)` (its AsyncIO middleware exists but is not dramatiq's default).
"""

from __future__ import annotations

from typing import Any

import dramatiq
from dramatiq.brokers.redis import RedisBroker

from benchmarks.systems import _body

SYNC = True
SETTINGS: dict[str, Any] = {
    "cli": "dramatiq benchmarks.systems.dramatiq:broker --processes 1 --threads 10",
    "processes": 1,
    "threads": 10,
    "body": "sync (threads): time.sleep(0.001) for the sleep job",
    "middleware": "defaults (retries, time limit, age limit, ...); no results backend",
    "log_level": "dramatiq CLI default (INFO; no per-job lines)",
}

broker = RedisBroker(url=_body.queue_url())
dramatiq.set_broker(broker)


@dramatiq.actor(actor_name="noop", queue_name="bench")
def noop(t: float) -> None:
    _body.noop_sync(t)


@dramatiq.actor(actor_name="sleep", queue_name="bench")
def sleep(t: float) -> None:
    _body.sleep_sync(t)


ACTORS = {"noop": noop, "sleep": sleep}


def worker_command() -> tuple[list[str], dict[str, str]]:
    argv = ["-m", "dramatiq", f"{__name__}:broker", "--processes", "1"]
    return [*argv, "--threads", str(_body.concurrency())], {}


class Producer:
    def enqueue(self, body: str, t: float) -> None:
        ACTORS[body].send(t)

    def close(self) -> None:
        broker.close()


def open_producer() -> Producer:
    return Producer()
