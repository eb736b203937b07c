"""What the overview puts on top, from status rows, approvals, questions and crash events."""

from __future__ import annotations

from typing import Any

from hive_c0re.dashboard.views.problems import CRASH_LOOP, problems, total


def status(name: str, state: str = "idle", **extra: Any) -> dict[str, Any]:
    return {"name": name, "state": state, "needs_login": False, "socket_error": None,
            "unit_result": None, **extra}


def crash(agent: str) -> dict[str, Any]:
    return {"kind": "container_crash", "agent": agent, "data": {}}


def test_nothing_waits_in_a_quiet_hive() -> None:
    assert problems([status("manager"), status("alice")], [], [], []) == []


def test_approvals_and_questions_are_one_line_each_counted_by_item() -> None:
    found = problems([status("alice")],
                     [{"kind": "spawn"}, {"kind": "apply_commit"}, {"kind": "spawn"}],
                     [{"id": 1}], [])
    assert [(p.kind, p.what, p.href, p.count) for p in found] == [
        ("approvals", "3 approvals pending (apply_commit, spawn)", "/approvals", 3),
        ("questions", "1 open question to you", "/questions", 1)]
    assert total(found) == 4


def test_each_agent_trouble_says_what_to_do_and_links_its_page() -> None:
    rows = [status("alice", "crashed", unit_result="signal"),
            status("bob", "failed", unit_result="exit-code"),
            status("carol", "stopped", needs_login=True),
            status("dave", socket_error="Address already in use")]
    found = problems(rows, [], [], [])
    assert [(p.kind, p.what, p.href) for p in found] == [
        ("crashed", "alice crashed (signal)", "/agents/alice/"),
        ("failed", "bob failed (exit-code)", "/agents/bob/"),
        ("needs-login", "carol needs a login", "/agents/carol/"),
        ("socket", "dave's socket cannot be bound: Address already in use", "/agents/dave/")]
    assert all(p.todo for p in found)


def test_repeated_crashes_are_a_crash_loop_even_while_it_runs() -> None:
    found = problems([status("alice"), status("bob")], [], [],
                     [crash("alice")] * CRASH_LOOP + [crash("bob")] * (CRASH_LOOP - 1))
    assert [(p.kind, p.what) for p in found] == [
        ("crash-loop", f"alice is crash-looping: {CRASH_LOOP} crashes in 10 minutes")]
