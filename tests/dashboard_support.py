"""What the dashboard's tests share: a server in a thread, an event loop for the test's own reads
and actions, and a real worker process.

The dashboard runs in uvicorn on a free loopback port in a thread of its own (with its own event
loop), so tests talk to it over real HTTP, from plain (non-async) test functions: Playwright's
sync API runs there without meeting pytest-asyncio's loop. The test's own broker and inspector
live on another loop in another thread (`Backstage`).
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import uvicorn
from starlette.types import ASGIApp
from tests.test_redis_worker_process import ROOT, worker_env
from tests.workers.dashboard import registry, test_key

from jobqueue import JobQueue, QueueSettings
from jobqueue.redis import RedisJobBroker
from jobqueue.redis.inspector import Inspector

T = TypeVar("T")
WORKER = "tests.workers.dashboard:make_broker"


class Served:
    """An ASGI app served by uvicorn on 127.0.0.1, in a thread; `url` once started."""

    def __init__(self, app: ASGIApp) -> None:
        config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> Served:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            assert self.thread.is_alive(), "the server stopped"
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.01)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)


class Backstage:
    """The test's own queue and inspector, on an event loop in a thread of its own."""

    def __init__(self, settings: QueueSettings) -> None:
        self.settings = settings
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.queue = JobQueue(RedisJobBroker(settings, registry=registry))
        self.run(self.queue.__aenter__())
        assert isinstance(self.queue.broker, RedisJobBroker)
        self.broker: RedisJobBroker = self.queue.broker
        self.inspector = Inspector(self.broker)

    def run(self, coroutine: Coroutine[Any, Any, T], timeout: float = 30) -> T:
        """Run a coroutine on the backstage loop and return its result."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def state(self, job_id: str) -> str | None:
        """A job's state now, or `None` if there is no such job."""
        found = self.run(self.inspector.job_detail(job_id))
        return str(found.job.state) if found is not None else None

    def key(self, name: str) -> str:
        return test_key(self.settings, name)

    def close(self) -> None:
        self.run(self.queue.__aexit__(None, None, None))
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


def wait_until(check: Callable[[], bool], what: str, seconds: float = 15) -> None:
    """Poll `check` until it holds."""
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


async def wait_async(check: Callable[[], Awaitable[bool]], what: str, seconds: float = 15) -> None:
    deadline = time.monotonic() + seconds
    while not await check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


class WorkerProcess:
    """A real `taskiq worker` process group running `tests.workers.dashboard`."""

    def __init__(self, settings: QueueSettings, redis_url: str, log: Path) -> None:
        env = worker_env(settings, redis_url)
        env["QUEUE_QUEUES"] = ",".join(f"{name}={w}" for name, w in settings.queues.items())
        env["QUEUE_COMPLETED_RETENTION"] = str(settings.completed_retention)
        self.log = log
        self._log_file = log.open("wb")
        argv = [sys.executable, "-m", "taskiq", "worker", WORKER, "--workers", "1"]
        self.process = subprocess.Popen(
            [*argv, "--receiver", "jobqueue.receiver:JobReceiver"],
            cwd=ROOT,
            env=env,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_ready(self, backstage: Backstage) -> None:
        def ready() -> bool:
            assert self.process.poll() is None, f"worker died:\n{self.output()}"
            return bool(backstage.run(backstage.broker.client.llen(backstage.key("ready"))))

        wait_until(ready, "the worker to start", seconds=20)

    def output(self) -> str:
        self._log_file.flush()
        return self.log.read_text(errors="replace")[-4000:]

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)
        self._log_file.close()
