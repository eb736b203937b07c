"""``hive-c0re``: the host daemon and the operator's command line.

Each operator command asks the daemon (or works locally) and returns an
:class:`output.Result`; the group prints it once, as ``--json`` says, and
:class:`~hive_c0re.command.HiveGroup` turns any HiveError into its message and exit code.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from hive_c0re import __version__, output
from hive_c0re.cli_local import LOCAL_COMMANDS
from hive_c0re.command import HiveGroup
from hive_c0re.dashboard.cli import dashboard as dashboard_command
from hive_c0re.errors import ExitCode
from hive_c0re.logs_cli import logs as logs_command
from hive_c0re.output import Result
from hive_c0re.settings import SETTINGS

if TYPE_CHECKING:
    from hive_c0re.client import Client

F = TypeVar("F", bound=Callable[..., Any])


class Context:
    def __init__(self, socket: Path | None, as_json: bool, debug: bool) -> None:
        self.socket = socket
        self.as_json = as_json
        self.debug = debug

    def client(self) -> Client:
        from hive_c0re.client import Client
        from hive_c0re.paths import host_socket_from_env

        return Client(self.socket or host_socket_from_env())

    def call(self, cmd: str, **args: Any) -> dict[str, Any]:
        with self.client() as client:
            return client.call(cmd, **args)


@click.group(cls=HiveGroup)
@click.version_option(__version__, prog_name="hive-c0re")
@click.option("--socket", type=click.Path(path_type=Path), envvar="HYPERHIVE_SOCKET",
              help="operator socket to talk to [default: $RUNTIME_DIRECTORY/host.sock]")
@click.option("--json", "as_json", is_flag=True, help="print JSON for scripts")
@click.option("--debug", is_flag=True, help="show tracebacks and debug logs")
@click.pass_context
def cli(ctx: click.Context, socket: Path | None, as_json: bool, debug: bool) -> None:
    """Run the hyperhive daemon, or talk to it as the operator."""
    ctx.obj = Context(socket, as_json, debug)


@cli.result_callback()
@click.pass_context
def _render(ctx: click.Context, result: Result | None, /, *, as_json: bool, **_: Any) -> None:
    # The one place a command's answer is printed, and its exit code set.
    if result is None:
        return
    output.render(result, as_json=as_json)
    if result.exit_code:
        ctx.exit(result.exit_code)


def _setting_options(fn: F) -> F:
    for setting in reversed(SETTINGS):
        fn = click.option(setting.option, setting.name, default=None, show_envvar=True,
                          envvar=setting.env, help=f"{setting.help} [default: {setting.default}]",
                          )(fn)
    return fn


@cli.command()
@_setting_options
@click.pass_obj
def serve(obj: Context, /, **overrides: Any) -> None:
    """Run the daemon (normally started by hive-c0re.socket)."""
    import asyncio

    from hive_c0re import logs
    from hive_c0re.daemon.service import serve as run
    from hive_c0re.paths import Paths
    from hive_c0re.settings import Settings

    logs.setup("hive-c0re", debug=obj.debug)
    asyncio.run(run(Paths.from_env(), Settings.load(overrides)))


@cli.command()
@click.option("--follow", "-f", is_flag=True,
              help="then print each agent's status as it changes (Ctrl-C ends)")
@click.pass_obj
def agents(obj: Context, follow: bool) -> Result | None:
    """List the agents: state, uptime and mailbox.

    The manager comes first. A destroyed agent stays listed (state: destroyed)
    until it is spawned again or purged. See VOCABULARY in hive-c0re(1) for the state words.
    """
    if follow:
        _follow_agents(obj)
        return None
    return Result({"agents": obj.call("agent_status")["agent_statuses"]}, output.agents)


def _follow_agents(obj: Context) -> None:
    """One line (or compact JSON object) per change of any agent's status, until Ctrl-C."""
    try:
        with obj.client() as client:
            for frame in client.follow("subscribe_agent_status"):
                for row in frame.get("agent_statuses", ()):
                    output.stream(row, output.status_change, as_json=obj.as_json)
    except KeyboardInterrupt:
        output.interrupted()


@cli.command()
@click.argument("name")
@click.pass_obj
def status(obj: Context, name: str) -> Result:
    """Show one agent's state, container and mailbox.

    NAME may be 'manager'.
    """
    return Result(obj.call("agent_status", name=name)["agent"], output.agent_detail)


def _pause_command(verb: str, paused: bool, help_text: str) -> None:
    @click.argument("name")
    @click.pass_obj
    def command(obj: Context, name: str) -> Result:
        done = obj.call("set_paused", name=name, paused=paused)
        return Result(done["agent_statuses"][0],
                      functools.partial(output.paused, changed=done["changed"]))

    command.__doc__ = help_text
    cli.command(verb)(command)


_pause_command("pause", True, "Pause agent NAME: no new turn starts.\n\nIts running "
               "turn finishes; mail keeps arriving and waits. The mark is kept across "
               "restarts, rebuilds and daemon restarts, also for a stopped container.")
_pause_command("resume", False, "Resume paused agent NAME: it takes its waiting mail.")


@cli.command()
@click.argument("name")
@click.option("--allow", "allowed", multiple=True, metavar="AGENT",
              help="an agent NAME may send to (repeat; none = anyone)")
@click.pass_obj
def register(obj: Context, name: str, allowed: tuple[str, ...]) -> Result:
    """Register agent NAME and create its socket (idempotent)."""
    agent = obj.call("register", name=name, allowed_recipients=list(allowed))["agent"]
    return Result(agent, functools.partial(output.registered, name=name))


@cli.command()
@click.argument("name")
@click.pass_obj
def unregister(obj: Context, name: str) -> Result:
    """Remove agent NAME's socket and record; its mail is kept."""
    obj.call("unregister", name=name)
    return Result({"unregistered": name}, output.unregistered)


def _lifecycle_command(verb: str, help_text: str) -> None:
    @click.argument("name")
    @click.pass_obj
    def command(obj: Context, name: str) -> Result:
        agent = obj.call(verb, name=name)["agent"]
        return Result(agent, functools.partial(output.lifecycle_done, name=name, verb=verb))

    command.__doc__ = help_text
    cli.command(verb)(command)


_lifecycle_command("spawn", "Create (or revive) agent NAME's container and start it.")
_lifecycle_command("start", "Start agent NAME's stopped container.")
_lifecycle_command("stop", "Stop agent NAME's container; it stays stopped.")
_lifecycle_command("restart", "Restart agent NAME's container.")
_lifecycle_command("rebuild", "Re-apply agent NAME's applied config and restart it.\n\n"
                   "A stopped agent gets the config and stays stopped.")


@cli.command()
@click.argument("name")
@click.option("--purge", is_flag=True, help="also wipe its state dir and config repos")
@click.option("--yes", is_flag=True, help="do not ask before --purge")
@click.pass_obj
def destroy(obj: Context, name: str, purge: bool, yes: bool) -> Result:
    """Remove agent NAME's container; its state is kept.

    A later spawn revives it from that state, unless --purge wiped it too.
    """
    if purge and not yes:
        click.confirm(f"wipe {name}'s notes, credentials and config for good?", abort=True)
    obj.call("destroy", name=name, purge=purge)
    return Result({"destroyed": name, "purged": purge}, output.destroyed)


@cli.command()
@click.option("--all", "show_all", is_flag=True, help="every request, not only pending ones")
@click.pass_obj
def approvals(obj: Context, show_all: bool) -> Result:
    """List requests waiting for a decision.

    With --all: every request ever made.
    """
    found = obj.call("approvals" if show_all else "pending")["approvals"]
    return Result({"approvals": found}, functools.partial(output.approvals, show_all=show_all))


@cli.command()
@click.argument("approval_id", metavar="ID", type=int)
@click.option("--sha", default=None,
              help="the commit you reviewed: refused unless the request pinned it")
@click.pass_obj
def approve(obj: Context, approval_id: int, sha: str | None) -> Result:
    """Approve request ID and carry it out.

    Exits 1 if it failed (and was rolled back).
    """
    done = obj.call("approve", id=approval_id, sha=sha)["approval"]
    failed = done["status"] != "deployed"
    return Result(done, output.approval_outcome, ExitCode.ERROR if failed else ExitCode.OK)


@cli.command()
@click.argument("approval_id", metavar="ID", type=int)
@click.option("--note", required=True, help="why; the manager reads it")
@click.pass_obj
def deny(obj: Context, approval_id: int, note: str) -> Result:
    """Deny request ID with a note."""
    return Result(obj.call("deny", id=approval_id, note=note)["approval"],
                  output.approval_outcome)


@cli.command("request-spawn")
@click.argument("name")
@click.option("--description", help="why, shown with the request")
@click.pass_obj
def request_spawn(obj: Context, name: str, description: str | None) -> Result:
    """Queue NAME's spawn for approval (`spawn` does it at once)."""
    return Result(obj.call("request_spawn", name=name, description=description)["approval"],
                  output.approval_outcome)


@cli.command()
@click.option("--all", "show_all", is_flag=True,
              help="every question ever asked, to anyone, answered or not")
@click.pass_obj
def questions(obj: Context, show_all: bool) -> Result:
    """List open questions addressed to the operator.

    With --all: every question, to anyone.
    """
    found = obj.call("questions", all=show_all or None)["questions"]
    return Result({"questions": found}, functools.partial(output.questions, show_all=show_all))


@cli.command()
@click.argument("question_id", metavar="ID", type=int)
@click.argument("text", metavar="ANSWER|-")
@click.pass_obj
def answer(obj: Context, question_id: int, text: str) -> Result:
    """Answer question ID as the operator ('-' reads stdin).

    A question with options takes one of them by name, or several, comma-separated.
    """
    if text == "-":
        text = sys.stdin.read()
    return Result(obj.call("answer", question_id=question_id, answer=text)["question"],
                  output.answered)


@cli.command()
@click.argument("to", metavar="AGENT")
@click.argument("body", metavar="BODY|-")
@click.option("--reply-to", type=int, help="id of the message this answers")
@click.pass_obj
def send(obj: Context, to: str, body: str, reply_to: int | None) -> Result:
    """Send BODY to AGENT, 'manager' or '*' (everyone).

    A BODY of '-' is read from stdin. One line per recipient says which message id it
    got, and "queued" with its state when it is not running to take it now.
    """
    text = sys.stdin.read() if body == "-" else body
    done = obj.call("send", to=to, body=text, in_reply_to=reply_to)
    return Result({"ids": done["ids"], "delivered": done["delivered"]}, output.sent)


@cli.command()
@click.option("--follow", "-f", is_flag=True, help="keep waiting for new mail (Ctrl-C ends)")
@click.option("--max", "limit", type=click.IntRange(1, 32), default=32, show_default=True)
@click.pass_obj
def inbox(obj: Context, follow: bool, limit: int) -> Result | None:
    """Read the operator's unread mail (it is marked read)."""
    if follow:
        _follow_inbox(obj, limit)
        return None
    found: list[dict[str, Any]] = []
    with obj.client() as client:
        while True:
            batch = client.call("inbox", max=limit, wait_seconds=0)["messages"]
            found += batch
            if len(batch) < limit:
                return Result({"messages": found}, output.inbox)


def _follow_inbox(obj: Context, limit: int) -> None:
    """Print each message as it arrives, until Ctrl-C (exit 0)."""
    from hive_c0re.wire import MAX_RECV_WAIT

    try:  # from before the line that says so: a ^C right after it ends cleanly too
        output.waiting("waiting for mail (^C to stop)")
        with obj.client() as client:
            while True:
                found = client.call("inbox", max=limit, wait_seconds=MAX_RECV_WAIT)["messages"]
                for m in found:
                    output.stream(m, output.message, as_json=obj.as_json)
    except KeyboardInterrupt:
        output.interrupted()


@cli.command()
@click.argument("name")
@click.option("--limit", type=click.IntRange(1, 1000), default=50, show_default=True)
@click.pass_obj
def mail(obj: Context, name: str, limit: int) -> Result:
    """Show what agent NAME (or 'manager') was sent, newest first.

    Nothing is marked read.
    """
    found = obj.call("mail", name=name, limit=limit)["messages"]
    return Result({"messages": found}, functools.partial(output.mail, name=name))


for _command in LOCAL_COMMANDS:
    cli.add_command(_command)


cli.add_command(logs_command)  # its body is in logs_cli.py
cli.add_command(dashboard_command)  # its body is in dashboard/cli.py


def main() -> None:
    cli(prog_name="hive-c0re")
