"""Scaling out: a queue behind Sentinel, with durable enqueue.

    python examples/docs/scaling.py

Starts a throw-away primary, its replica and one Sentinel on loopback ports (from
`redis-server` on PATH), then enqueues through Sentinel and runs the job in this process.
"""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from jobqueue import JobQueue, JobRegistry, QueueSettings
from jobqueue.redis import RedisJobBroker
from jobqueue.testing import RedisServer, run_worker

registry = JobRegistry()
done = asyncio.Event()


@registry.job("reports:build")
async def build_report(payload: dict[str, int]) -> None:
    print("building report", payload["report_id"])
    done.set()


async def main(sentinel_port: int) -> None:
    # --8<-- [start:settings]
    settings = QueueSettings(
        sentinels=[f"127.0.0.1:{sentinel_port}"],  # QUEUE_SENTINELS
        sentinel_master="jobs",  # QUEUE_SENTINEL_MASTER
        durable_replicas=1,  # QUEUE_DURABLE_REPLICAS: enqueue returns once a replica has it
        durable_timeout=1.0,  # QUEUE_DURABLE_TIMEOUT
    )
    async with JobQueue(RedisJobBroker(settings, registry=registry)) as queue:
        info = await queue.enqueue("reports:build", {"report_id": 7})
        # --8<-- [end:settings]
        print("enqueued", info.id, "on the primary and one replica")
        async with run_worker(RedisJobBroker(settings, registry=registry)):
            await asyncio.wait_for(done.wait(), 30)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_synced(port: int) -> None:
    for _ in range(200):
        out = subprocess.run(
            ["redis-cli", "-p", str(port), "info", "replication"], capture_output=True, text=True
        ).stdout
        if "master_link_status:up" in out:
            return
        time.sleep(0.05)
    raise RuntimeError("the replica did not sync")


if __name__ == "__main__":
    server = shutil.which("redis-server")
    if server is None or shutil.which("redis-cli") is None:
        sys.exit("needs redis-server and redis-cli on PATH (Debian: apt install redis-server)")
    with RedisServer(server) as primary, tempfile.TemporaryDirectory() as folder:
        replica = RedisServer(server, extra_args=["--replicaof", "127.0.0.1", str(primary.port)])
        with replica.start():
            wait_synced(replica.port)
            port = free_port()
            conf = Path(folder) / "sentinel.conf"
            conf.write_text(
                f"port {port}\nbind 127.0.0.1\ndir {folder}\n"
                f"sentinel monitor jobs 127.0.0.1 {primary.port} 1\n"
            )
            sentinel = subprocess.Popen(
                [server, str(conf), "--sentinel"], stdout=subprocess.DEVNULL
            )
            try:
                time.sleep(0.5)  # the Sentinel reads its primary
                asyncio.run(main(port))
            finally:
                sentinel.kill()
                sentinel.wait()
