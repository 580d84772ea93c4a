"""`RedisServer`: the default throw-away server, and the AOF option that survives a SIGKILL."""

from __future__ import annotations

from pathlib import Path

import redis

from jobqueue.testing import RedisServer


def test_default_server_keeps_nothing_across_a_restart() -> None:
    with RedisServer() as server:
        directory = server.data_dir
        assert directory is not None
        assert directory.is_dir()
        client = redis.Redis.from_url(server.url)
        try:
            client.set("k", "v")
            port = server.port
            server.kill()
            server.restart()
            assert server.port == port
            assert client.get("k") is None
            assert client.config_get("appendonly") == {"appendonly": "no"}
        finally:
            client.close()
    assert not directory.exists()


def test_appendonly_server_restarts_on_the_same_port_with_its_data(tmp_path: Path) -> None:
    server = RedisServer(appendonly=True, data_dir=tmp_path / "data")
    with server:
        client = redis.Redis.from_url(server.url)
        try:
            assert client.config_get("appendfsync") == {"appendfsync": "always"}
            client.rpush("jobs", "a", "b")
            port, pid = server.port, server.pid
            server.kill()  # SIGKILL: no chance to flush anything on the way out
            server.restart()
            assert (server.port, server.url) == (port, f"redis://127.0.0.1:{port}")
            assert server.pid != pid
            assert client.lrange("jobs", 0, -1) == [b"a", b"b"]
        finally:
            client.close()
    assert (tmp_path / "data").is_dir()  # a directory given by the caller is left in place
