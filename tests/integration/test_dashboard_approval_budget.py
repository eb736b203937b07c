"""/approvals stays cheap however much the manager asks to change, and says what it hid.

A real daemon and dashboard (hive_dev.dashboard); the manager's requests come
from its socket, its commits from real git in its proposed repo. One render
highlights at most PAGE_LINES lines in all: a request past them shows no diff
and no approve button, only a link to its own page. Approving a diff the
operator could not see whole asks twice. Nothing here is approved for real
(that needs containers): the confirmed approval is refused for its stale sha.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from hive_c0re.dashboard.views.approvals import PAGE_LINES
from hive_c0re.dashboard.views.diff import MAX_LINES
from hive_dev.dashboard import Dashboard, WebSession, manager_git, running_dashboard

LINE_ROW = '<tr class="line line-'


@pytest.fixture(scope="module")
def dash() -> Iterator[Dashboard]:
    with running_dashboard() as running:
        yield running


@pytest.fixture(scope="module")
def web(dash: Dashboard) -> WebSession:
    return dash.login()




def request_commit(dash: Dashboard, name: str, lines: int, width: int = 0) -> tuple[int, str]:
    """A pending apply_commit of ``name`` adding a file of ``lines`` lines (each ``width``
    characters longer): (id, sha)."""
    asked = dash.as_agent("manager", "request_init_config", name=name)["approval"]
    assert dash.call("approve", id=asked["id"])["approval"]["status"] == "deployed"
    repo = dash.daemon.root / "state" / "proposed-disk" / "repos" / name
    (repo / "notes.txt").write_text("".join(f"note {n}{'x' * width}\n" for n in range(lines)))
    manager_git(repo, "add", "--", "notes.txt")
    manager_git(repo, "commit", "-qm", f"{lines} lines")
    sha = manager_git(repo, "rev-parse", "HEAD")
    asked = dash.as_agent("manager", "request_apply_commit", agent=name, sha=sha)["approval"]
    return int(asked["id"]), sha


def article(page: str, approval_id: int) -> str:
    found = re.search(rf'<article class="approval" id="approval-{approval_id}">.*?</article>',
                      page, re.S)
    assert found, page
    return found.group(0)


@pytest.fixture(scope="module")
def requests(dash: Dashboard) -> tuple[tuple[int, str], tuple[int, str]]:
    """A request whose diff alone spends the page's lines, then a small one."""
    return request_commit(dash, "big", MAX_LINES + 1000), request_commit(dash, "small", 3)


def test_one_budget_of_lines_for_the_page_then_a_link_to_each_request(
        web: WebSession, requests: tuple[tuple[int, str], tuple[int, str]]) -> None:
    (big, big_sha), (small, small_sha) = requests
    for path in ("/approvals", "/fragments/approvals"):
        page = web.get(path)
        assert page.status == 200, page.text
        assert page.text.count(LINE_ROW) == PAGE_LINES
        first = article(page.text, big)
        assert first.count(LINE_ROW) == MAX_LINES and f'href="/approvals/{big}"' in first
        hidden = article(page.text, small)
        assert "Diff not shown" in hidden and f'href="/approvals/{small}"' in hidden
        assert LINE_ROW not in hidden and "/approve" not in hidden and small_sha not in hidden
    alone = web.get(f"/approvals/{small}")
    assert alone.status == 200, alone.text
    card = article(alone.text, small)
    # Against nothing deployed: its agent.toml and the notes, every line.
    assert "note 2" in card and f'name="sha" value="{small_sha}"' in card
    assert "asks again" not in card and 'name="why"' not in card
    assert big_sha not in alone.text


def test_a_request_not_pending_has_no_page_of_its_own(web: WebSession) -> None:
    gone = web.get("/approvals/987654")
    assert gone.status == 404, gone.text
    assert "987654 is not pending" in gone.text


def test_approving_a_diff_shown_in_part_asks_twice_and_says_why(
        dash: Dashboard, web: WebSession,
        requests: tuple[tuple[int, str], tuple[int, str]]) -> None:
    (big, big_sha), _small = requests
    card = article(web.get(f"/approvals/{big}").text, big)
    assert 'name="why" value="truncated"' in card and "asks again" in card
    # A sha the request does not pin: were the first press to approve, the daemon refuses
    # it there, and nothing is built.
    stale = "0" * 40
    armed = web.post(f"/approvals/{big}/approve", {"sha": stale, "why": "truncated"})
    assert armed.status == 200, armed.text
    assert "You did not see all of what it changes" in armed.text
    assert f"at most {MAX_LINES}" in armed.text
    assert {a["id"]: a["status"] for a in dash.call("pending")["approvals"]}[big] == "pending"
    token = re.search(r'name="token" value="([^"]+)"', armed.text)
    assert token and f'name="sha" value="{stale}"' in armed.text, armed.text
    # The confirmed press reaches the daemon, which refuses the sha it does not pin.
    refused = web.post(f"/approvals/{big}/approve", {"sha": stale, "token": token[1]})
    assert refused.status == 400 and "pins" in refused.text, refused.text
    again = web.post(f"/approvals/{big}/approve", {"sha": big_sha, "token": token[1]})
    assert again.status == 400 and "expired or was used" in again.text, again.text
    assert f"/approvals/{big} again" in again.text
    assert {a["id"]: a["status"] for a in dash.call("pending")["approvals"]}[big] == "pending"


def test_a_diff_the_hive_cut_short_asks_twice_and_says_so(
        dash: Dashboard, web: WebSession) -> None:
    # Few lines, but more characters than the daemon sends of a diff.
    cut, _sha = request_commit(dash, "wide", 120, width=6000)
    card = article(web.get(f"/approvals/{cut}").text, cut)
    assert "cut this diff short" in card and 'name="why" value="cut"' in card, card
    armed = web.post(f"/approvals/{cut}/approve", {"sha": "0" * 40, "why": "cut"})
    assert armed.status == 200 and "the hive cut its diff short" in armed.text, armed.text
    assert {a["id"]: a["status"] for a in dash.call("pending")["approvals"]}[cut] == "pending"
