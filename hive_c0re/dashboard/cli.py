"""``hive-c0re dashboard``: serve the dashboard, and manage who is logged in to it.

Registered on ``hive-c0re``'s root group (``hive_c0re/cli.py``); each
subcommand asks the daemon on host.sock and returns an :class:`output.Result`
for the root group to print.
"""

from __future__ import annotations

import os
from typing import Any

import click

from hive_c0re import output
from hive_c0re.errors import PolicyRefused
from hive_c0re.output import Result

DEFAULT_URL = "http://127.0.0.1:7000"


@click.group(invoke_without_command=True)
@click.pass_context
def dashboard(ctx: click.Context) -> None:
    """Serve the operator's dashboard, or manage its logins.

    Without a subcommand it serves (normally started by hive-c0re-dashboard.socket);
    login, sessions and logout manage who is logged in.
    """
    if ctx.invoked_subcommand is None:
        _serve(ctx.obj)


def _serve(obj: Any) -> None:
    from hive_c0re import logs
    from hive_c0re.dashboard.server import serve  # type: ignore[import-not-found, import-untyped, unused-ignore]
    from hive_c0re.paths import host_socket_from_env

    logs.setup("hive-c0re-dashboard", debug=obj.debug)
    serve(hive_socket=obj.socket or host_socket_from_env())


def login_url(base: str | None, code: str) -> str:
    """Where the browser goes to swap ``code`` for its session."""
    return (base or DEFAULT_URL).rstrip("/") + "/login?code=" + code


@dashboard.command()
@click.pass_obj
def login(obj: Any) -> Result:
    """Print a one-time login URL for the dashboard (root only).

    It logs one browser in. The URL's code works once, within 60 s. The address is dashboard_url, or
    http://127.0.0.1:7000 while that is not set.
    """
    if os.geteuid() != 0:
        raise PolicyRefused("dashboard login is for root only: its code opens the whole hive",
                            hint="run it as root, e.g. sudo hive-c0re dashboard login")
    with obj.client() as hive:
        made = hive.call("dashboard_code")
        base = hive.call("urls")["urls"]["home"]
    return Result({"url": login_url(base, made["code"]), "code": made["code"],
                   "expires_at": made["expires_at"]}, output.dashboard_login)


@dashboard.command()
@click.pass_obj
def sessions(obj: Any) -> Result:
    """List the browsers logged in to the dashboard."""
    found = obj.call("dashboard_sessions")["sessions"]
    return Result({"sessions": found}, output.dashboard_sessions)


@dashboard.command()
@click.argument("session_id", metavar="[ID]", type=click.IntRange(min=1),
              required=False)
@click.option("--all", "every", is_flag=True, help="end every session")
@click.pass_obj
def logout(obj: Any, session_id: int | None, every: bool) -> Result:
    """End dashboard session ID (see `sessions`), or --all of them.

    The browser is refused at once, its live updates included.
    """
    if (session_id is None) == (not every):
        raise click.UsageError("give a session ID or --all (not both)")
    revoked = obj.call("dashboard_logout", id=session_id, all=every or None)["revoked"]
    return Result({"revoked": revoked}, output.dashboard_logout)
