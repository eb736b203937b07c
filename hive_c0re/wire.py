"""The socket protocol: verbs, frames, limits and errors (its client: :mod:`hive_c0re.client`).

Newline-delimited JSON over unix stream sockets. A request is one object per
line, ``{"cmd": "<verb>", ...}``; an answer is ``{"version": 1, "ok": true,
...}`` or ``{"version": 1, "ok": false, "error": "...", "code": "..."}``.
A request may carry a ``request_id`` (string or integer) that its answer echoes.

:data:`VERBS` is the one description of every verb: the daemon validates with
it, the tests fuzz from it, and ``hive-c0re wire-schema`` prints it as JSON
Schema for ``man/hyperhive.7``; each field's rule is a :class:`~hive_c0re.wire_fields.Field`.
The harness and manager import this module (and so ``wire_fields``) and nothing
else of the host side.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from hive_c0re.errors import HiveError, InvalidInput
from hive_c0re.frames import encode as encode
from hive_c0re.wire_auth import AUTH_VERBS
from hive_c0re.wire_dashboard import DASHBOARD_VERBS

# Re-exported: the wire's own names, wherever they are declared.
from hive_c0re.wire_fields import AGENTS as AGENTS
from hive_c0re.wire_fields import ALL as ALL
from hive_c0re.wire_fields import ENVELOPE as ENVELOPE
from hive_c0re.wire_fields import HOST as HOST
from hive_c0re.wire_fields import MANAGER_ONLY as MANAGER_ONLY
from hive_c0re.wire_fields import OVERSEERS as OVERSEERS
from hive_c0re.wire_fields import REQUEST_ID as REQUEST_ID
from hive_c0re.wire_fields import Field
from hive_c0re.wire_fields import Kind as Kind
from hive_c0re.wire_fields import Verb as Verb

VERSION = 1
MAX_RECV_WAIT = 180
MAX_RECV_BATCH = 32
# The header every request to an agent's own UI (its ui.sock) carries the daemon's
# per-agent secret in: the operator's door, spoken by the CLI, the dashboard and the harness.
UI_SECRET_HEADER = "X-Hive-UI-Secret"  # noqa: S105 (a header name)
MAX_TEXT = 4000  # a question, an answer, a reminder's message
MAX_OPTIONS = 16
MAX_OPTION = 200
DEFAULT_TTL = 3600
MAX_TTL = 6 * 3600
MAX_DELAY = 30 * 86400
MAX_AHEAD = 365 * 86400  # how far ahead a reminder's ``at`` may lie
MAX_FILE_PATH = 400


_TO = Field("to", "string", "an agent, 'operator', 'manager' or '*' for everyone",
            required=True, max_length=64)
_BODY = Field("body", "string", "the message text (at most max_body_bytes as UTF-8)",
              required=True)
_REPLY = Field("in_reply_to", "integer", "id of a message this one answers", minimum=1,
               maximum=2**63 - 1)
_NAME = Field("name", "string", "an agent name", required=True, max_length=64)
_APPROVAL = Field("id", "integer", "the approval's id", required=True, minimum=1,
                  maximum=2**63 - 1)
_SCOPE = Field("scope", "scope", "{agent_names: [names]}: act on each (never none, never all)")
_SCOPED_NAME = Field("name", "string", "an agent name (or give scope)", max_length=64)
_SCOPED = {"agent": "with name: the agent's record",
           "results": "with scope: list of {name, ok, agent | error and code}, in order"}
_DESCRIPTION = Field("description", "string", "why, for the operator", max_length=4000)
_MAX = Field("max", "integer", f"most messages to return (1-{MAX_RECV_BATCH}, default "
             f"{MAX_RECV_BATCH})", minimum=1, maximum=MAX_RECV_BATCH)
_WAIT = Field("wait_seconds", "number",
              f"how long to wait for mail (0-{MAX_RECV_WAIT}); 0 peeks without leasing",
              minimum=0, maximum=MAX_RECV_WAIT)
_QUESTION_ID = Field("question_id", "integer", "the question's id", required=True, minimum=1,
                     maximum=2**63 - 1, alias="id")
_QUESTION = "{id, asker, target, question, options, multi, deadline, asked_at, status, answer, ...}"
_REMINDER = "{id, agent, message, file_path, due_at, created_at, status, fired_at}"
_STATUS_ROW = ("{name, running, failed, needs_update, needs_login, paused, parent, "
               "deployed_sha, active_model, status_text, status_set_at, url, desired, unread, "
               "in_flight, turn, stopping, logged_in, listening, socket_error, ...}")

VERBS: dict[str, Verb] = {v.name: v for v in (
    Verb("whoami", ALL, "who this socket says you are",
         answer={"name": "your identity", "socket": "host, agent or manager"},
         tool="Your name in the hive."),
    Verb("list", OVERSEERS, "the names of the registered agents not destroyed (the original's)",
         answer={"agents": "list of names"}),
    Verb("agent_status", OVERSEERS, "every agent's status row (the manager's too), or one's",
         (Field("name", "string", "one agent, or 'manager'; without it, every agent",
                max_length=64),),
         answer={"agent_statuses": f"list of {_STATUS_ROW}",
                 "agent": "with name: that agent's row (as in agent_statuses)"},
         tool="Every agent's status (running, paused, needs_update, mailbox counts), or one's."),
    Verb("register", HOST, "create or update an agent and (re)create its socket", (
        _NAME,
        Field("allowed_recipients", "names",
              "agents it may send to; empty means anyone (manager and operator always)"),
    ), answer={"agent": "the agent's record"}),
    Verb("unregister", HOST, "remove an agent's socket and record; its mail is kept", (_NAME,),
         answer={}),
    Verb("send", ALL, "store a message for a peer, 'operator', 'manager' or '*'",
         (_TO, _BODY, _REPLY), answer={"ids": "ids of the stored messages, one per recipient",
                 "delivered": "host.sock only: list of {id, to, state, listening}, the "
                              "recipient's state word and whether its socket is up"},
         tool="Send a message. Pass in_reply_to with the id of the message you answer."),
    Verb("inbox", HOST, "the operator's unread mail, marked read", (_MAX, _WAIT),
         answer={"messages": "list of {id, from, to, body, in_reply_to, sent_at, redelivered}"}),
    Verb("recv", AGENTS, "lease unread mail to this turn, waiting up to wait_seconds",
         (_WAIT, _MAX),
         answer={"messages": "list of {id, from, to, body, in_reply_to, sent_at, redelivered}"},
         tool="Read your mail. wait_seconds > 0 takes the messages into this turn (waiting "
              "up to that long for new ones); 0 only peeks, and they come again as a later "
              "turn."),
    Verb("ack_turn", AGENTS, "the turn ended well: ack every leased message",
         answer={"acked": "how many"}),
    Verb("requeue_inflight", AGENTS, "put leased, unacked mail back; it comes again redelivered",
         answer={"requeued": "how many"}),
    Verb("spawn", HOST, "create (or revive) an agent's container and start it", (_NAME,),
         answer={"agent": "the agent's record"}),
    Verb("start", OVERSEERS, "start a stopped agent's container, or each of a scope's",
         (_SCOPED_NAME, _SCOPE), answer=_SCOPED, tool="Start a stopped agent."),
    Verb("stop", OVERSEERS, "stop an agent's container (it stays stopped), or each of a scope's",
         (_SCOPED_NAME, _SCOPE, Field("graceful", "boolean",
                                      "let the running turn finish, then stop")),
         answer=_SCOPED, tool="Stop an agent (it stays stopped)."),
    Verb("restart", OVERSEERS, "restart an agent's container", (_NAME,),
         answer={"agent": "the agent's record"}, tool="Restart an agent."),
    Verb("update", MANAGER_ONLY, "rebuild an agent to its applied config (idempotent)",
         (_NAME,), answer={"agent": "the agent's record"},
         tool="Rebuild an agent to its applied config (idempotent) and restart it."),
    Verb("get_logs", OVERSEERS, "the last lines of an agent container's journal", (
        Field("agent", "string", "the agent", required=True, max_length=64),
        Field("lines", "integer", "how many (1-500, default 100)", minimum=1, maximum=500),
    ), answer={"lines": "list of strings, oldest first", "unit": "the container's unit"},
        tool="The last lines of an agent container's journal (at most 500)."),
    Verb("report_login", AGENTS, "the harness says whether it has working Claude credentials",
         (Field("logged_in", "boolean", "true once logged in", required=True),),
         answer={}),
    Verb("report_state", AGENTS, "the harness says what it is doing and how its last turn went",
         (Field("state", "string", "idle, thinking, compacting, rate-limited or needs-login",
                required=True, max_length=16),
          Field("model", "string", "the model it runs now", max_length=64),
          Field("released", "boolean", "its claude CLI is ended until the next turn, which "
                "resumes the session"),
          Field("turn_ended_at", "number", "when its last turn ended (epoch seconds)",
                minimum=0),
          Field("turn_ms", "integer", "how long it took", minimum=0, maximum=2**53),
          Field("turn_tokens", "integer", "tokens in and out", minimum=0, maximum=2**53),
          Field("turn_cost_usd", "number", "what it cost", minimum=0)),
         answer={}),
    Verb("rebuild", HOST, "re-apply the agent's applied config and restart it", (_NAME,),
         answer={"agent": "the agent's record"}),
    Verb("pending", HOST, "requests waiting for the operator's decision",
         answer={"approvals": "list of {id, agent, kind, commit_ref, requested_at, status, "
                              "description, note, resolved_at, sha, created_at, updated_at}"}),
    Verb("approvals", HOST, "every request, or those with one status", (
        Field("status", "string", "pending, approved, building, deployed, failed or denied",
              max_length=16),
    ), answer={"approvals": "list of approvals"}),
    Verb("approve", HOST, "approve a pending request and carry it out", (
        _APPROVAL, Field("sha", "string", "the commit the operator was shown: refused unless "
                         "it is the one the request pinned", max_length=64)),
        answer={"approval": "the request, now deployed or failed"}),
    Verb("deny", HOST, "deny a pending request with a note for the manager", (
        _APPROVAL, Field("note", "string", "why", max_length=4000)),
        answer={"approval": "the request, now denied"}),
    Verb("request_spawn", OVERSEERS, "queue a new agent's spawn for the operator's approval",
         (_NAME, _DESCRIPTION), answer={"approval": "the queued request"},
         tool="Ask the operator to create a new agent (after its config is applied)."),
    Verb("request_init_config", MANAGER_ONLY, "ask to seed an agent's proposed config repo",
         (_NAME, _DESCRIPTION), answer={"approval": "the queued request"},
         tool="Ask to seed a new agent's proposed config repo from the template; once "
              "approved, edit /agents/<name>/agent.toml and commit."),
    Verb("request_apply_commit", MANAGER_ONLY,
         "ask to apply a commit of an agent's proposed config repo", (
             Field("agent", "string", "the agent", required=True, max_length=64),
             Field("sha", "string", "the full commit sha", required=True, max_length=64),
             _DESCRIPTION,
         ), answer={"approval": "the queued request"},
         tool="Ask to apply one commit of an agent's proposed config repo (sha: a full sha, "
              "a short one, or HEAD: resolved in your copy)."),
    Verb("mail", HOST, "what an agent, the manager or the operator was sent, newest first, "
         "read-only", (
        Field("name", "string", "the agent, 'manager' or 'operator'", required=True,
              max_length=64),
        Field("limit", "integer", "how many (1-1000, default 50)", minimum=1, maximum=1000),
    ), answer={"messages": "list of {id, from, to, body, in_reply_to, sent_at, redelivered, "
                           "state, acked_at}; state is unread, leased or acked"}),
    Verb("destroy", HOST, "remove an agent's container; its state is kept unless purge", (
        _NAME, Field("purge", "boolean", "also wipe its state and config repos")),
        answer={}),
    Verb("ask", AGENTS, "ask the operator or a peer a question, answered later as an event", (
        Field("question", "string", "the question", required=True, max_length=MAX_TEXT),
        Field("options", "strings", f"the answers to choose from: at most {MAX_OPTIONS}, each "
              f"at most {MAX_OPTION} characters; none means a free-text answer",
              max_length=MAX_OPTION, max_items=MAX_OPTIONS),
        Field("multi", "boolean", "the answer may pick several options (comma-separated)"),
        Field("ttl_seconds", "number", f"seconds until it expires unanswered (default "
              f"{DEFAULT_TTL})", minimum=1, maximum=MAX_TTL),
        Field("to", "string", "'operator' (the default), 'manager' or a peer agent",
              max_length=64),
    ), answer={"question": _QUESTION},
        tool="Ask the operator (default) or a peer a question, optionally with options; the "
             "answer arrives later as a question_answered event."),
    Verb("answer", ALL, "answer an open question addressed to you (host: to the operator)", (
        _QUESTION_ID,
        Field("answer", "string", "the answer; with options one of them, or several "
              "comma-separated if the question is multi", required=True, max_length=MAX_TEXT),
        Field("free_text", "boolean", "the answer is your own words, not one of the options "
              "(without it, an answer that fits no option is refused as a likely typo)"),
    ), answer={"question": _QUESTION}, tool="Answer a question that was asked of you."),
    Verb("questions", HOST, "open questions addressed to the operator, or every question", (
        Field("all", "boolean", "every question ever asked, answered or not, to anyone"),
    ), answer={"questions": f"list of {_QUESTION}"}),
    Verb("remind", AGENTS, "have a message from system delivered to you later", (
        Field("message", "string", "what the reminder says", required=True,
              max_length=MAX_TEXT),
        Field("delay_seconds", "number", "fire this many seconds from now (up to 30 days)",
              minimum=1, maximum=MAX_DELAY),
        Field("at", "time", "fire at this time: seconds since the epoch, or ISO-8601 with a "
              "timezone (not in the past, at most a year ahead); give at or delay_seconds",
              max_length=64),
        Field("file_path", "string", "an absolute path in your container, passed back as is",
              max_length=MAX_FILE_PATH),
    ), answer={"reminder": _REMINDER},
        tool="Have the hive wake you later with a message: after delay_seconds, or at a time "
             "(ISO-8601 with a timezone, or unix seconds)."),
    Verb("get_open_threads", AGENTS, "your open questions, questions to you, pending reminders",
         answer={"asked": f"open questions you asked: list of {_QUESTION}",
                 "to_answer": "open questions addressed to you",
                 "reminders": f"your pending reminders: list of {_REMINDER}"},
         tool="Your open questions (asked and to answer) and pending reminders."),
    Verb("cancel_thread", AGENTS, "cancel an open question you asked or a pending reminder", (
        Field("kind", "string", "question or reminder", required=True, max_length=16),
        Field("thread_id", "integer", "the question's or reminder's id", required=True,
              minimum=1, maximum=2**63 - 1, alias="id"),
    ), answer={"question": "the question, now cancelled (when kind is question)",
               "reminder": "the reminder, now cancelled (when kind is reminder)"},
        tool="Cancel one of your open questions or pending reminders."),
    # -- pausing ----------------------------------------------------------------------
    Verb("set_paused", HOST, "pause an agent (its running turn ends, no new one starts; "
         "mail waits) or resume it; idempotent, kept across restarts", (
             Field("name", "string", "an agent, or 'manager'", required=True, max_length=64),
             Field("paused", "boolean", "true pauses, false resumes", required=True),
         ), answer={"agent_statuses": f"one-item list: {_STATUS_ROW}",
                    "changed": "false when it already was as asked"}),
    Verb("subscribe_agent_status", HOST, "a bare ok, then an answer per change of any agent "
         "while connected; no further requests are read (a slow reader gets the latest)",
         answer={"agent_statuses": f"in each later answer, a one-item list: {_STATUS_ROW}"}),
    # -- an agent's story (hive-c0re logs) ------------------------------------------
    Verb("events", HOST, "the hive's event log about one agent (or every event), oldest first",
         (Field("name", "string", "an agent, or 'manager'; absent: every agent", max_length=64),
          Field("since", "number", "only events at or after this time (epoch seconds)",
                minimum=0),
          Field("after", "integer", "only events with a larger id (to follow the log)",
                minimum=0, maximum=2**63 - 1),
          Field("limit", "integer", "at most this many, the newest (1-5000, default 1000)",
                minimum=1, maximum=5000)),
         answer={"events": "list of {id, at, kind, agent, data}",
                 "unit": "the agent's container unit, whose journal tells the rest",
                 "uid_base": "the agent's uid range, which names it in the egress's lines"}),
    Verb("agents", OVERSEERS, "every registered agent with its mailbox counts", answer={
        "agents": "list of {name, desired, allowed_recipients, unread, in_flight, socket, ...}"}),
    Verb("kill", OVERSEERS, "the original's name for stop", (_NAME,),
         answer={"agent": "the agent's record"}),
    Verb("urls", HOST, "where the dashboard is", answer={
        "urls": "{home}: the dashboard's address (dashboard_url), null while none is set"}),
    *DASHBOARD_VERBS,  # the dashboard's reads (wire_dashboard.py)
    *AUTH_VERBS,  # the dashboard's logins and the way into agent UIs (wire_auth.py)
)}


def ok(**payload: Any) -> dict[str, Any]:
    return {"version": VERSION, "ok": True, **payload}


def failure(error: HiveError) -> dict[str, Any]:
    answer: dict[str, Any] = {"version": VERSION, "ok": False, "error": error.message,
                              "code": error.code}
    if error.hint:
        answer["hint"] = error.hint
    return answer


_ESCAPED_SURROGATE = re.compile(r"\\u[dD][89a-fA-F]")


def read_frame(line: bytes) -> tuple[dict[str, Any], Any]:
    """Parse one request line into its object and its ``request_id`` (None if absent or unusable).

    Raise InvalidInput with a message saying what is wrong with the frame.
    """
    try:
        text = line.decode("utf-8")  # strict: no surrogates, no other encodings
    except UnicodeDecodeError:
        raise InvalidInput("request is not UTF-8") from None
    try:
        request = json.loads(text)
    except (ValueError, RecursionError):
        raise InvalidInput("request is not valid JSON",
                           hint='send one JSON object per line, like {"cmd": "whoami"}') from None
    # JSON escapes can still spell a lone surrogate, which no UTF-8 text can hold.
    if _ESCAPED_SURROGATE.search(text):
        try:
            json.dumps(request, ensure_ascii=False).encode()
        except UnicodeEncodeError:
            raise InvalidInput("request holds a lone surrogate escape (\\ud800-\\udfff)",
                               hint="send valid UTF-8 text") from None
    if not isinstance(request, dict):
        raise InvalidInput("request must be a JSON object with a 'cmd' field")
    request_id = request.get(REQUEST_ID)
    if isinstance(request_id, bool) or not isinstance(request_id, str | int):
        request_id = None
    return request, request_id


def parse_request(request: Mapping[str, Any], kind: Kind) -> tuple[Verb, dict[str, Any]]:
    """Check a request object against the verbs of a ``kind`` socket; return (verb, args)."""
    cmd = request.get("cmd")
    if not isinstance(cmd, str):
        raise InvalidInput("request needs a string field 'cmd'")
    verb = VERBS.get(cmd)
    if verb is None or kind not in verb.sockets:
        offered = sorted(v.name for v in VERBS.values() if kind in v.sockets)
        raise InvalidInput(f"unknown verb {cmd[:64]!r} on the {kind} socket",
                           hint="verbs here: " + ", ".join(offered))
    return verb, verb.parse(request)


def decode_request(line: bytes, kind: Kind) -> tuple[Verb, dict[str, Any], Any]:
    """:func:`read_frame` then :func:`parse_request`: (verb, args, request id)."""
    request, request_id = read_frame(line)
    verb, args = parse_request(request, kind)
    return verb, args, request_id


def json_schema() -> dict[str, Any]:
    """The protocol as JSON Schema: one request schema per verb, keyed by socket."""
    requests = {}
    for verb in VERBS.values():
        requests[verb.name] = {
            "description": verb.help,
            "sockets": sorted(verb.sockets),
            "type": "object",
            "additionalProperties": False,
            "required": ["cmd", *[f.name for f in verb.fields if f.required]],
            "properties": {
                "cmd": {"const": verb.name},
                REQUEST_ID: {"type": ["string", "integer"], "description": "echoed in the answer"},
                **{f.name: f.json_schema() for f in verb.fields},
            },
            "answer": dict(verb.answer),
        }
    return {"version": VERSION, "framing": "one JSON object per line (UTF-8, '\\n')",
            "requests": requests}


def tools(kind: Kind) -> dict[str, Verb]:
    """The verbs a harness on a ``kind`` socket offers its model as MCP tools, by name."""
    return {v.name: v for v in VERBS.values() if v.tool and kind in v.sockets}
