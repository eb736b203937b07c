"""The overview and the agents' actions, through a real daemon and a real dashboard process.

Agents here are registered mailboxes (no container: the suite's plain daemon
has no systemd), so pause and resume, destroy, purge and the kept list change
the daemon's state for real, and start, stop, restart, rebuild and revive
meet the daemon's own refusal, which the page must show as the daemon worded it.
"""

from __future__ import annotations

import html
import re
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from hive_c0re.client import Client
from hive_dev.dashboard import Dashboard, WebSession, running_dashboard

HTMX = {"HX-Request": "true"}


@pytest.fixture
def dash() -> Iterator[Dashboard]:
    with running_dashboard() as found:
        for name in ("alice", "bob"):
            found.call("register", name=name)
        yield found


@pytest.fixture
def web(dash: Dashboard) -> WebSession:
    return dash.login()


def row(dash: Dashboard, name: str) -> dict[str, Any]:
    (found,) = dash.call("agent_status", name=name)["agent_statuses"]
    return dict(found)


def agent_row(page: str, name: str) -> str:
    """The ``<tr>`` of ``name`` in the agents table."""
    found = re.search(rf'<tr id="agent-{name}".*?</tr>', page, re.S)
    assert found, page
    return found.group(0)


def until(shown: Callable[[], bool], limit: float = 15.0) -> None:
    """Wait for the page to show what the live feed brought (no bound on how soon)."""
    deadline = time.monotonic() + limit
    while not shown():
        assert time.monotonic() < deadline, "the page never showed it"
        time.sleep(0.05)


def token_of(page: str) -> str:
    found = re.search(r'name="token" value="([^"]+)"', page)
    assert found, page
    return found.group(1)


def test_every_agent_has_a_row_with_its_state_and_a_link(dash: Dashboard,
                                                        web: WebSession) -> None:
    page = web.get("/")
    assert page.status == 200, page.text
    for name in ("manager", "alice", "bob"):
        found = agent_row(page.text, name)
        assert f'href="/agents/{name}/"' in found
        assert 'class="state state-mailbox"' in found
    assert "Nothing waits on you." in page.text
    assert "<title>(0) hyperhive</title>" in page.text


def test_a_pending_approval_is_a_problem_counted_in_the_title(dash: Dashboard,
                                                              web: WebSession) -> None:
    dash.call("request_spawn", name="carol", description="a reviewer")
    dash.call("request_spawn", name="dave", description="a tester")
    page = web.get("/").text
    assert "<title>(2) hyperhive</title>" in page
    assert 'id="problem-count" class="count" data-count="2"' in page
    assert re.search(r'<a href="/approvals">2 approvals pending \(spawn\)</a>', page), page


def test_an_agent_without_a_login_is_a_problem_with_what_to_do(dash: Dashboard,
                                                               web: WebSession) -> None:
    with Client(dash.daemon.agent_socket("alice"), timeout=10) as alice:
        alice.call("report_login", logged_in=False)
    fragment = web.get("/fragments/problems")
    assert fragment.status == 200
    assert fragment.text.startswith('<section id="problems"'), fragment.text
    assert '<a href="/agents/alice/">alice needs a login</a>' in fragment.text
    assert "open its page and log its model in" in fragment.text
    assert 'data-count="1"' in fragment.text


def test_pause_and_resume_change_the_daemon_and_the_row(dash: Dashboard,
                                                        web: WebSession) -> None:
    paused = web.post("/agents/alice/actions", {"action": "pause"})
    assert paused.status == 303 and paused.header("Location") == "/", paused.text
    assert row(dash, "alice")["paused"] is True
    found = agent_row(web.get("/").text, "alice")
    assert '<span class="tag">paused</span>' in found and "Resume" in found
    resumed = web.post("/agents/alice/actions", {"action": "resume"}, headers=HTMX)
    assert resumed.status == 200
    assert resumed.text.startswith('<section id="agents"'), resumed.text
    assert '<div class="flash" role="status">alice: resumed</div>' in resumed.text
    assert row(dash, "alice")["paused"] is False
    assert "Pause" in agent_row(resumed.text, "alice")


def test_an_action_the_daemon_refuses_shows_its_words(dash: Dashboard,
                                                      web: WebSession) -> None:
    for action in ("start", "stop", "restart", "rebuild"):
        page = web.post("/agents/bob/actions", {"action": action})
        assert page.status == 400, (action, page.text)
        assert "agent bob has no container" in page.text
        assert html.escape("`hive-c0re spawn bob` creates it") in page.text
    inline = web.post("/agents/bob/actions", {"action": "start"}, headers=HTMX)
    assert inline.status == 200 and inline.text.startswith('<section id="agents"')
    assert '<div class="flash error" role="alert">agent bob has no container' in inline.text
    assert row(dash, "bob")["state"] == "mailbox"


@pytest.mark.parametrize("name", ["..%2Fx", "Alice", "a%20b", "x" * 20, "operator"])
def test_a_forged_name_is_refused_before_the_daemon(dash: Dashboard, web: WebSession,
                                                    name: str) -> None:
    page = web.post(f"/agents/{name}/actions", {"action": "pause"})
    assert page.status == 400, page.text
    assert "agent name" in page.text and "Refused" in page.text
    assert [r["name"] for r in dash.call("agent_status")["agent_statuses"]] == [
        "manager", "alice", "bob"]


def test_an_unknown_agent_and_an_unknown_action_are_refused(dash: Dashboard,
                                                            web: WebSession) -> None:
    unknown = web.post("/agents/zed/actions", {"action": "pause"})
    assert unknown.status == 404, unknown.text
    assert "zed" in unknown.text
    unknown = web.post("/agents/alice/actions", {"action": "explode"})
    assert unknown.status == 400 and "&#39;explode&#39; is not an action here" in unknown.text
    missing = web.post("/agents/alice/actions")
    assert missing.status == 400 and "the form names no action" in missing.text
    assert row(dash, "alice")["paused"] is False


def test_destroy_is_armed_then_confirmed_and_the_agent_is_kept(dash: Dashboard,
                                                               web: WebSession) -> None:
    armed = web.post("/agents/alice/actions", {"action": "destroy"})
    assert armed.status == 200, armed.text
    assert "Destroy alice?" in armed.text
    assert row(dash, "alice")["desired"] == "none"  # nothing happened yet
    token = token_of(armed.text)
    done = web.post("/agents/alice/actions", {"action": "destroy", "token": token})
    assert done.status == 303, done.text
    assert dash.call("kept_agents")["agents"][0]["name"] == "alice"
    page = web.get("/").text
    kept = re.search(r'<tr id="kept-alice">.*?</tr>', page, re.S)
    assert kept and "Revive" in kept.group(0) and "Purge" in kept.group(0), page
    again = web.post("/agents/alice/actions", {"action": "destroy", "token": token})
    assert again.status == 400 and "has expired or was used" in again.text


def test_a_token_confirms_only_its_own_action_agent_and_session(dash: Dashboard,
                                                                web: WebSession) -> None:
    token = token_of(web.post("/agents/alice/actions", {"action": "destroy"}).text)
    for name, action in (("bob", "destroy"), ("alice", "purge")):
        wrong = web.post(f"/agents/{name}/actions", {"action": action, "token": token})
        assert wrong.status == 400, wrong.text
    other = dash.login()
    token = token_of(web.post("/agents/alice/actions", {"action": "destroy"}).text)
    refused = other.post("/agents/alice/actions", {"action": "destroy", "token": token})
    assert refused.status == 400 and "has expired or was used" in refused.text
    assert dash.call("kept_agents")["agents"] == []
    assert row(dash, "alice")["desired"] == "none"


def test_purge_of_a_kept_agent_takes_it_off_the_list(dash: Dashboard,
                                                     web: WebSession) -> None:
    token = token_of(web.post("/agents/bob/actions", {"action": "destroy"}).text)
    assert web.post("/agents/bob/actions", {"action": "destroy", "token": token}).status == 303
    armed = web.post("/agents/bob/actions", {"action": "purge"})
    assert "cannot be undone" in armed.text
    done = web.post("/agents/bob/actions", {"action": "purge", "token": token_of(armed.text)})
    assert done.status == 303, done.text
    assert dash.call("kept_agents")["agents"] == []
    assert 'id="kept-bob"' not in web.get("/fragments/agents").text


def test_agent_text_in_an_event_is_shown_as_text(dash: Dashboard, web: WebSession) -> None:
    evil = '<script>alert(1)</script><img src=x onerror=alert(2)>'
    approval = dash.call("request_spawn", name="carol", description=evil)["approval"]
    dash.call("deny", id=approval["id"], note=evil)
    page = web.get("/events?kind=approval").text
    assert "<script>alert" not in page and "<img src=x" not in page
    assert html.escape(evil, quote=False)[:20] in page


def test_the_page_follows_new_approvals_and_their_decisions(dash: Dashboard,
                                                            web: WebSession) -> None:
    assert "<title>(0) hyperhive</title>" in web.get("/").text
    approval = dash.call("request_spawn", name="carol", description="a reviewer")["approval"]
    until(lambda: "<title>(1) hyperhive</title>" in web.get("/").text)
    dash.call("deny", id=approval["id"], note="not now")
    until(lambda: "<title>(0) hyperhive</title>" in web.get("/").text)
    assert "Nothing waits on you." in web.get("/fragments/problems").text


def test_with_htmx_destroy_is_armed_in_place(dash: Dashboard, web: WebSession) -> None:
    armed = web.post("/agents/alice/actions", {"action": "purge"}, headers=HTMX)
    assert armed.status == 200 and armed.text.startswith('<section id="agents"'), armed.text
    assert 'role="alertdialog"' in armed.text and "Purge alice?" in armed.text
    assert 'name="action" value="purge"' in armed.text and token_of(armed.text)
    assert row(dash, "alice")["desired"] == "none"


def test_a_model_switch_needs_a_model_the_agent_has(dash: Dashboard, web: WebSession) -> None:
    missing = web.post("/agents/alice/actions", {"action": "model"})
    assert missing.status == 400 and "choose a model to switch to" in missing.text
    # A mailbox has no applied config, so no model can be checked against it.
    page = web.post("/agents/alice/actions", {"action": "model", "model": "opus"})
    assert page.status == 400, page.text
    assert "alice&#39;s applied config cannot be read" in page.text


def test_every_form_carries_the_sessions_csrf_token(dash: Dashboard, web: WebSession) -> None:
    page = web.get("/").text
    tokens = re.findall(r'<input type="hidden" name="csrf" value="([^"]*)">', page)
    assert len(tokens) >= 4  # one per row, and the logout
    assert set(tokens) == {web.csrf}, "a form without the session's token would be refused"
    assert f'hx-headers=\'{{"X-CSRF-Token": "{web.csrf}"}}\'' in page
