"""/approvals through the real login: the pinned diff, approve with its sha, deny, the history.

A real daemon and a real dashboard process (hive_dev.dashboard); the manager's
requests come from its own socket, its commits from real git in the proposed
repo the daemon seeded. Approving a commit for real needs containers, so the
deploy itself is shown in tests/sandbox/test_dashboard_approve.py; here every
approval this file makes is refused or denied before anything is built.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium.common.exceptions import NoAlertPresentException
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.wait import WebDriverWait

from hive_dev.dashboard import Dashboard, WebSession, manager_git, running_dashboard

SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(1)>"
IMG_FILE = f"{IMG}.toml"
WAIT = 30  # seconds a live change gets to reach the page (a bound, not a measure)


@pytest.fixture(scope="module")
def dash() -> Iterator[Dashboard]:
    with running_dashboard() as running:
        yield running


@pytest.fixture(scope="module")
def web(dash: Dashboard) -> WebSession:
    return dash.login()




def seeded(dash: Dashboard, name: str) -> Path:
    """``name``'s proposed repo, seeded as the operator's approval of init_config does."""
    asked = dash.as_agent("manager", "request_init_config", name=name)["approval"]
    assert dash.call("approve", id=asked["id"])["approval"]["status"] == "deployed"
    return dash.daemon.root / "state" / "proposed-disk" / "repos" / name


def propose(repo: Path, files: dict[str, str], message: str) -> str:
    for name, text in files.items():
        (repo / name).write_text(text)
        manager_git(repo, "add", "--", name)
    manager_git(repo, "commit", "-qm", message)
    return manager_git(repo, "rev-parse", "HEAD")


def commit_request(dash: Dashboard, name: str, description: str) -> tuple[int, str, Path]:
    """A pending apply_commit of ``name`` whose commit holds a script line and a markup-named
    file: (its id, the pinned sha, the proposed repo)."""
    repo = seeded(dash, name)
    toml = (repo / "agent.toml").read_text()
    sha = propose(repo, {"agent.toml": f"{toml}# {SCRIPT}\n", IMG_FILE: "x = 1\n"}, SCRIPT)
    asked = dash.as_agent("manager", "request_apply_commit", agent=name, sha=sha,
                    description=description)["approval"]
    return int(asked["id"]), sha, repo


def article(page: str, approval_id: int) -> str:
    """The HTML of one pending request's card on the page."""
    found = re.search(rf'<article class="approval" id="approval-{approval_id}">.*?</article>',
                      page, re.S)
    assert found, page
    return found.group(0)


def test_a_pending_commit_shows_the_pinned_diff_and_every_agent_string_as_text(
        dash: Dashboard, web: WebSession) -> None:
    approval_id, sha, repo = commit_request(dash, "xss", f"{SCRIPT} {IMG} [x](javascript:x)")
    # The manager goes on committing after it asked: the page still shows the pinned commit.
    later = propose(repo, {"agent.toml": "# later\n"}, "later")
    page = web.get("/approvals")
    assert page.status == 200, page.text
    card = article(page.text, approval_id)
    assert f'name="sha" value="{sha}"' in card and later not in card
    assert "apply_commit" in card and "xss" in card
    assert "&lt;img src=x onerror=alert(1)&gt;.toml" in card  # the file name
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in card  # the description
    assert "alert(1)&lt;/script&gt;</span>" in card  # the diff line, as Pygments escaped it
    assert "<script>" not in page.text.replace('<script src="/static/', "")
    assert "<img" not in page.text and 'href="javascript' not in page.text
    assert "nothing deployed yet" in card  # against the empty tree
    assert web.get("/fragments/approvals").text.count(f'id="approval-{approval_id}"') == 1
    assert web.get("/fragments/approvals").text.startswith(
        '<section id="approvals" hx-get="/fragments/approvals" hx-trigger="sse:approvals"')


def test_approving_with_a_sha_the_request_does_not_pin_is_refused_and_nothing_moves(
        dash: Dashboard, web: WebSession) -> None:
    approval_id, sha, repo = commit_request(dash, "stale", "a change")
    other = propose(repo, {"agent.toml": "# another\n"}, "another")
    refused = web.post(f"/approvals/{approval_id}/approve", {"sha": other})
    assert refused.status == 400, refused.text
    assert "Refused" in refused.text and "pins" in refused.text
    garbage = web.post(f"/approvals/{approval_id}/approve", {"sha": SCRIPT})
    assert garbage.status == 400 and "<script>" not in garbage.text, garbage.text
    pending = {a["id"]: a["status"] for a in dash.call("pending")["approvals"]}
    assert pending.get(approval_id) == "pending"
    assert sha in article(web.get("/approvals").text, approval_id)


def test_denying_with_a_note_tells_the_manager_and_the_history_shows_it(
        dash: Dashboard, web: WebSession) -> None:
    approval_id, sha, _repo = commit_request(dash, "deny", "please")
    note = f"not now {SCRIPT}"
    done = web.post(f"/approvals/{approval_id}/deny", {"note": note})
    assert done.status == 303 and done.header("Location") == "/approvals", done.text
    told = [json.loads(m["body"]) for m in dash.call("mail", name="manager")["messages"]
            if m["from"] == "system" and '"approval_resolved"' in m["body"]]
    assert {"id": approval_id, "status": "denied", "note": note}.items() <= next(
        t for t in told if t["id"] == approval_id).items()
    page = web.get("/approvals").text
    assert f'id="approval-{approval_id}"' not in page
    row = re.search(rf'<tr id="history-{approval_id}">.*?</tr>', page, re.S)
    assert row, page
    assert "state-denied" in row.group(0) and f"denied/{approval_id}" in row.group(0)
    assert sha[:12] in row.group(0)
    assert "not now &lt;script&gt;alert(1)&lt;/script&gt;" in row.group(0)


def test_a_spawn_request_has_no_diff_and_is_approved_without_a_sha(
        dash: Dashboard, web: WebSession) -> None:
    asked = dash.as_agent("manager", "request_spawn", name="spawny",
                          description="does s")["approval"]
    card = article(web.get("/approvals").text, int(asked["id"]))
    assert "diff-box" not in card and 'name="sha"' not in card
    assert f'action="/approvals/{asked["id"]}/approve"' in card
    done = web.post(f"/approvals/{asked['id']}/deny", {"note": ""})
    assert done.status == 303, done.text
    assert dash.call("approvals", status="denied")["approvals"][-1]["id"] == asked["id"]


def test_an_unknown_request_is_refused_by_name_not_a_server_error(web: WebSession) -> None:
    refused = web.post("/approvals/987654/approve", {"sha": "0" * 40})
    assert refused.status == 404, refused.text
    assert "987654" in refused.text


def test_in_chromium_the_page_shows_the_strings_and_runs_none_of_them(
        dash: Dashboard) -> None:
    approval_id, _sha, _repo = commit_request(dash, "xssb", f"{SCRIPT} {IMG}")
    with dash.browser() as driver:
        driver.get(f"{dash.url}/approvals")
        card = driver.find_element(By.ID, f"approval-{approval_id}")
        assert IMG_FILE in card.text and f"{SCRIPT} {IMG}" in card.text
        assert driver.find_elements(By.CSS_SELECTOR, "main img, main script, main iframe") == []
        with pytest.raises(NoAlertPresentException):
            driver.switch_to.alert.text  # noqa: B018 (it raises when no dialog fired)


def test_the_highlight_colours_are_a_style_sheet_the_page_links(web: WebSession) -> None:
    sheet = web.get("/approvals/highlight.css")
    assert sheet.status == 200, sheet.text
    assert str(sheet.header("Content-Type")).startswith("text/css")
    assert ".hl .s" in sheet.text or ".hl .s2" in sheet.text
    assert '<link rel="stylesheet" href="/approvals/highlight.css">' in web.get("/approvals").text


def test_in_chromium_a_new_request_and_its_resolution_arrive_without_a_reload(
        dash: Dashboard) -> None:
    with dash.browser() as driver:
        driver.get(f"{dash.url}/approvals")
        # A mark on this page's window: a reload would lose it.
        driver.execute_script("window.hiveMark = 'still here'")
        asked = dash.as_agent("manager", "request_spawn", name="livey",
                              description="live")["approval"]
        card = (By.ID, f"approval-{asked['id']}")
        WebDriverWait(driver, WAIT).until(expected_conditions.presence_of_element_located(card))
        dash.call("deny", id=asked["id"], note="seen live")
        WebDriverWait(driver, WAIT).until_not(
            expected_conditions.presence_of_element_located(card))
        row = driver.find_element(By.ID, f"history-{asked['id']}").text
        assert "denied" in row and "seen live" in row
        assert driver.execute_script("return window.hiveMark") == "still here"
