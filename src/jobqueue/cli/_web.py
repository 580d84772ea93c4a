"""`jobqueue web`: the dashboard on its own, served by uvicorn.

It listens on 127.0.0.1 unless told otherwise and asks for HTTP basic auth: user
`JOBQUEUE_WEB_USER` (default `admin`), password `JOBQUEUE_WEB_PASSWORD`. Without a password it
starts only `--read-only` or with an explicit `--no-auth`, and only on a loopback address: it
never serves the queues to the network without a password.
"""

from __future__ import annotations

import ipaddress
import os

import click

from jobqueue.cli._session import Session

__all__ = ["web"]

USER_VARIABLE = "JOBQUEUE_WEB_USER"
PASSWORD_VARIABLE = "JOBQUEUE_WEB_PASSWORD"  # noqa: S105 - the variable's name, not a password


def loopback(host: str) -> bool:
    """Whether an address to listen on is reachable from this machine only."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to anything


def credentials(host: str, *, read_only: bool, no_auth: bool) -> tuple[str, str] | None:
    """The basic auth user and password to require, or `None`; refuses an unsafe start.

    Raises:
        click.UsageError: No password while listening beyond loopback, or no password and
            neither `--read-only` nor `--no-auth`.
    """
    password = os.environ.get(PASSWORD_VARIABLE, "")
    user = os.environ.get(USER_VARIABLE, "") or "admin"
    if not loopback(host) and (no_auth or not password):
        raise click.UsageError(
            f"refusing to listen on {host} without a password: set {PASSWORD_VARIABLE} "
            f"(HTTP basic auth, user {USER_VARIABLE} or admin), or listen on 127.0.0.1"
        )
    if no_auth:
        return None
    if not password and not read_only:
        raise click.UsageError(
            f"set {PASSWORD_VARIABLE} to protect the dashboard with HTTP basic auth (user "
            f"{USER_VARIABLE}, default admin), or start it with --read-only or --no-auth"
        )
    return (user, password) if password else None


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=8080, show_default=True)
@click.option("--read-only", is_flag=True, help="Show everything, allow no action.")
@click.option("--no-auth", is_flag=True, help="No password (loopback addresses only).")
@click.option("--root-path", default="", help="The path a proxy serves the dashboard under.")
@click.pass_obj
def web(
    session: Session, host: str, port: int, read_only: bool, no_auth: bool, root_path: str
) -> None:
    """Serve the dashboard (every queue, job, worker and error group) in a browser.

    HTTP basic auth: user JOBQUEUE_WEB_USER (default admin), password JOBQUEUE_WEB_PASSWORD.
    Without a password it starts only --read-only or --no-auth, and only on loopback.
    """
    basic = credentials(host, read_only=read_only, no_auth=no_auth)
    try:
        import uvicorn

        from jobqueue.web import dashboard
    except ImportError as exc:
        raise click.UsageError(
            f"the dashboard needs the web extra: pip install 'jobqueue[web]' ({exc})"
        ) from None
    app = dashboard(session.settings, read_only=read_only, basic_auth=basic)
    mode = "read-only" if read_only else "read-write"
    auth = "basic auth" if basic else "no auth"
    click.echo(f"dashboard on http://{host}:{port}{root_path}/ ({mode}, {auth})", err=True)
    uvicorn.run(app, host=host, port=port, root_path=root_path, log_level="warning")
