"""What every subcommand shares: the settings, a started broker with its inspector, JSON output."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import click
import orjson

from jobqueue.redis import RedisJobBroker
from jobqueue.redis.inspector import Inspector, as_json
from jobqueue.settings import QueueSettings

__all__ = ["Session", "emit_json", "json_option", "run"]

T = TypeVar("T")


class Session:
    """One run of the command: its settings, read from `QUEUE_*` when first needed."""

    def __init__(self) -> None:
        self.loaded: QueueSettings | None = None

    @property
    def settings(self) -> QueueSettings:
        """The settings (a `ConfigurationError` names the variable that is wrong)."""
        if self.loaded is None:
            self.loaded = QueueSettings.from_env()
        return self.loaded


def run(action: Callable[[Inspector], Awaitable[T]]) -> T:
    """Run `action` with an inspector on a started broker, then disconnect."""
    session = click.get_current_context().find_object(Session)
    settings = session.settings if session is not None else QueueSettings.from_env()

    async def go() -> T:
        broker = RedisJobBroker(settings)
        await broker.startup()
        try:
            return await action(Inspector(broker))
        finally:
            await broker.shutdown()

    return asyncio.run(go())


def emit_json(value: Any) -> None:
    """Print one JSON document (indented, keys in the views' order)."""
    click.echo(orjson.dumps(as_json(value), option=orjson.OPT_INDENT_2).decode())


json_option = click.option(
    "--json", "as_json_output", is_flag=True, help="Print one JSON document instead of a table."
)
