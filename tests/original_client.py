"""A client of the original hyperhive's host.sock, written from hyperhive(7) alone.

Its knowledge is the section COMPATIBILITY WITH THE ORIGINAL'S CLIENTS: the
keys of each answer and their types, copied below as :data:`CONTRACT`
(``test_the_man_section_states_this_clients_contract`` holds the two equal).
It speaks plain sockets and JSON, nothing of hyperhive's own code, as a
script or plugin written for the original would.
"""

from __future__ import annotations

import json
import re
import socket
from datetime import datetime
from pathlib import Path
from typing import Any

from tests.docs_support import man_section, roff_text, tagged_items

SECTION = "COMPATIBILITY WITH THE ORIGINAL'S CLIENTS"
EVERY = "Every answer"
_ROW = {"name": "string", "running": "boolean", "failed": "boolean",
        "needs_update": "boolean", "needs_login": "boolean", "paused": "boolean",
        "parent": "null", "deployed_sha": "string or null", "active_model": "string or null",
        "status_text": "string or null", "status_set_at": "RFC 3339 string or null",
        "url": "string or null"}
_RESULTS = {"results": "array of object (only when a scope was given)",
            "results[].name": "string", "results[].ok": "boolean",
            "results[].error": "string (only when that row's ok is false)"}

# Request (its .SS title) -> answer key -> type, as the man section states them.
CONTRACT: dict[str, dict[str, str]] = {
    EVERY: {"version": "integer", "ok": "boolean",
            "error": "string (only when ok is false)"},
    "list": {"agents": "array of string"},
    "agent_status": {"agent_statuses": "array of object",
                     **{f"agent_statuses[].{key}": kind for key, kind in _ROW.items()}},
    "pending": {"approvals": "array of object", "approvals[].id": "integer",
                "approvals[].agent": "string", "approvals[].kind": "string",
                "approvals[].commit_ref": "string or null",
                "approvals[].requested_at": "RFC 3339 string",
                "approvals[].status": "string",
                "approvals[].description": "string or null",
                "approvals[].note": "string or null",
                "approvals[].resolved_at": "RFC 3339 string or null"},
    "approve": {}, "deny": {}, "spawn": {}, "request_spawn": {}, "kill": {},
    "start": dict(_RESULTS), "stop": dict(_RESULTS),
    "restart": {}, "rebuild": {}, "destroy": {}, "set_paused": {},
    "urls": {"urls": "object", "urls.home": "string or null"},
    "subscribe_agent_status": {"agent_statuses": "array of object"},
}
KINDS = ("spawn", "init_config", "apply_commit")
STATUSES = ("pending", "approved", "denied", "failed", "cancelled")
_RFC3339 = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)")


def man_contract() -> tuple[dict[str, dict[str, str]], dict[str, list[dict[str, Any]]]]:
    """What the man section says: each request's answer keys with types, and its examples."""
    keys: dict[str, dict[str, str]] = {}
    examples: dict[str, list[dict[str, Any]]] = {}
    title = ""
    body: list[str] = []
    for line in [*man_section("hyperhive.7", SECTION), ".SS"]:
        if line.startswith(".SS"):
            if title:
                keys[title] = _keys(body)
                examples[title] = _examples(body)
            title, body = roff_text(line.removeprefix(".SS").strip()), []
        else:
            body.append(line)
    return keys, examples


def _keys(body: list[str]) -> dict[str, str]:
    found = {}
    for tag, lines in tagged_items(body):
        text = roff_text(" ".join(lines))
        found[roff_text(tag.removeprefix(".B "))] = text.partition(":")[0].strip()
    return found


def _examples(body: list[str]) -> list[dict[str, Any]]:
    inside, found = False, []
    for line in body:
        if line in (".EX", ".EE"):
            inside = line == ".EX"
        elif inside:
            found.append(json.loads(roff_text(line)))
    return found


class OriginalClient:
    """One connection to host.sock: a request per line out, an answer per line back."""

    def __init__(self, path: Path, timeout: float = 120) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(str(path))
        self.lines = self.sock.makefile("rb")

    def __enter__(self) -> OriginalClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.lines.close()
        self.sock.close()

    def ask(self, request: dict[str, Any], title: str | None = None) -> dict[str, Any]:
        """Send ``request``; return its answer, decoded with the contract of ``title``."""
        self.sock.sendall(json.dumps(request).encode() + b"\n")
        answer: dict[str, Any] = json.loads(self.lines.readline())
        decode(answer, EVERY)
        if answer["ok"]:
            decode(answer, title or request["cmd"])
        return answer


def decode(answer: dict[str, Any], title: str) -> None:
    """Check every key the contract of ``title`` names: present (unless conditional), typed."""
    for key, kind in CONTRACT[title].items():
        conditional = "(only when" in kind
        for value in _values(answer, key, conditional):
            assert _is(value, kind.partition(" (only when")[0]), (title, key, kind, value)
    if title == EVERY:
        assert answer["version"] == 1, answer
        assert answer["ok"] or isinstance(answer.get("error"), str), answer


def _values(answer: dict[str, Any], key: str, conditional: bool) -> list[Any]:
    """The values at ``key`` (``a[].b``: b of each item of a; ``a.b``: b of object a)."""
    holders: list[Any] = [answer]
    path = key.replace("[]", ".[]").split(".")
    for step in path[:-1]:
        if step == "[]":
            holders = [item for holder in holders for item in holder]
        else:
            holders = [holder[step] for holder in holders if step in holder]
    last = path[-1]
    if not conditional:
        missing = [h for h in holders if last not in h]
        assert not missing, f"{key} missing from {missing[:1]}"
    return [holder[last] for holder in holders if last in holder]


def _is(value: Any, kind: str) -> bool:
    if kind.endswith(" or null"):
        return value is None or _is(value, kind.removesuffix(" or null"))
    if kind.startswith("array of "):
        return isinstance(value, list) and all(_is(v, kind.removeprefix("array of "))
                                               for v in value)
    if kind == "RFC 3339 string":
        return (isinstance(value, str) and _RFC3339.fullmatch(value) is not None
                and datetime.fromisoformat(value).utcoffset() is not None)
    checks: dict[str, Any] = {
        "string": lambda v: isinstance(v, str),
        "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "boolean": lambda v: isinstance(v, bool),
        "null": lambda v: v is None,
        "object": lambda v: isinstance(v, dict),
    }
    return bool(checks[kind](value))
