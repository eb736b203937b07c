"""The UI's words for what the hive tells an agent: events from ``system`` as readable
lines, and moments as RFC 3339 (the page shows them in the reader's local time).

Both the page (page.py) and the JSON the script reads (handlers.py) use these,
so a line reads the same when the page is first served and when it is refreshed.
"""

from __future__ import annotations

import json
from typing import Any

from hive_ag3nt.events import rfc3339
from hive_c0re.names import SYSTEM

__all__ = ["inbox_message", "replies", "rfc3339", "system_line"]

# Fields an event carries that its line already says, or that say nothing to a reader.
_SAID = frozenset({"event", "agent", "id", "text", "action", "held_back"})
_DETAIL = 80  # characters of one field's value in a line


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= _DETAIL else text[:_DETAIL] + "…"


def _question(event: dict[str, Any]) -> str | None:
    kind, number = event.get("event"), event.get("id")
    if kind == "question_answered":
        return (f"question #{number} answered by {event.get('by') or 'someone'}: "
                f"{_short(event.get('answer', ''))}")
    if kind == "question_asked":
        return f"question #{number} from {event.get('from', '?')}: {_short(event.get('question'))}"
    return None


def system_line(message: dict[str, Any]) -> str | None:
    """A readable line for a hive event mailed from ``system``; None for any other mail.

    ``{"event": "spawned", "agent": "carol"}`` reads "carol spawned";
    ``{"event": "lifecycle", "text": "you were started; ..."}`` reads its text.
    """
    if message.get("from") != SYSTEM:
        return None
    try:
        event = json.loads(str(message.get("body", "")))
    except ValueError:
        return None  # a reminder's plain text reads as it is
    if not isinstance(event, dict) or not isinstance(event.get("event"), str):
        return None
    line = _question(event)
    if line is not None:
        return line
    if isinstance(event.get("text"), str):
        return str(event["text"])
    words = event["event"].replace("_", " ")
    if event.get("agent"):
        words = f"{event['agent']} {words}"
    details = [f"{k.replace('_', ' ')}: {_short(v)}" for k, v in event.items()
               if k not in _SAID and v not in (None, "", [], {})]
    return " · ".join([words, *details])


def inbox_message(message: dict[str, Any]) -> dict[str, Any]:
    """A message as the UI's JSON shows it: ``sent_at`` in RFC 3339, ``event_line`` set for
    a hive event."""
    sent = message.get("sent_at")
    return {**message, "sent_at": rfc3339(sent) if isinstance(sent, int | float) else sent,
            "event_line": system_line(message)}


# The hive tools whose call is the agent speaking to someone: what the turn history shows.
REPLY_TOOLS = {"mcp__hive__send": "send", "mcp__hive__ask": "ask", "mcp__hive__answer": "answer"}


def _reply(call: dict[str, Any]) -> dict[str, Any]:
    given = call.get("input")
    args: dict[str, Any] = given if isinstance(given, dict) else {}
    tool = REPLY_TOOLS[call["tool"]]
    if tool == "answer":
        return {"tool": tool, "to": f"question #{args.get('question_id', '?')}",
                "body": str(args.get("answer", ""))}
    body = args.get("question") if tool == "ask" else args.get("body")
    return {"tool": tool, "to": str(args.get("to") or "operator"), "body": str(body or "")}


def replies(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What the agent sent in a turn, to whom, and whether the hive took it (``ok``)."""
    failed = {e.get("id") for e in events if e["kind"] == "tool_result" and e.get("is_error")}
    return [{**_reply(e), "ok": e.get("id") not in failed} for e in events
            if e["kind"] == "tool_call" and e.get("tool") in REPLY_TOOLS]
