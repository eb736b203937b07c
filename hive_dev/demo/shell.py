"""On a terminal: a banner of what to try, then a shell with the hive's environment."""

from __future__ import annotations

import shlex
import signal
import subprocess

from hive_dev.demo.credentials import Model
from hive_dev.demo.hive import Hive, Site
from hive_dev.demo.rendering import MODEL_UNIT


def tries(site: Site, model: Model) -> list[tuple[str, str]]:
    """Command → what it shows, in the order the banner lists them."""
    found = [
        ("hive-c0re agents", "the agents and their mailboxes"),
        ('hive-c0re send alice "hi"', "mail alice; her answer comes to you"),
        ('hive-c0re send manager "hello"', "mail the manager"),
        ("hive-c0re send '*' \"hello, hive\"", "mail everyone"),
        ("hive-c0re inbox --follow", "read answers as they arrive (Ctrl-C ends)"),
        ('hive-c0re send manager "create agent carol"',
         "the manager seeds, edits, commits carol's config"),
        ("hive-c0re approvals", "what the manager asks you to approve"),
        ("hive-c0re approve ID", "approve it: once for the seed, once for the config"),
        ('hive-c0re send carol "hi"', "then carol is up: mail her"),
        ("hive-c0re ui manager /turns", "the manager's web UI: its turns, as JSON"),
        (f"systemctl{site.manager_flag} list-units 'hive-*' 'hyperhive-*'",
         "the daemon, the model, the containers"),
        ("journalctl HIVE_AGENT=alice", "everything the hive logged about alice"),
        ("journalctl -t hive-agent-alice", "what alice's container said"),
        ("hive-c0re ui alice /status", "alice's web UI, as JSON (it wants her secret)"),
    ]
    if model.is_stand_in:
        found.append((f"journalctl -t {MODEL_UNIT}", "what the model answered"))
    return [*found, ("hive-c0re --help", "every command")]


def model_lines(model: Model) -> list[str]:
    if model.is_stand_in:
        return [
            "  The model is the demo's built-in stand-in, not Claude: each agent answers",
            '  mail with "<name> here: I got your message: ...", and the manager, asked',
            '  to "create an agent named <name>", makes the real manager\'s tool calls.',
            "  Set ANTHROPIC_API_KEY (or CLAUDE_CODE_OAUTH_TOKEN) before ./scripts/demo",
            "  to talk to Claude.",
        ]
    return [f"  The model is {model.name}, reached with {', '.join(model.given)} from your",
            "  environment."]


def banner(site: Site, model: Model) -> str:
    ui = site.runtime / "agents" / "alice" / "ui.sock"
    return "\n".join((
        "",
        "  hyperhive demo: a throwaway hive with a manager and two agents, alice and",
        "  bob, each in its own nspawn container running the real claude CLI.",
        *model_lines(model),
        "",
        "  Try:",
        *(f"    {command:<50} {what}" for command, what in tries(site, model)),
        "",
        f"  $UI is alice's UI socket: {ui}; every request needs",
        "  the X-Hive-UI-Secret header (`hive-c0re ui alice --secret` prints it);",
        "  `hive-c0re ui manager --secret` names the manager's.",
        "  Leave the shell (exit, or Ctrl-D) to tear the hive down.",
        "",
    ))


def rcfile(site: Site) -> str:
    """The shell's rc: the usual one, completion, a prompt that says where you are."""
    ui = site.runtime / "agents" / "alice" / "ui.sock"
    return "\n".join((
        "[[ -r /etc/bash.bashrc ]] && source /etc/bash.bashrc",
        'eval "$(hive-c0re completion bash)"',
        "PS1='(hyperhive-demo) \\w\\$ '",
        f"HISTFILE={shlex.quote(str(site.work / 'bash_history'))}",
        f"UI={shlex.quote(str(ui))}",
        "",
    ))


def interactive(hive: Hive) -> None:
    rc = hive.site.work / "bashrc"
    rc.write_text(rcfile(hive.site))
    print(banner(hive.site, hive.model), flush=True)
    # Ctrl-C belongs to the shell (it ends a command there, not the demo). A handler, not
    # SIG_IGN: the shell and its commands get the default disposition back at exec.
    previous = signal.signal(signal.SIGINT, lambda signum, frame: None)
    try:
        subprocess.run(["bash", "--rcfile", str(rc), "-i"], check=False)
    finally:
        signal.signal(signal.SIGINT, previous)
