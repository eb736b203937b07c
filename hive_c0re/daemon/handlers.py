"""One function per verb. Identity comes from the socket (``Caller``), never the payload."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from hive_c0re import wire
from hive_c0re.broker.approvals import ApprovalRecord, Status
from hive_c0re.broker.reports import ACTIVITIES, Activity
from hive_c0re.broker.store import AgentRecord, Delivery
from hive_c0re.daemon.approval_view import check_shown_sha
from hive_c0re.daemon.hive import Hive
from hive_c0re.daemon.server import Pipe, Stream
from hive_c0re.daemon.sockets import Caller
from hive_c0re.errors import InvalidInput, PolicyRefused
from hive_c0re.names import MANAGER, OPERATOR, validate_agent_name, validate_recipient

log = logging.getLogger(__name__)

# A handler answers once, or with a Stream that goes on (subscribe_agent_status), or a Pipe
# that hands the connection over (agent_ui).
Handler = Callable[[Hive, Caller, dict[str, Any]], Awaitable[dict[str, Any] | Stream | Pipe]]
HANDLERS: dict[str, Handler] = {}


def handles(verb: str) -> Callable[[Handler], Handler]:
    if verb not in wire.VERBS:
        raise AssertionError(f"handler for {verb!r}, which wire.VERBS does not declare")

    def register(fn: Handler) -> Handler:
        HANDLERS[verb] = fn
        return fn

    return register


def _messages(found: list[Delivery]) -> dict[str, Any]:
    return wire.ok(messages=[d.as_wire() for d in found])


def _agent_view(hive: Hive, agent: AgentRecord) -> dict[str, Any]:
    return _mailbox_view(hive, agent, hive.paths.agent_socket(agent.name),
                         hive.sockets.is_listening(agent.name))


def _mailbox_view(hive: Hive, agent: AgentRecord, socket: Path,
                  listening: bool) -> dict[str, Any]:
    counts = hive.store.counts(agent.name)
    return {
        "name": agent.name,
        "desired": str(agent.desired),
        "uid_base": agent.uid_base,
        "allowed_recipients": list(agent.allowed_recipients),
        "unread": counts.unread,
        "in_flight": counts.in_flight,
        "paused": hive.containers.pauses.paused(agent.name),
        "socket": str(socket),
        "listening": listening,
        # Why it is not listening, while its socket cannot be bound (retried).
        "socket_error": hive.sockets.socket_error(agent.name),
    }


@handles("whoami")
async def whoami(hive: Hive, caller: Caller, args: dict[str, Any]) -> dict[str, Any]:
    return wire.ok(name=caller.name, socket=str(caller.kind))


async def _manager_view(hive: Hive) -> dict[str, Any]:
    """The manager as the operator sees it: it has no store row, so built from its parts."""
    lifecycle = hive.containers.lifecycle
    has_container = bool(hive.settings.manager_command)
    # Without a container the manager is a plain mailbox: desired none, no uid range.
    record = lifecycle.manager.record() if has_container else AgentRecord(MANAGER, (), 0.0)
    running = has_container and await asyncio.to_thread(lifecycle.backend.is_active, MANAGER)
    view = _mailbox_view(hive, record, hive.paths.manager_socket, hive.sockets.manager is not None)
    return {**view, "running": running}


@handles("register")
async def register(hive: Hive, caller: Caller, args: dict[str, Any]) -> dict[str, Any]:
    name = validate_agent_name(args["name"])
    agent = hive.store.register_agent(name, args.get("allowed_recipients", []))
    await hive.sockets.listen_for_agent(name)
    hive.report_status()
    log.info("registered agent %s (allowed recipients: %s)", name,
             ", ".join(agent.allowed_recipients) or "anyone", extra={"HIVE_AGENT": name})
    return wire.ok(agent=_agent_view(hive, agent))


@handles("unregister")
async def unregister(hive: Hive, caller: Caller, args: dict[str, Any]) -> dict[str, Any]:
    name = validate_agent_name(args["name"])
    hive.store.unregister_agent(name)
    hive.sockets.stop_listening_for_agent(name)
    hive.report_status()
    log.info("unregistered agent %s; its mail is kept", name, extra={"HIVE_AGENT": name})
    return wire.ok()


@handles("send")
async def send(hive: Hive, caller: Caller, args: dict[str, Any]) -> dict[str, Any]:
    to = validate_recipient(args["to"])
    # The store stores one message per recipient in this order (no await in between).
    recipients = hive.store.resolve_recipients(caller.name, to)
    ids = hive.mail.send(caller.name, to, args["body"], args.get("in_reply_to"))
    if caller.kind is not wire.Kind.HOST:
        return wire.ok(ids=ids)  # an agent's tool result stays as the original's
    # The operator is told who got which id, and whether each is taken at once or queued.
    delivered = [{"id": i, "to": r} for i, r in zip(ids, recipients, strict=True)]
    await _recipient_states(hive, delivered)
    return wire.ok(ids=ids, delivered=delivered)


async def _recipient_states(hive: Hive, delivered: list[dict[str, Any]]) -> None:
    from hive_c0re.daemon.status import status_row

    rows = await asyncio.gather(*(status_row(hive, d["to"]) for d in delivered))
    for d, row in zip(delivered, rows, strict=True):
        d.update(state=row["state"], listening=row["listening"])


@handles("inbox")
async def inbox(hive: Hive, caller: Caller, args: dict[str, Any]) -> dict[str, Any]:
    take = lambda: hive.store.read_and_ack(caller.name, args.get("max", wire.MAX_RECV_BATCH))  # noqa: E731
    return _messages(await _wait_for_mail(hive, caller.name, args.get("wait_seconds", 0), take))


@handles("recv")
async def recv(hive: Hive, caller: Caller, args: dict[str, Any]) -> dict[str, Any]:
    limit = args.get("max", wire.MAX_RECV_BATCH)
    wait = args.get("wait_seconds", 0)
    if wait == 0:
        return _messages(hive.store.peek(caller.name, limit))
    pauses = hive.containers.pauses
    # Paused (or held by a graceful stop): it waits as if its inbox were empty; a
    # resume wakes it like a send.
    found = await _wait_for_mail(hive, caller.name, wait,
                                 lambda: [] if pauses.leases_nothing(caller.name)
                                 else hive.store.lease(caller.name, limit))
    if found:
        log.debug("leased %d message(s) to %s", len(found), caller.name,
                  extra={"HIVE_AGENT": caller.name})
    return _messages(found)


async def _wait_for_mail(
    hive: Hive, mailbox: str, wait: float, take: Callable[[], list[Delivery]]
) -> list[Delivery]:
    """Take mail now, or wait until a send wakes ``mailbox`` or ``wait`` runs out."""
    deadline = asyncio.get_running_loop().time() + wait
    while True:
        found = take()
        remaining = deadline - asyncio.get_running_loop().time()
        if found or remaining <= 0:
            return found
        # No await between take() and registering the waiter: no wake-up can slip by.
        await hive.mail.signals.wait(mailbox, remaining)


@handles("ack_turn")
async def ack_turn(hive: Hive, caller: Caller, args: dict[str, Any]) -> dict[str, Any]:
    acked = hive.store.ack_turn(caller.name)
    hive.containers.pauses.turn_ended(caller.name)
    return wire.ok(acked=acked)


@handles("requeue_inflight")
async def requeue_inflight(hive: Hive, caller: Caller, args: dict[str, Any]) -> dict[str, Any]:
    count = hive.store.requeue_inflight(caller.name)
    hive.containers.pauses.turn_ended(caller.name)
    if count:
        log.info("requeued %d in-flight message(s) of %s", count, caller.name,
                 extra={"HIVE_AGENT": caller.name})
        hive.mail.signals.notify(caller.name)
    return wire.ok(requeued=count)


def _target(caller: Caller, name: object, verb: str) -> str:
    if name != MANAGER:
        return validate_agent_name(name)
    if caller.kind is not wire.Kind.HOST:
        raise PolicyRefused("the manager cannot start, stop, restart or update itself",
                            hint="the operator can, from the host")
    if verb == "spawn":
        raise InvalidInput("the manager's container is created with the hive, not spawned",
                           hint="`hive-c0re start manager` starts it if it was stopped")
    return MANAGER


def _lifecycle_verb(verb: str, action_name: str | None = None) -> Handler:
    async def handle(hive: Hive, caller: Caller, args: dict[str, Any]) -> dict[str, Any]:
        name = _target(caller, args["name"], verb)
        action = getattr(hive.containers.lifecycle, action_name or verb)
        agent = await action(name)
        hive.report_status()
        if name == MANAGER:
            return wire.ok(agent=await _manager_view(hive))
        return wire.ok(agent=_agent_view(hive, hive.store.agent(agent.name)))

    handle.__name__ = verb
    return handle


# start and stop (with their scoped forms) and kill: hive_c0re.daemon.compat.
for _verb in ("spawn", "restart", "rebuild"):
    handles(_verb)(_lifecycle_verb(_verb))
handles("update")(_lifecycle_verb("update", "rebuild"))


@handles("get_logs")
async def get_logs(hive: Hive, caller: Caller, args: dict[str, Any]) -> dict[str, Any]:
    from hive_c0re.daemon.crashwatch import recent_journal

    name = validate_agent_name(args["agent"])
    hive.store.agent(name)  # raises NotFound
    unit = hive.containers.lifecycle.backend.unit(name)
    lines = await asyncio.to_thread(recent_journal, unit, args.get("lines", 100))
    return wire.ok(unit=unit, lines=lines)


@handles("report_login")
async def report_login(hive: Hive, caller: Caller, args: dict[str, Any]) -> dict[str, Any]:
    # Coalesced and rate-limited: an agent reporting in a loop writes next to nothing.
    hive.mail.reports.login(caller.name, bool(args["logged_in"]))
    return wire.ok()


@handles("report_state")
async def report_state(hive: Hive, caller: Caller, args: dict[str, Any]) -> dict[str, Any]:
    state = args["state"]
    if state not in ACTIVITIES:
        raise InvalidInput(f"report_state.state must be one of {', '.join(sorted(ACTIVITIES))}",
                           hint=f"got {state[:16]!r}")
    turn = None
    if "turn_ended_at" in args:
        turn = {"ended_at": args["turn_ended_at"], "duration_ms": args.get("turn_ms"),
                "tokens": args.get("turn_tokens"), "cost_usd": args.get("turn_cost_usd")}
    hive.mail.reports.activities[caller.name] = Activity(state, args.get("model"), turn,
                                                         bool(args.get("released", False)))
    hive.feed.changed(caller.name)
    return wire.ok()


@handles("mail")
async def mail(hive: Hive, caller: Caller, args: dict[str, Any]) -> dict[str, Any]:
    name = args["name"]
    if name not in (MANAGER, OPERATOR):
        hive.store.agent(validate_agent_name(name))  # raises NotFound
    return wire.ok(messages=hive.store.history(name, args.get("limit", 50)))


@handles("destroy")
async def destroy(hive: Hive, caller: Caller, args: dict[str, Any]) -> dict[str, Any]:
    name = validate_agent_name(args["name"])
    await hive.containers.lifecycle.destroy(name, purge=args.get("purge", False))
    hive.report_status()
    return wire.ok()


def _approvals(hive: Hive, found: list[ApprovalRecord]) -> dict[str, Any]:
    return wire.ok(approvals=[a.as_wire() for a in found])


@handles("pending")
async def pending(hive: Hive, caller: Caller, args: dict[str, Any]) -> dict[str, Any]:
    return _approvals(hive, hive.containers.approvals.pending())


@handles("approvals")
async def approvals(hive: Hive, caller: Caller, args: dict[str, Any]) -> dict[str, Any]:
    status = args.get("status")
    if status is not None and status not in {s.value for s in Status}:
        raise InvalidInput(f"approvals.status must be one of {', '.join(s.value for s in Status)}")
    flow = hive.containers.approvals
    flow.pending()  # fails requests whose agent vanished before listing them
    return _approvals(hive, flow.book.listing(Status(status) if status else None))


@handles("approve")
async def approve(hive: Hive, caller: Caller, args: dict[str, Any]) -> dict[str, Any]:
    if "sha" in args:
        check_shown_sha(hive, args["id"], args["sha"])
    return wire.ok(approval=(await hive.containers.approvals.approve(args["id"])).as_wire())


@handles("deny")
async def deny(hive: Hive, caller: Caller, args: dict[str, Any]) -> dict[str, Any]:
    record = await hive.containers.approvals.deny(args["id"], args.get("note"))
    return wire.ok(approval=record.as_wire())


@handles("request_spawn")
async def request_spawn(hive: Hive, caller: Caller, args: dict[str, Any]) -> dict[str, Any]:
    record = hive.containers.approvals.request_spawn(args["name"], args.get("description"))
    return wire.ok(approval=record.as_wire())


@handles("request_init_config")
async def request_init_config(hive: Hive, caller: Caller, args: dict[str, Any]) -> dict[str, Any]:
    record = hive.containers.approvals.request_init_config(args["name"], args.get("description"))
    return wire.ok(approval=record.as_wire())


@handles("request_apply_commit")
async def request_apply_commit(hive: Hive, caller: Caller, args: dict[str, Any]) -> dict[str, Any]:
    record = await hive.containers.approvals.request_apply_commit(args["agent"], args["sha"],
                                                       args.get("description"))
    return wire.ok(approval=record.as_wire())


# -- questions and reminders ------------------------------------------------------------


@handles("ask")
async def ask(hive: Hive, caller: Caller, args: dict[str, Any]) -> dict[str, Any]:
    change = hive.questions.ask(
        caller.name, args["question"], to=validate_recipient(args.get("to", OPERATOR)),
        options=args.get("options", ()), multi=args.get("multi", False),
        ttl=args.get("ttl_seconds", wire.DEFAULT_TTL))
    record = change.record
    if change.notified is not None:
        hive.mail.signals.notify(change.notified)
    hive.scheduler.due_changed(record.deadline)
    log.info("question #%d: %s asks %s", record.id, caller.name, record.target,
             extra={"HIVE_AGENT": caller.name, "HIVE_TO": record.target})
    if MANAGER not in (caller.name, record.target):
        hive.mail.tell_manager_for(caller.name, "question_asked", caller.name, id=record.id,
                              to=record.target, question=record.question)
    return wire.ok(question=record.as_wire())


@handles("answer")
async def answer(hive: Hive, caller: Caller, args: dict[str, Any]) -> dict[str, Any]:
    change = hive.questions.answer(args["question_id"], caller.name, args["answer"],
                                   free_text=args.get("free_text", False))
    record = change.record
    if change.notified is not None:
        hive.mail.signals.notify(change.notified)
    log.info("question #%d of %s answered by %s", record.id, record.asker, caller.name,
             extra={"HIVE_AGENT": record.asker, "HIVE_FROM": caller.name})
    if MANAGER not in (caller.name, record.asker):
        hive.mail.tell_manager_for(caller.name, "question_answered", record.asker, id=record.id,
                              by=caller.name, question=record.question)
    return wire.ok(question=record.as_wire())


@handles("questions")
async def questions(hive: Hive, caller: Caller, args: dict[str, Any]) -> dict[str, Any]:
    found = hive.questions.everything() if args.get("all") else hive.questions.open_for(OPERATOR)
    return wire.ok(questions=[q.as_wire() for q in found])


@handles("remind")
async def remind(hive: Hive, caller: Caller, args: dict[str, Any]) -> dict[str, Any]:
    record = hive.reminders.create(caller.name, args["message"],
                                   delay=args.get("delay_seconds"), at=args.get("at"),
                                   file_path=args.get("file_path"))
    hive.scheduler.due_changed(record.due_at)
    log.info("reminder #%d set by %s", record.id, caller.name,
             extra={"HIVE_AGENT": caller.name})
    return wire.ok(reminder=record.as_wire())


@handles("get_open_threads")
async def get_open_threads(hive: Hive, caller: Caller, args: dict[str, Any]) -> dict[str, Any]:
    return wire.ok(
        asked=[q.as_wire() for q in hive.questions.open_asked_by(caller.name)],
        to_answer=[q.as_wire() for q in hive.questions.open_for(caller.name)],
        reminders=[r.as_wire() for r in hive.reminders.pending_for(caller.name)],
    )


@handles("cancel_thread")
async def cancel_thread(hive: Hive, caller: Caller, args: dict[str, Any]) -> dict[str, Any]:
    kind, thread_id = args["kind"], args["thread_id"]
    if kind == "question":
        question = hive.questions.cancel(thread_id, caller.name)
        log.info("question #%d cancelled by %s", thread_id, caller.name,
                 extra={"HIVE_AGENT": caller.name})
        return wire.ok(question=question.as_wire())
    if kind == "reminder":
        reminder = hive.reminders.cancel(thread_id, caller.name)
        log.info("reminder #%d cancelled by %s", thread_id, caller.name,
                 extra={"HIVE_AGENT": caller.name})
        return wire.ok(reminder=reminder.as_wire())
    raise InvalidInput("cancel_thread.kind must be question or reminder")
