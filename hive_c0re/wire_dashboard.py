"""The operator's verbs the dashboard reads and follows the hive with: part of
:data:`hive_c0re.wire.VERBS`, declared here to keep that table's module small.

Every one is host.sock's alone; the CLI may use them as the dashboard does.
"""

from __future__ import annotations

from hive_c0re.wire_fields import HOST, Field, Verb

MAX_DIFF = 512 * 1024  # characters of an approval's diff in one answer
MAX_FEED_BACKLOG = 1000  # events in subscribe_events' first answer
MAX_MARK = 1000  # ids one mark_read takes
MAX_JOURNAL_LINES = 1000
MAX_ID = 2**63 - 1

_APPROVAL = Field("id", "integer", "the approval's id", required=True, minimum=1,
                  maximum=MAX_ID)
_EVENT = "{id, at, kind, agent, data}"
_REMINDER = ("{id, agent, message, file_path, due_at, created_at, status, fired_at, "
             "cancelled_at}")
_QUESTION = "{id, asker, target, question, options, multi, deadline, asked_at, status, answer, ...}"
_FLOW_MESSAGE = ("{id, from, to, body, in_reply_to, sent_at, redelivered, state, acked_at}; "
                 "state is unread, leased or acked")

DASHBOARD_VERBS: tuple[Verb, ...] = (
    Verb("subscribe_events", HOST, "the hive's event log and its mail, live: the backlog, "
         "then an answer per new event-log row or stored message while connected; no "
         "further requests are read", (
             Field("after", "integer", "send first the events with a larger id (the newest "
                   f"{MAX_FEED_BACKLOG}); absent: only what comes next", minimum=0,
                   maximum=MAX_ID),),
         answer={"events": f"first: the backlog, list of {_EVENT}; then a one-item list "
                           "per new event",
                 "mail": "{id, from, to, in_reply_to, sent_at} per stored message (no body)",
                 "overflow": "true in the last answer to a subscriber that fell too far "
                             "behind (event_feed_bytes): subscribe again with after"}),
    Verb("approval_diff", HOST, "what a config request would change: the pinned commit "
         "against what is deployed", (_APPROVAL,),
         answer={"approval": "the request", "sha": "the commit it pinned",
                 "base": "the commit deployed now; null when nothing is (then the diff is "
                         "against the empty tree)",
                 "diff": f"plain git diff text (no colour), at most {MAX_DIFF} characters",
                 "truncated": "true when the diff was cut (at a line's end) to fit"}),
    # -- the operator's mail and the flow ---------------------------------------------
    Verb("messages", HOST, "the message flow: every recipient's mail (or to and from one), "
         "newest first, read-only", (
             Field("limit", "integer", "how many (1-1000, default 50)", minimum=1,
                   maximum=1000),
             Field("before", "integer", "only messages with a smaller id (to page back)",
                   minimum=1, maximum=MAX_ID),
             Field("name", "string", "only mail to or from this agent, 'manager', "
                   "'operator' or 'system'", max_length=64),
         ), answer={"messages": f"list of {_FLOW_MESSAGE}"}),
    Verb("mark_read", HOST, "mark messages of the operator's unread mail read", (
        Field("ids", "ids", f"the messages' ids (at most {MAX_MARK})", required=True,
              max_items=MAX_MARK),),
        answer={"marked": "how many were the operator's unread mail, now read"}),
    # -- reminders and questions ------------------------------------------------------
    Verb("reminders", HOST, "every agent's pending reminders, soonest first, or every one", (
        Field("all", "boolean", "every reminder ever set (fired and cancelled too), by id"),),
        answer={"reminders": f"list of {_REMINDER}"}),
    Verb("cancel_reminder", HOST, "cancel an agent's pending reminder; the agent is told", (
        Field("id", "integer", "the reminder's id", required=True, minimum=1,
              maximum=MAX_ID),),
        answer={"reminder": "the reminder, now cancelled"}),
    Verb("cancel_question", HOST, "cancel an open question asked of the operator: it is "
         "answered [cancelled] and its asker told", (
             Field("id", "integer", "the question's id", required=True, minimum=1,
                   maximum=MAX_ID),),
         answer={"question": f"the question, now cancelled: {_QUESTION}"}),
    # -- agents -----------------------------------------------------------------------
    Verb("kept_agents", HOST, "destroyed agents whose state is kept: spawn revives one, "
         "destroy with purge wipes it",
         answer={"agents": "list of {name, destroyed_at}; destroyed_at is null once the "
                           "event log no longer holds it"}),
    Verb("agent_config", HOST, "an agent's applied agent.toml, as the operator approved it", (
        Field("name", "string", "an agent name", required=True, max_length=64),),
        answer={"name": "the agent", "sha": "the applied repo's main commit",
                "toml": "the text of agent.toml at that commit"}),
    Verb("journal", HOST, "an agent's journal: its container unit's lines and the daemon's "
         "lines about it (HIVE_AGENT), oldest first", (
             Field("name", "string", "an agent, or 'manager'", required=True, max_length=64),
             Field("lines", "integer", f"how many (1-{MAX_JOURNAL_LINES}, default 100): the "
                   "last ones, or the first ones after the cursor", minimum=1,
                   maximum=MAX_JOURNAL_LINES),
             Field("after", "string", "a cursor from an earlier answer: only the lines after "
                   "it (to follow on)", max_length=512),
         ), answer={"lines": "list of {cursor, at, unit, priority, message}; at in epoch "
                             "seconds, priority as syslog's (0-7)",
                    "cursor": "pass it as after for what comes next (null: the journal "
                              "holds nothing of the agent)",
                    "unit": "the agent's container unit"}),
)
