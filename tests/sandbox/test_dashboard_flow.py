"""The whole flow in chromium, real containers: the operator runs the hive from the dashboard.

The daemon and the dashboard run as their installed units under the
sandbox's systemd (the dashboard's socket given a loopback TCP listener by
a drop-in); the manager's container asks for a new agent; alice's container
runs the real harness and claude CLI against the scripted model. Every
operator step is a click in the browser, and what changes by itself (an
approval building, a reply arriving, a crash) must show up in the page the
operator is looking at without a reload: each such page is tagged with a JS
mark first, and the mark must still be there when the change has shown.
"""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import pytest

from hive_dev.sandbox import Sandbox
from tests.sandbox.dashboard_flow_support import (
    PING,
    PONG,
    Flow,
    container_leader,
    flow,
    manager_does,
)
from tests.sandbox.harness_support import diagnose
from tests.sandbox.test_dashboard_units import SERVICE, exposure

pytestmark = pytest.mark.sandbox

# Records each status the approval's row shows, as the page's DOM changes.
WATCH_APPROVAL = """
const id = arguments[0];
window.hiveFlowMark = 'still this page';
window.hiveSeen = [];
const note = () => {
  const row = document.getElementById('history-' + id);
  const word = row ? row.querySelector('.state').textContent.trim()
                   : (document.getElementById('approval-' + id) ? 'pending' : '');
  if (word && window.hiveSeen[window.hiveSeen.length - 1] !== word) window.hiveSeen.push(word);
};
new MutationObserver(note).observe(document.body, {subtree: true, childList: true,
                                                   characterData: true});
note();
"""


def approve_in_a_second_tab(run: Flow, approval_id: int) -> list[str]:
    """Approve from one tab while another watches the request's row; what it showed."""
    watching = run.driver.current_window_handle
    run.driver.execute_script(WATCH_APPROVAL, approval_id)
    run.driver.switch_to.new_window("tab")
    run.go("/approvals")
    run.submit(f"#approval-{approval_id} form.approve")
    run.wait(lambda d: d.current_url == run.url + "/approvals"
             and d.find_elements("css selector", f"#history-{approval_id}"),
             "the approve form's answer")
    run.driver.close()
    run.driver.switch_to.window(watching)
    run.wait(lambda d: d.execute_script("return window.hiveSeen.at(-1)") == "deployed",
             f"approval #{approval_id} to show deployed")
    assert run.still_marked(), "the watching tab was reloaded"
    return list(run.driver.execute_script("return window.hiveSeen"))


def the_manager_proposes_alice(run: Flow) -> None:
    asked = manager_does(run.hive, do="init", name="alice")["approval"]
    run.go("/approvals")
    run.submit(f"#approval-{asked['id']} form.approve")
    run.wait(lambda d: "deployed" in run.text(f"#history-{asked['id']}"), "the seed deployed")
    run.mark()
    line = "# alice answers the operator's pings"
    commit = manager_does(run.hive, do="commit", name="alice", line=line,
                          message="alice: a first config")["approval"]
    # The request appears in the open page by itself, with the pinned commit's diff.
    run.wait(lambda d: line in run.text(f"#approval-{commit['id']} .diff-box"),
             "the apply_commit request and its diff")
    assert run.still_marked(), "the approvals page was reloaded"
    assert "agent.toml" in run.text(f"#approval-{commit['id']} .diff-file .path")
    run.screenshot("approvals")
    seen = approve_in_a_second_tab(run, int(commit["id"]))
    print(f"\nthe approval's row showed, live: {' → '.join(seen)}")
    assert seen[0] == "pending" and seen[-1] == "deployed" and len(seen) >= 3, seen
    assert seen == [s for s in ("pending", "approved", "building", "deployed") if s in seen]


def alice_answers_a_message_composed_here(run: Flow) -> None:
    run.go("/inbox")
    run.find("form.compose [name=to]").send_keys("alice")
    run.find("form.compose [name=body]").send_keys(PING)
    run.submit_and_load("form.compose", "/inbox")
    run.mark()
    try:
        run.wait(lambda d: PONG in run.text("#inbox"), "alice's reply in the inbox",
                 timeout=120)
    except AssertionError as missing:
        stored = [m["body"] for m in run.hive.call("mail", name="operator")["messages"]]
        raise AssertionError(f"{missing}\nstored for the operator: {stored}\n"
                             + diagnose(run.hive, "alice", run.api)) from None
    assert run.still_marked(), "the inbox was reloaded"
    run.screenshot("inbox")


def a_denial_note_reaches_the_manager(run: Flow) -> None:
    asked = manager_does(run.hive, do="commit", name="alice", line="# more of it",
                         message="alice: more")["approval"]
    run.go("/approvals")
    note = "not this week, alice is new"
    run.find(f"#deny-note-{asked['id']}").send_keys(note)
    run.submit(f"#approval-{asked['id']} form.deny")
    run.wait(lambda d: "denied" in run.text(f"#history-{asked['id']}"), "the denial")
    told = [json.loads(m["body"]) for m in run.hive.call("mail", name="manager")["messages"]
            if m["from"] == "system" and '"approval_resolved"' in m["body"]]
    assert {"id": asked["id"], "status": "denied", "note": note}.items() <= next(
        t for t in told if t.get("id") == asked["id"]).items(), told


def a_question_is_answered(run: Flow) -> None:
    run.go("/questions")
    run.mark()
    with run.hive.client(run.hive.agent_socket("alice")) as alice:
        asked = alice.call("ask", question="which port for the demo?",
                           options=["7000", "8000"])["question"]
    run.wait(lambda d: d.find_elements("css selector", f"#question-{asked['id']}"),
             "the question to appear")
    assert run.still_marked(), "the questions page was reloaded"
    run.screenshot("questions")
    run.click(f"#question-{asked['id']} input[value='7000']")
    run.submit(f"#question-{asked['id']} form.answer")
    run.wait(lambda d: d.current_url == run.url + "/questions" and not d.find_elements(
        "css selector", f"#question-{asked['id']}"), "the answered question to leave the list")
    events = run.hive.call("events")["events"]
    answered = next((e["data"] for e in events if e["kind"] == "question_answered"
                     and e["data"]["id"] == asked["id"]), run.driver.page_source)
    assert (answered["answer"], answered["by"]) == ("7000", "operator"), answered


def pause_and_resume(run: Flow) -> None:
    run.go("/")
    resume = "#agent-alice button[name=action][value=resume]"
    for action, paused in (("pause", True), ("resume", False)):
        run.click_until(f"#agent-alice button[name=action][value={action}]",
                        lambda d: bool(d.find_elements("css selector", resume)) is paused,  # noqa: B023
                        f"alice {action}d")
        assert run.hive.call("agent_status", name="alice")["agent"]["paused"] is paused


def echo_hi_in_the_terminal(run: Flow) -> None:
    run.go("/agents/alice/")
    run.screenshot("agent")
    run.driver.switch_to.frame(run.find("#agent-ui iframe"))
    run.wait(lambda d: d.find_elements("css selector", "#terminal-open"), "alice's own UI")
    run.find("#terminal-open").click()
    run.wait(lambda d: d.find_elements("css selector", "#terminal .xterm-helper-textarea"),
             "the terminal")
    run.find("#terminal .xterm-helper-textarea").send_keys(
        "echo hi\n")
    # The shell echoes the command line; its output is a row of its own.
    run.wait(lambda d: any(row.get_attribute("textContent").strip() == "hi" for row in
                           d.find_elements("css selector", "#terminal .xterm-rows > div")),
             "hi in the terminal")
    run.driver.switch_to.default_content()


def a_killed_container_shows_as_crashed(run: Flow) -> float:
    run.go("/")
    run.mark()
    leader = container_leader(run.hive, "alice")
    run.hive.sandbox.run("kill", f"-{signal.SIGKILL.value}", str(leader))
    killed = time.monotonic()
    run.wait(lambda d: d.execute_script(
        "return document.getElementById('agent-alice')?.dataset.state") in ("crashed", "failed"),
        "alice to show as crashed", timeout=10)
    delay = time.monotonic() - killed
    assert run.still_marked(), "the overview was reloaded"
    # The problems list is a topic of its own: it may follow the row a moment later.
    run.wait(lambda d: "alice" in run.text("#problems"), "alice among the problems", timeout=10)
    run.screenshot("overview-crashed")
    return delay


def test_the_operator_runs_the_hive_from_the_browser(sandbox: Sandbox, tmp_path: Path) -> None:
    with flow(sandbox, tmp_path) as run:
        assert run.driver.current_url == run.url + "/", run.driver.page_source
        the_manager_proposes_alice(run)
        alice_answers_a_message_composed_here(run)
        a_denial_note_reaches_the_manager(run)
        a_question_is_answered(run)
        pause_and_resume(run)
        run.go("/")
        run.screenshot("overview")
        echo_hi_in_the_terminal(run)
        delay = a_killed_container_shows_as_crashed(run)
        print(f"\nSIGKILL of alice's container leader → crashed in the page: {delay:.3f} s")
        for unit in (SERVICE, "hive-c0re.service"):
            score, level = exposure(sandbox, unit)
            print(f"systemd-analyze security {unit}: {score} {level}")
