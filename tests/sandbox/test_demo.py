"""README command 1: `./scripts/demo` runs a throwaway hive and leaves nothing behind.

Run as CI runs it (stdin not a terminal): the demo sets up, starts the
daemon, the manager and alice and bob in real nspawn containers with the
real claude CLI against the built-in model, takes its scripted tour and
tears everything down. Credentials in the test's environment are withheld:
the tour's answers are the built-in model's.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.sandbox

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "scripts" / "demo"
TIMEOUT = 600
CREDENTIALS = ("ANTHROPIC_API_KEY", "CLAUDE_CODE_OAUTH_TOKEN", "ANTHROPIC_AUTH_TOKEN")
ANSWERS = (
    "alice here: I got your message: hi alice",
    "manager here: I got your message: hello, manager",
    "alice here: I got your message: hello, hive",
    "bob here: I got your message: hello, hive",
    "manager here: I got your message: hello, hive",
    "carol here: I got your message: hi carol",  # the agent the manager asked for
)


def start_demo() -> subprocess.Popen[str]:
    """`scripts/demo </dev/null` in a process group of its own, without credentials."""
    env = {k: v for k, v in os.environ.items() if k not in CREDENTIALS}
    return subprocess.Popen([str(DEMO)], cwd=REPO, env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)


def run_demo() -> subprocess.CompletedProcess[str]:
    """The demo to its end; on a timeout its process group is ended (it cleans up)."""
    process = start_demo()
    try:
        out, err = process.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGTERM)
        out, err = process.communicate(timeout=60)
        pytest.fail(f"scripts/demo took over {TIMEOUT}s\n{out}\n{err}")
    return subprocess.CompletedProcess(process.args, process.returncode, out, err)


def processes_mentioning(text: str) -> list[str]:
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            argv = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in argv:
            found.append(f"{cmdline.parent.name}: {argv}")
    return found


def alive(pid: int) -> bool:
    try:
        return "hive-sandbox" in Path(f"/proc/{pid}/cmdline").read_text()
    except OSError:
        return False


@pytest.mark.timeout(TIMEOUT + 120)
def test_the_demo_runs_a_hive_whose_agents_answer_and_leaves_nothing_behind() -> None:
    if os.geteuid() != 0:
        pytest.fail("scripts/demo needs root")
    done = run_demo()
    said = f"---- stdout\n{done.stdout}\n---- stderr\n{done.stderr}"
    assert done.returncode == 0, said

    for answer in ANSWERS:
        assert answer in done.stdout, said
    assert "all answers arrived" in done.stdout, said
    assert '"name": "alice"' in done.stdout, said  # her UI, through `hive-c0re ui` and its secret
    # The model saw each agent's CLI ask it, and answered with a hive send.
    for sender in ("alice", "bob", "manager"):
        assert f"{sender}: send to operator" in done.stdout, said

    assert_the_approval_loop(done.stdout, said)
    assert_nothing_left(done.stdout, said)


def assert_the_approval_loop(stdout: str, said: str) -> None:
    """Asked for carol, the manager seeded, edited and committed her config through its
    own tools; `approvals` listed each request, `approve` carried it out, carol answered."""
    loop = stdout.split("demo: hive-c0re send manager 'please create an agent named carol'",
                        1)[-1]
    steps = [re.search(rf"^demo: waiting for the manager's request \({kind}\).*\n"
                       rf"(?P<listing>(?:.*\n)*?)demo: hive-c0re approve (?P<id>\d+)$",
                       loop, re.MULTILINE) for kind in ("init_config", "apply_commit")]
    for step, kind in zip(steps, ("init_config", "apply_commit"), strict=True):
        assert step is not None, said
        # The table's row: id, agent, kind, ...
        assert re.search(rf"^\W*{step['id']}\W+carol\W+{kind}\b", step["listing"],
                         re.MULTILINE), said
    assert "demo: hive-c0re agents   (carol is new):" in loop, said
    for done in ("manager: mcp__hive__request_init_config carol",
                 "manager: Read /agents/carol/agent.toml",
                 "manager: Edit /agents/carol/agent.toml",
                 "manager: Bash git -C /agents/carol",
                 "manager: mcp__hive__request_apply_commit carol"):
        assert done in stdout, said  # the model's log: the manager's own tool calls
    assert "the manager's carol came up" in stdout, said


def assert_nothing_left(stdout: str, said: str) -> None:
    """The demo's directory, processes, mounts, sandbox and units are gone."""
    found = re.search(r"^demo: working in (\S+)$", stdout, re.MULTILINE)
    assert found is not None, said
    work = found.group(1)
    assert work.startswith("/tmp/hyperhive-demo.")
    assert not Path(work).exists()
    assert processes_mentioning(work) == []
    assert work not in Path("/proc/self/mountinfo").read_text()
    sandbox = re.search(r"^demo: sandbox: pid (\d+)", stdout, re.MULTILINE)
    if sandbox is not None:  # on a systemd host the demo runs without one
        pid = int(sandbox.group(1))
        assert not alive(pid)
        cgroups = Path("/sys/fs/cgroup")
        left = [*cgroups.glob(f"hive-sandbox-{pid}"), *cgroups.glob(f"*/hive-sandbox-{pid}")]
        assert left == []
    else:
        units = Path("/run/systemd/system")
        assert [*units.glob("hyperhive-demo-*"), *units.glob("hive-agent@*")] == [], said


@pytest.mark.timeout(TIMEOUT + 120)
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_the_demo_stopped_mid_tour_tears_its_hive_down(signum: signal.Signals) -> None:
    """Ctrl-C (SIGINT to the whole group, as a terminal sends it) or SIGTERM once the
    agents have their mail: the demo exits 130 and leaves nothing behind."""
    if os.geteuid() != 0:
        pytest.fail("scripts/demo needs root")
    process = start_demo()
    assert process.stdout is not None
    seen = []
    for line in process.stdout:
        seen.append(line)
        if line.startswith("demo: waiting for the answers"):
            break
    os.killpg(process.pid, signum)
    out, err = process.communicate(timeout=TIMEOUT)
    stdout = "".join(seen) + out
    said = f"---- stdout\n{stdout}\n---- stderr\n{err}"
    assert process.returncode == 130, said
    assert "demo: done" not in stdout, said
    assert_nothing_left(stdout, said)
