"""``hive-c0re``: the host daemon and the operator's command line."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from hive_c0re import __version__, output
from hive_c0re.errors import ExitCode, HiveError
from hive_c0re.settings import SETTINGS

F = TypeVar("F", bound=Callable[..., Any])

EXIT_CODES = "\b\nExit codes:\n" + "\n".join(
    f"  {code.value}  {code.name.lower().replace('_', ' ')}" for code in ExitCode
)


class Context:
    def __init__(self, socket: Path | None, as_json: bool, debug: bool) -> None:
        self.socket = socket
        self.as_json = as_json
        self.debug = debug

    def call(self, cmd: str, **args: Any) -> dict[str, Any]:
        from hive_c0re.paths import host_socket_from_env
        from hive_c0re.wire import Client

        with Client(self.socket or host_socket_from_env()) as client:
            return client.call(cmd, **args)


def reports_errors(fn: F) -> F:
    """Turn HiveErrors into a message and the documented exit code (tracebacks with --debug)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except HiveError as exc:
            if click.get_current_context().find_object(Context).debug:  # type: ignore[union-attr]
                raise
            output.error(exc.message, exc.hint)
            sys.exit(exc.exit_code)

    return wrapper  # type: ignore[return-value]


@click.group(epilog=EXIT_CODES, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="hive-c0re")
@click.option("--socket", type=click.Path(path_type=Path), envvar="HYPERHIVE_SOCKET",
              help="operator socket to talk to [default: $RUNTIME_DIRECTORY/host.sock]")
@click.option("--json", "as_json", is_flag=True, help="print JSON for scripts")
@click.option("--debug", is_flag=True, help="show tracebacks and debug logs")
@click.pass_context
def cli(ctx: click.Context, socket: Path | None, as_json: bool, debug: bool) -> None:
    """Run the hyperhive daemon, or talk to it as the operator."""
    ctx.obj = Context(socket, as_json, debug)


def _setting_options(fn: F) -> F:
    for setting in reversed(SETTINGS):
        fn = click.option(setting.option, setting.name, default=None, show_envvar=True,
                          envvar=setting.env, help=f"{setting.help} [default: {setting.default}]",
                          )(fn)
    return fn


@cli.command()
@_setting_options
@click.pass_obj
@reports_errors
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
@click.pass_obj
@reports_errors
def agents(obj: Context) -> None:
    """List registered agents and their mailboxes."""
    found = obj.call("list")["agents"]
    if obj.as_json:
        output.emit_json(found)
    elif not found:
        output.note("no agents registered (try: hive-c0re register NAME)")
    else:
        output.agents_table(found)


@cli.command()
@click.argument("name")
@click.pass_obj
@reports_errors
def status(obj: Context, name: str) -> None:
    """Show one agent's record and mailbox."""
    agent = obj.call("agent_status", name=name)["agent"]
    output.emit_json(agent) if obj.as_json else output.agent_detail(agent)


@cli.command()
@click.argument("name")
@click.option("--allow", "allowed", multiple=True, metavar="AGENT",
              help="an agent NAME may send to (repeat; none = anyone)")
@click.pass_obj
@reports_errors
def register(obj: Context, name: str, allowed: tuple[str, ...]) -> None:
    """Register agent NAME and create its socket (idempotent)."""
    agent = obj.call("register", name=name, allowed_recipients=list(allowed))["agent"]
    output.emit_json(agent) if obj.as_json else output.note(f"registered {name}: {agent['socket']}")


@cli.command()
@click.argument("name")
@click.pass_obj
@reports_errors
def unregister(obj: Context, name: str) -> None:
    """Remove agent NAME's socket and record; its stored mail is kept."""
    obj.call("unregister", name=name)
    output.emit_json({"unregistered": name}) if obj.as_json else output.note(f"unregistered {name}")


def _lifecycle_command(verb: str, help_text: str) -> None:
    @click.argument("name")
    @click.pass_obj
    @reports_errors
    def command(obj: Context, name: str) -> None:
        agent = obj.call(verb, name=name)["agent"]
        output.emit_json(agent) if obj.as_json else output.note(
            f"{name}: {verb} done (desired: {agent['desired']})")

    command.__doc__ = help_text
    cli.command(verb)(command)


_lifecycle_command("spawn", "Create (or revive) agent NAME's container and start it.")
_lifecycle_command("start", "Start agent NAME's stopped container.")
_lifecycle_command("stop", "Stop agent NAME's container; it stays stopped.")
_lifecycle_command("restart", "Restart agent NAME's container.")
_lifecycle_command("rebuild", "Re-apply NAME's applied config and restart it "
                   "(a stopped agent gets the config and stays stopped).")


@cli.command()
@click.argument("name")
@click.option("--purge", is_flag=True, help="also wipe its state dir and config repos")
@click.option("--yes", is_flag=True, help="do not ask before --purge")
@click.pass_obj
@reports_errors
def destroy(obj: Context, name: str, purge: bool, yes: bool) -> None:
    """Remove agent NAME's container; its state is kept (spawn revives it) unless --purge."""
    if purge and not yes:
        click.confirm(f"wipe {name}'s notes, credentials and config for good?", abort=True)
    obj.call("destroy", name=name, purge=purge)
    output.emit_json({"destroyed": name, "purged": purge}) if obj.as_json else output.note(
        f"destroyed {name}" + (" and purged its state" if purge else "; its state is kept"))


@cli.command()
@click.option("--all", "show_all", is_flag=True, help="every request, not only pending ones")
@click.pass_obj
@reports_errors
def approvals(obj: Context, show_all: bool) -> None:
    """List requests waiting for a decision (with --all: every request ever made)."""
    found = obj.call("approvals" if show_all else "pending")["approvals"]
    if obj.as_json:
        output.emit_json(found)
    elif not found:
        output.note("no pending requests" if not show_all else "no requests yet")
    else:
        output.approvals_table(found)


@cli.command()
@click.argument("approval_id", metavar="ID", type=int)
@click.pass_obj
@reports_errors
def approve(obj: Context, approval_id: int) -> None:
    """Approve request ID and carry it out; exits 1 if it failed (rolled back)."""
    done = obj.call("approve", approval=approval_id)["approval"]
    output.emit_json(done) if obj.as_json else output.approval_outcome(done)
    if done["status"] != "deployed":
        sys.exit(ExitCode.ERROR)


@cli.command()
@click.argument("approval_id", metavar="ID", type=int)
@click.option("--note", required=True, help="why; the manager reads it")
@click.pass_obj
@reports_errors
def deny(obj: Context, approval_id: int, note: str) -> None:
    """Deny request ID with a note."""
    done = obj.call("deny", approval=approval_id, note=note)["approval"]
    output.emit_json(done) if obj.as_json else output.approval_outcome(done)


@cli.command()
@click.option("--all", "show_all", is_flag=True,
              help="every question ever asked, to anyone, answered or not")
@click.pass_obj
@reports_errors
def questions(obj: Context, show_all: bool) -> None:
    """List open questions addressed to the operator (with --all: every question)."""
    found = obj.call("questions", all=show_all or None)["questions"]
    if obj.as_json:
        output.emit_json(found)
    elif not found:
        output.note("no open questions" if not show_all else "no questions yet")
    else:
        output.questions_table(found, show_all=show_all)


@cli.command()
@click.argument("question_id", metavar="ID", type=int)
@click.argument("text", metavar="ANSWER|-")
@click.pass_obj
@reports_errors
def answer(obj: Context, question_id: int, text: str) -> None:
    """Answer question ID as the operator ('-' reads stdin); options by name, comma-separated."""
    if text == "-":
        text = sys.stdin.read()
    done = obj.call("answer", question_id=question_id, answer=text)["question"]
    output.emit_json(done) if obj.as_json else output.note(
        f"#{done['id']} answered: {done['answer']} ({done['asker']} is told)")


@cli.command()
@click.argument("to", metavar="AGENT")
@click.argument("body", metavar="BODY|-")
@click.option("--reply-to", type=int, help="id of the message this answers")
@click.pass_obj
@reports_errors
def send(obj: Context, to: str, body: str, reply_to: int | None) -> None:
    """Send BODY (or stdin for '-') to AGENT, 'manager' or '*' (everyone)."""
    text = sys.stdin.read() if body == "-" else body
    ids = obj.call("send", to=to, body=text, in_reply_to=reply_to)["ids"]
    output.emit_json({"ids": ids}) if obj.as_json else output.note(
        "sent: " + ", ".join(f"#{i}" for i in ids))


@cli.command()
@click.option("--follow", "-f", is_flag=True, help="keep waiting for new mail (Ctrl-C ends)")
@click.option("--max", "limit", type=click.IntRange(1, 32), default=32, show_default=True)
@click.pass_obj
@reports_errors
def inbox(obj: Context, follow: bool, limit: int) -> None:
    """Read the operator's unread mail (it is marked read)."""
    from hive_c0re.paths import host_socket_from_env
    from hive_c0re.wire import MAX_RECV_WAIT, Client

    with Client(obj.socket or host_socket_from_env()) as client:
        while True:
            wait = MAX_RECV_WAIT if follow else 0
            try:
                found = client.call("inbox", max=limit, wait_seconds=wait)["messages"]
            except KeyboardInterrupt:
                return
            for m in found:
                click.echo(json.dumps(m, ensure_ascii=False)) if obj.as_json else output.message(m)
            if not follow and len(found) < limit:
                if not found and not obj.as_json:
                    output.note("inbox is empty")
                return


@cli.command()
@click.argument("name")
@click.option("--limit", type=click.IntRange(1, 1000), default=50, show_default=True)
@click.pass_obj
@reports_errors
def mail(obj: Context, name: str, limit: int) -> None:
    """What agent NAME (or 'manager') was sent, newest first; nothing is marked read."""
    found = obj.call("mail", name=name, limit=limit)["messages"]
    if obj.as_json:
        output.emit_json({"messages": found})
        return
    for message in reversed(found):
        output.message(message)
    if not found:
        output.note(f"{name} has been sent nothing")


@cli.command()
@click.pass_obj
def settings(obj: Context) -> None:
    """Every daemon setting: environment variable, default and meaning."""
    rows = [{"name": s.name, "env": s.env, "option": s.option, "default": s.default,
             "help": s.help} for s in SETTINGS]
    if obj.as_json:
        output.emit_json(rows)
        return
    for row in rows:
        click.echo(f"{row['option']}  ({row['env']}, default {row['default']})\n    {row['help']}")


@cli.command("wire-schema")
def wire_schema() -> None:
    """Print the socket protocol as JSON Schema."""
    from hive_c0re.wire import json_schema

    output.emit_json(json_schema())


@cli.command("install-units")
@click.option("--dir", "directory", type=click.Path(path_type=Path),
              default=Path("/etc/systemd/system"), show_default=True,
              help="where to write the unit files")
@click.option("--exec", "executable", default=None,
              help="hive-c0re command line to run [default: this hive-c0re]")
@click.pass_obj
@reports_errors
def install_units(obj: Context, directory: Path, executable: str | None) -> None:
    """Write hive-c0re.socket and hive-c0re.service for a systemd manager."""
    from hive_c0re.units import install

    written = install(directory, executable)
    output.emit_json([str(p) for p in written]) if obj.as_json else output.note(
        "wrote " + ", ".join(str(p) for p in written) + "; now: systemctl daemon-reload")


@cli.command()
@click.argument("shell", type=click.Choice(["bash", "zsh", "fish"]))
def completion(shell: str) -> None:
    """Print the shell completion script (eval it in your shell's rc file)."""
    from click.shell_completion import get_completion_class

    cls = get_completion_class(shell)
    assert cls is not None
    click.echo(cls(cli, {}, "hive-c0re", "_HIVE_C0RE_COMPLETE").source())


def main() -> None:
    cli(prog_name="hive-c0re")
