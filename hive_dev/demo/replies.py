"""What the demo's stand-in model answers: a polite agent that acknowledges its mail.

Pure functions from a Messages API request to the content of the
answer; no I/O, no randomness, so the same request always gets the same
answer. The rules:

- The agent's name comes from the system prompt ("You are alice, ...").
- New mail (the harness's prompt "Message #12 from operator:\\n<body>") is
  answered through the hive: one ``mcp__hive__send`` call per message, to
  its sender, ``in_reply_to`` its id, with the body
  "<name> here: I got your message: <first 200 characters>" (only when the
  request offers that tool).
- Events (mail from ``system``) and other agents' replies are only
  acknowledged in text, so two agents never answer each other forever.
- After the tool results the turn ends with a short text.
- The manager, asked by the operator to create an agent, does what the real
  one does, one tool call a request (:mod:`hive_dev.demo.manager_plan`).
- Anything else (an operator's prompt, the CLI's summaries for compaction,
  titles) gets a plain text answer.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from hive_dev.demo import manager_plan as plan
from hive_dev.stand_in.shapes import Answer, ApiRequest, Block, text_of

SEND_TOOL = "mcp__hive__send"
QUOTE_CHARS = 200
SYSTEM_SENDER = "system"
OPERATOR = "operator"
# The header the harness writes before each message of a turn (hive_ag3nt.prompt.mail_prompt).
MAIL_HEADER = re.compile(
    r"^Message #(?P<id>\d+) from (?P<sender>[^\s():]+)"
    r"(?: \(reply to #(?P<reply_to>\d+)\))?:[ \t]*$",
    re.MULTILINE,
)
# "You are alice, an agent in a hyperhive" (and not "You are Claude Code, ...").
AGENT_NAME = re.compile(r"\bYou are (?P<name>[a-z][a-z0-9-]*)[,.]")
REDELIVERED_MARK = "[redelivered:"
# How the claude CLI asks for a summary when it compacts a conversation.
SUMMARY_REQUEST = re.compile(r"summary of the conversation|summari[sz]e", re.IGNORECASE)
DEFAULT_NAME = "agent"


@dataclass(frozen=True)
class Mail:
    """One message of a mail turn, as the harness wrote it into the prompt."""

    id: int
    sender: str
    body: str
    in_reply_to: int | None = None

    @property
    def is_event(self) -> bool:
        return self.sender == SYSTEM_SENDER

    @property
    def wants_answer(self) -> bool:
        """Answer the operator always, agents unless they are answering us."""
        if self.is_event:
            return False
        return self.sender == OPERATOR or self.in_reply_to is None


@dataclass(frozen=True)
class ToolOutcome:
    """A tool result the CLI sent back, with the recipient of the call it answers."""

    tool_use_id: str
    is_error: bool
    text: str
    to: str | None = None


@dataclass(frozen=True)
class Conversation:
    """The parts of a request the stand-in reads."""

    name: str
    tools: frozenset[str]
    last_user_text: str
    tool_results: tuple[ToolOutcome, ...] = ()
    calls: tuple[plan.Call, ...] = ()  # the last assistant message's, with their results


# -- reading a request ----------------------------------------------------------


def agent_name(system: Any) -> str:
    """Who the system prompt says we are; ``agent`` when it does not say."""
    found = AGENT_NAME.search(text_of(system))
    return found.group("name") if found else DEFAULT_NAME


def _recipients(messages: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    """Tool-use id → the ``to`` of every hive send the assistant made."""
    found: dict[str, str] = {}
    for message in messages:
        content = message.get("content")
        if message.get("role") != "assistant" or not isinstance(content, list):
            continue
        for block in (b for b in content if isinstance(b, dict)):
            tool_input = block.get("input")
            if block.get("type") == "tool_use" and isinstance(tool_input, dict):
                found[str(block.get("id"))] = str(tool_input.get("to", "")) or "?"
    return found


def read_request(request: ApiRequest) -> Conversation:
    """What the stand-in needs of a ``POST /v1/messages`` request.

    The CLI puts its own context into messages of role ``system``; the
    conversation's last word is the last ``user`` message.
    """
    recipients = _recipients(request.messages)
    outcomes = tuple(
        ToolOutcome(str(b.get("tool_use_id")), bool(b.get("is_error")),
                    text_of(b.get("content", "")), recipients.get(str(b.get("tool_use_id"))))
        for b in request.tool_results)
    return Conversation(
        name=agent_name(request.system),
        tools=frozenset(request.tool_names),
        last_user_text=request.last_user_text,
        tool_results=outcomes,
        calls=tuple(plan.last_calls(request.messages)),
    )


def parse_mail(text: str) -> list[Mail]:
    """The messages of a mail turn's prompt, in order; [] when it is not one."""
    headers = list(MAIL_HEADER.finditer(text))
    found = []
    for index, header in enumerate(headers):
        end = headers[index + 1].start() if index + 1 < len(headers) else len(text)
        lines = text[header.end():end].strip("\n").splitlines()
        if lines and lines[0].startswith(REDELIVERED_MARK):
            lines = lines[1:]
        reply_to = header.group("reply_to")
        found.append(Mail(int(header.group("id")), header.group("sender"),
                          "\n".join(lines).rstrip(), int(reply_to) if reply_to else None))
    return found


# -- answering ------------------------------------------------------------------


def answer(conversation: Conversation, tool_id: Callable[[int], str]) -> Answer:
    """The stand-in's answer; ``tool_id(n)`` names its n-th tool call."""
    if conversation.tool_results:
        return after_results(conversation, tool_id)
    mail = parse_mail(conversation.last_user_text)
    if not mail:
        return _text(plain_answer(conversation))
    return answer_mail(conversation, mail, tool_id)


def after_results(conversation: Conversation, tool_id: Callable[[int], str]) -> Answer:
    """A plan's next calls (the manager creating an agent), or the turn's closing text."""
    steps = {c.id: plan.follow(c) for c in conversation.calls if c.result is not None}
    calls = [s for s in steps.values() if s is not None]
    outcomes = [o for o in conversation.tool_results if steps.get(o.tool_use_id) is None]
    text = after_tools(outcomes)
    if not calls:
        return _text(text)
    return Answer((_text_block(text or "Next step."), *plan.numbered(calls, tool_id)))


def answer_mail(conversation: Conversation, mail: Sequence[Mail],
                tool_id: Callable[[int], str]) -> Answer:
    """One send per message that wants an answer (if we may send), text for the rest;
    the manager starts a plan for mail that asks for a new agent (or moves one on)."""
    starts = plan_starts(conversation, mail)
    can_send = SEND_TOOL in conversation.tools
    to_answer = [m for m in mail if m.wants_answer and can_send and m.id not in starts]
    notes = [acknowledge(m, can_send) for m in mail
             if m not in to_answer and m.id not in starts]
    if to_answer:
        who = ", ".join(f"#{m.id} from {m.sender}" for m in to_answer)
        notes.insert(0, f"Answering {who}.")
    if starts:
        notes.insert(0, f"Working on {', '.join(f'#{i}' for i in starts)}.")
    calls = [*starts.values(), *(_send(conversation.name, m, "") for m in to_answer)]
    return Answer((_text_block(" ".join(notes)), *plan.numbered(calls, tool_id)))


def plan_starts(conversation: Conversation, mail: Sequence[Mail]) -> dict[int, Block]:
    """Message id → the first call of the plan it starts (only a manager with the tools)."""
    if not {plan.INIT_TOOL, "Read", "Edit", "Bash"} <= conversation.tools:
        return {}
    found = {m.id: plan.start_for_mail(m.sender, m.id, m.body) for m in mail}
    return {i: call for i, call in found.items() if call is not None}


def reply_body(name: str, mail: Mail) -> str:
    return f"{name} here: I got your message: {mail.body[:QUOTE_CHARS]}"


def acknowledge(mail: Mail, can_send: bool) -> str:
    """A line of text for mail that gets no answer through the hive."""
    if mail.is_event:
        return f"Noted #{mail.id}: {describe_event(mail.body)}."
    if not can_send:
        return f"I got #{mail.id} from {mail.sender}, but I have no {SEND_TOOL} tool to answer."
    return f"Thanks for your reply #{mail.id}, {mail.sender}."


def describe_event(body: str) -> str:
    """An event's name (and what it was about) from its JSON body."""
    try:
        data = json.loads(body)
    except ValueError:
        data = None
    if not isinstance(data, dict):
        return "an event from the hive"
    about = [f"{key} {data[key]}" for key in ("action", "agent") if data.get(key)]
    return f"the {data.get('event') or 'hive'} event" + (f" ({', '.join(about)})" if about else "")


def after_tools(outcomes: Sequence[ToolOutcome]) -> str:
    """The turn's closing text once the CLI has run our tool calls."""
    sent = list(dict.fromkeys(o.to or "?" for o in outcomes if not o.is_error))
    lines = [f"My reply to {o.to or '?'} failed: {o.text[:QUOTE_CHARS]}"
             for o in outcomes if o.is_error]
    if sent:
        lines.insert(0, f"Replied to {' and '.join(sent)}.")
    return " ".join(lines)


def plain_answer(conversation: Conversation) -> str:
    """For a prompt that is not mail: an operator's words, or the CLI's own side requests."""
    name = conversation.name
    if SUMMARY_REQUEST.search(conversation.last_user_text):
        return (f"<summary>{name} has been answering hive mail with short notes; "
                "nothing is pending.</summary>")
    return (f"{name} here. I am the hyperhive demo's stand-in model, not Claude: "
            "I answer hive mail with a short note and nothing more.")


def _text(text: str) -> Answer:
    return Answer((_text_block(text),))


def _text_block(text: str) -> Block:
    return {"type": "text", "text": text}


def _send(name: str, mail: Mail, call_id: str) -> Block:
    return {
        "type": "tool_use",
        "id": call_id,
        "name": SEND_TOOL,
        "input": {"to": mail.sender, "body": reply_body(name, mail), "in_reply_to": mail.id},
    }
