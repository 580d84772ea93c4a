"""The producer side of one system, run from that system's venv by the harness.

`python -m benchmarks.driver <system>` imports the system's adapter, opens its producer, prints a
hello line (the worker command and settings), then answers one JSON command per stdin line with
one JSON line on the protocol channel (the original stdout; anything the libraries print goes to
stderr). Commands:

- `{"cmd": "enqueue", "mode": "sequential"|"concurrent"|"batch", "n", "body", ...}`: enqueue n
  jobs (with t=0: not timed by the jobs) and return the seconds it took;
- `{"cmd": "prepare"}`: the adapter's `prepare()` after the harness flushed Redis;
- `{"cmd": "load", "rate", "seconds", "body"}`: open-loop offered load, each job carrying its
  enqueue time; returns how many were sent and how far the sender fell behind;
- `{"cmd": "quit"}`.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import json
import os
import sys
import threading
import time
import traceback
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from benchmarks.systems import SYSTEMS


class AsyncDriver:
    def __init__(self, producer: Any) -> None:
        self.p = producer

    async def enqueue(self, cmd: dict[str, Any]) -> dict[str, Any]:
        n, body, mode = cmd["n"], cmd["body"], cmd["mode"]
        started = time.perf_counter()
        if mode == "sequential":
            for _ in range(n):
                await self.p.enqueue(body, 0.0)
        elif mode == "concurrent":
            left = n

            async def sender() -> None:
                nonlocal left
                while left > 0:
                    left -= 1
                    await self.p.enqueue(body, 0.0)

            await asyncio.gather(*(sender() for _ in range(cmd.get("concurrency", 100))))
        elif mode == "batch":
            size = cmd.get("batch_size", 1000)
            for i in range(0, n, size):
                await self.p.enqueue_many(body, [0.0] * min(size, n - i))
        else:
            raise ValueError(f"unknown mode {mode!r}")
        return {"seconds": time.perf_counter() - started, "n": n}

    async def prepare(self, cmd: dict[str, Any]) -> dict[str, Any]:
        if hasattr(self.p, "prepare"):
            await self.p.prepare()
        return {}

    async def load(self, cmd: dict[str, Any]) -> dict[str, Any]:
        rate, body = cmd["rate"], cmd["body"]
        total = int(rate * cmd["seconds"])
        pending: set[asyncio.Task[None]] = set()
        errors: list[BaseException] = []
        max_lag = 0.0

        def done(task: asyncio.Task[None]) -> None:
            pending.discard(task)
            if not task.cancelled() and task.exception() is not None:
                errors.append(task.exception())  # type: ignore[arg-type]

        started = time.perf_counter()
        for i in range(total):
            wait = started + i / rate - time.perf_counter()
            if wait > 0:
                await asyncio.sleep(wait)
            else:
                max_lag = max(max_lag, -wait)
            task = asyncio.create_task(self.p.enqueue(body, time.time()))
            pending.add(task)
            task.add_done_callback(done)
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
        if errors:
            raise errors[0]
        return {"sent": total, "seconds": time.perf_counter() - started, "max_lag": max_lag}

    async def close(self) -> None:
        if hasattr(self.p, "close"):
            await self.p.close()


class SyncDriver:
    """For sync producers (dramatiq, celery): concurrency comes from threads."""

    def __init__(self, producer: Any) -> None:
        self.p = producer

    def enqueue(self, cmd: dict[str, Any]) -> dict[str, Any]:
        n, body, mode = cmd["n"], cmd["body"], cmd["mode"]
        started = time.perf_counter()
        if mode == "sequential":
            for _ in range(n):
                self.p.enqueue(body, 0.0)
        elif mode == "concurrent":
            threads = cmd.get("concurrency", 100)
            lock = threading.Lock()
            left = [n]

            def sender() -> None:
                while True:
                    with lock:
                        if left[0] <= 0:
                            return
                        left[0] -= 1
                    self.p.enqueue(body, 0.0)

            with ThreadPoolExecutor(threads) as pool:
                for future in [pool.submit(sender) for _ in range(threads)]:
                    future.result()
        elif mode == "batch":
            size = cmd.get("batch_size", 1000)
            for i in range(0, n, size):
                self.p.enqueue_many(body, [0.0] * min(size, n - i))
        else:
            raise ValueError(f"unknown mode {mode!r}")
        return {"seconds": time.perf_counter() - started, "n": n}

    def prepare(self, cmd: dict[str, Any]) -> dict[str, Any]:
        if hasattr(self.p, "prepare"):
            self.p.prepare()
        return {}

    def load(self, cmd: dict[str, Any]) -> dict[str, Any]:
        rate, body = cmd["rate"], cmd["body"]
        total = int(rate * cmd["seconds"])
        max_lag = 0.0
        started = time.perf_counter()
        for i in range(total):
            wait = started + i / rate - time.perf_counter()
            if wait > 0:
                time.sleep(wait)
            else:
                max_lag = max(max_lag, -wait)
            self.p.enqueue(body, time.time())
        return {"sent": total, "seconds": time.perf_counter() - started, "max_lag": max_lag}

    def close(self) -> None:
        if hasattr(self.p, "close"):
            self.p.close()


def main(system: str) -> None:
    # The protocol channel is the original stdout; everything else printed goes to stderr.
    channel = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr

    def reply(data: dict[str, Any]) -> None:
        channel.write(json.dumps(data) + "\n")

    module = importlib.import_module(SYSTEMS[system].module)
    sync = getattr(module, "SYNC", False)
    loop = asyncio.new_event_loop()
    run: Callable[[Any], Any] = (lambda value: value) if sync else loop.run_until_complete
    opened = module.open_producer()
    producer = opened if sync else run(opened)
    driver: Any = SyncDriver(producer) if sync else AsyncDriver(producer)
    argv, env = module.worker_command()
    reply(
        {
            "event": "hello",
            "worker_argv": argv,
            "worker_env": env,
            "settings": {k: str(v) for k, v in module.SETTINGS.items()},
            "sync": sync,
            "batch": hasattr(producer, "enqueue_many"),
        }
    )
    try:
        for line in sys.stdin:
            if not line.strip():
                continue
            cmd = json.loads(line)
            if cmd["cmd"] == "quit":
                break
            try:
                handler = getattr(driver, cmd["cmd"])
                result = handler(cmd)
                if inspect.isawaitable(result):
                    result = run(result)
                reply({"ok": True, **result})
            except Exception as exc:
                reply(
                    {
                        "ok": False,
                        "error": f"{type(exc).__name__}: {exc}",
                        "tb": traceback.format_exc(),
                    }
                )
    finally:
        try:
            result = driver.close()
            if inspect.isawaitable(result):
                run(result)
        finally:
            loop.close()


if __name__ == "__main__":
    main(sys.argv[1])
