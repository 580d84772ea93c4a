"""Replicated, Sentinel-watched and clustered Redis servers on loopback ports, for the scale-out
tests. Each starts from `redis-server` on PATH, and stops only the processes it started.
"""

from __future__ import annotations

import contextlib
import random
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from chaos.harness import pick_redis_server, redis_version
from jobqueue.testing import RedisServer

MASTER = "jobqueue-primary"


def redis_tools() -> tuple[str, str]:
    """The newest `redis-server` on PATH (a venv's embedded 6.2 may come first) and `redis-cli`,
    or skip the test saying what is missing."""
    server, cli = pick_redis_server(), shutil.which("redis-cli")
    if cli is None or redis_version(server) < (7, 0, 0):
        pytest.skip("needs redis-server 7 and redis-cli on PATH (Debian: apt install redis-server)")
    return server, cli


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def free_cluster_port() -> int:
    """A free port whose cluster bus port (port + 10000) is free too, and exists."""
    for _ in range(200):
        port = random.randint(20000, 30000)
        try:
            for candidate in (port, port + 10000):
                with socket.socket() as sock:
                    sock.bind(("127.0.0.1", candidate))
        except OSError:
            continue
        return port
    raise RuntimeError("no free port pair for a cluster node")


def wait_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.02)
    raise RuntimeError(f"nothing listens on port {port}")


class Process:
    """One `redis-server` started with its own arguments, stopped by its pid."""

    def __init__(self, argv: list[str], port: int) -> None:
        self.argv = argv
        self.port = port
        self.process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_port(port)

    def restart(self) -> None:
        """Start it again with the same arguments (a cluster node rejoins from its config file)."""
        self.kill()
        self.process = subprocess.Popen(
            self.argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        wait_port(self.port)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(5)


@contextlib.contextmanager
def replicated(replicas: int = 1) -> Iterator[tuple[RedisServer, list[RedisServer]]]:
    """A primary and its replicas."""
    server, _ = redis_tools()
    quick_sync = ["--repl-diskless-sync-delay", "0"]
    with RedisServer(server, appendonly=True, extra_args=quick_sync) as primary:
        followers = []
        try:
            for _ in range(replicas):
                args = ["--replicaof", "127.0.0.1", str(primary.port), *quick_sync]
                followers.append(RedisServer(server, appendonly=True, extra_args=args).start())
            _, cli = redis_tools()
            wait_replicas_synced(cli, [f.port for f in followers])
            yield primary, followers
        finally:
            for follower in followers:
                follower.stop()


@contextlib.contextmanager
def sentinels(primary_port: int, count: int = 3) -> Iterator[list[int]]:
    """Sentinels watching the primary as `MASTER`, quick to fail over; their ports."""
    server, _ = redis_tools()
    with tempfile.TemporaryDirectory(prefix="jobqueue-sentinel-") as folder:
        started: list[Process] = []
        try:
            for n in range(count):
                port = free_port()
                conf = Path(folder) / f"sentinel-{n}.conf"
                conf.write_text(
                    f"port {port}\nbind 127.0.0.1\ndir {folder}\n"
                    f"sentinel monitor {MASTER} 127.0.0.1 {primary_port} 2\n"
                    f"sentinel down-after-milliseconds {MASTER} 1000\n"
                    f"sentinel failover-timeout {MASTER} 10000\n"
                    f"sentinel parallel-syncs {MASTER} 1\n"
                )
                started.append(Process([server, str(conf), "--sentinel"], port))
            yield [p.port for p in started]
        finally:
            for process in started:
                process.kill()


@contextlib.contextmanager
def cluster(primaries: int = 3, replicas: int = 1) -> Iterator[list[Process]]:
    """A Redis Cluster of `primaries` with `replicas` each, made by `redis-cli --cluster create`."""
    server, cli = redis_tools()
    with tempfile.TemporaryDirectory(prefix="jobqueue-cluster-") as folder:
        nodes: list[Process] = []
        try:
            for _ in range(primaries * (1 + replicas)):
                port = free_cluster_port()
                argv = [server, "--port", str(port), "--bind", "127.0.0.1", "--dir", folder]
                argv += ["--cluster-enabled", "yes", "--cluster-config-file", f"nodes-{port}.conf"]
                argv += ["--cluster-node-timeout", "1000", "--appendonly", "yes", "--save", ""]
                argv += ["--repl-diskless-sync-delay", "0"]  # replicas in sync at once
                argv += ["--appendfilename", f"aof-{port}.aof", "--appenddirname", f"aof-{port}"]
                nodes.append(Process(argv, port))
            create = [cli, "--cluster", "create", *(f"127.0.0.1:{n.port}" for n in nodes)]
            create += ["--cluster-replicas", str(replicas), "--cluster-yes"]
            subprocess.run(create, check=True, capture_output=True, timeout=60)
            wait_cluster_ok(cli, nodes[0].port)
            yield nodes
        finally:
            for node in nodes:
                node.kill()


def wait_replicas_synced(cli: str, ports: list[int], timeout: float = 30.0) -> None:
    """Until every replica among `ports` has its primary's data (a failover needs it)."""
    deadline = time.monotonic() + timeout
    for port in ports:
        while True:
            out = subprocess.run(
                [cli, "-p", str(port), "info", "replication"],
                capture_output=True,
                text=True,
                timeout=5,
            ).stdout
            if "role:master" in out or "master_link_status:up" in out:
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"the replica on port {port} did not sync")
            time.sleep(0.05)


def wait_cluster_ok(cli: str, port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        out = subprocess.run(
            [cli, "-p", str(port), "cluster", "info"], capture_output=True, text=True, timeout=5
        ).stdout
        if "cluster_state:ok" in out:
            return
        time.sleep(0.1)
    raise RuntimeError("the cluster did not become ok")
