"""The pipelined connection of the hot path, against real Redis servers started here."""

from __future__ import annotations

import asyncio
import enum
from collections.abc import AsyncIterator, Iterator

import pytest
from redis import exceptions as redis_errors
from redis.asyncio import Redis

from jobqueue.redis._connection import PipelinedConnection, pack
from jobqueue.testing.redis_server import RedisServer


class Color(enum.StrEnum):
    RED = "red"


class Level(enum.IntEnum):
    HIGH = 3


def test_pack_writes_what_redis_py_writes() -> None:
    assert pack(["SET", b"k\x00", 10, 1.5, Color.RED, Level.HIGH, "é"]) == (
        b"*7\r\n$3\r\nSET\r\n$2\r\nk\x00\r\n$2\r\n10\r\n$3\r\n1.5\r\n$3\r\nred\r\n"
        b"$1\r\n3\r\n$2\r\n\xc3\xa9\r\n"
    )


@pytest.mark.parametrize("value", [True, None, object()])
def test_pack_refuses_what_redis_cannot_store(value: object) -> None:
    with pytest.raises(redis_errors.DataError):
        pack(["SET", "k", value])


@pytest.fixture
def server() -> Iterator[RedisServer]:
    with RedisServer() as private:
        yield private


@pytest.fixture
async def connection(jobqueue_redis_url: str) -> AsyncIterator[PipelinedConnection]:
    client = Redis.from_url(jobqueue_redis_url + "/5")
    connection = PipelinedConnection.for_client(client)
    assert connection is not None
    try:
        yield connection
    finally:
        await connection.close()
        await client.aclose()


async def test_concurrent_calls_share_the_connection_and_get_their_own_replies(
    connection: PipelinedConnection,
) -> None:
    key = "connection:test:counter"
    await connection.call(["DEL", key])
    replies = await asyncio.gather(*(connection.call(["INCRBY", key, n]) for n in range(1, 201)))
    # Replies come back in the order the commands were written: running sums of 1..n.
    assert replies == [n * (n + 1) // 2 for n in range(1, 201)]
    assert await connection.call(["GET", key]) == b"20100"


async def test_error_replies_become_redis_py_exceptions(connection: PipelinedConnection) -> None:
    with pytest.raises(redis_errors.NoScriptError):
        await connection.call(["EVALSHA", "0" * 40, 0])
    replies = await connection.call_many(
        [["SET", "connection:k", "v"], ["LPUSH", "connection:k", "x"], ["GET", "connection:k"]]
    )
    assert replies[0] == b"OK"
    assert isinstance(replies[1], redis_errors.ResponseError)
    assert "WRONGTYPE" in str(replies[1])
    assert replies[2] == b"v"


async def test_a_cancelled_call_does_not_shift_the_replies_of_later_calls(
    connection: PipelinedConnection,
) -> None:
    slow = asyncio.create_task(connection.call(["BLPOP", "connection:nothing", 0.2]))
    await asyncio.sleep(0.05)
    slow.cancel()
    assert await connection.call(["ECHO", "mine"]) == b"mine"


async def test_selects_the_database_of_the_url(jobqueue_redis_url: str) -> None:
    client = Redis.from_url(jobqueue_redis_url + "/7")
    connection = PipelinedConnection.for_client(client)
    assert connection is not None
    try:
        await connection.call(["SET", "connection:db", "seven"])
        assert await client.get("connection:db") == b"seven"
        assert await Redis.from_url(jobqueue_redis_url + "/0").get("connection:db") is None
    finally:
        await connection.close()
        await client.aclose()


async def test_authenticates_with_the_password_of_the_url(server: RedisServer) -> None:
    admin = Redis.from_url(server.url)
    await admin.config_set("requirepass", "s3cret")
    await admin.aclose()
    good = PipelinedConnection.for_client(Redis.from_url(server.url.replace("//", "//:s3cret@")))
    bad = PipelinedConnection.for_client(Redis.from_url(server.url.replace("//", "//:wrong@")))
    assert good is not None
    assert bad is not None
    try:
        assert await good.call(["PING"]) == b"PONG"
        with pytest.raises(redis_errors.AuthenticationError):
            await bad.call(["PING"])
    finally:
        await good.close()
        await bad.close()


async def test_a_lost_server_fails_calls_and_a_new_one_is_reconnected(
    server: RedisServer,
) -> None:
    connection = PipelinedConnection.for_client(Redis.from_url(server.url))
    assert connection is not None
    try:
        assert await connection.call(["PING"]) == b"PONG"
        port = server.port
        server.stop()
        with pytest.raises(redis_errors.ConnectionError):
            await connection.call(["PING"])
        with RedisServer(port=port):  # what a restarted Redis looks like to the client
            assert await connection.call(["PING"]) == b"PONG"
    finally:
        await connection.close()


async def test_a_server_that_stops_answering_times_out(unused_tcp_port: int) -> None:
    accepted: list[asyncio.StreamWriter] = []

    async def silent(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(writer)

    listener = await asyncio.start_server(silent, "127.0.0.1", unused_tcp_port)
    connection = PipelinedConnection(port=unused_tcp_port, host="127.0.0.1", timeout=0.2)
    try:
        with pytest.raises(redis_errors.TimeoutError):
            await connection.call(["PING"])
        with pytest.raises(redis_errors.TimeoutError):
            await connection.call(["PING"])
        assert len(accepted) == 2  # a new connection after the timeout
    finally:
        await connection.close()
        listener.close()
        for writer in accepted:
            writer.close()


def test_tls_urls_go_through_redis_py() -> None:
    assert PipelinedConnection.for_client(Redis.from_url("rediss://localhost:6380/0")) is None


async def test_closed_lane_refuses_calls(connection: PipelinedConnection) -> None:
    await connection.close()
    with pytest.raises(redis_errors.ConnectionError):
        await connection.call(["PING"])


async def test_a_server_loading_its_data_is_a_connection_error() -> None:
    # What Redis answers while it replays its append-only file after a restart.
    async def loading(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while await reader.read(4096):
            writer.write(b"-LOADING Redis is loading the dataset in memory\r\n")
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(loading, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        connection = PipelinedConnection(host="127.0.0.1", port=port)
        with pytest.raises(redis_errors.BusyLoadingError):
            await connection.call(["PING"])
        await connection.close()
    finally:
        server.close()
        await server.wait_closed()
