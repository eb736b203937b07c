from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import pytest

from hive_c0re.errors import InvalidInput
from hive_c0re.paths import Paths
from hive_c0re.settings import SETTINGS, Settings


def test_paths_default_to_fhs(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("HYPERHIVE_STATE_DIR", "HYPERHIVE_RUNTIME_DIR", "STATE_DIRECTORY",
                "RUNTIME_DIRECTORY"):
        monkeypatch.delenv(var, raising=False)
    paths = Paths.from_env()
    assert paths.broker == Path("/var/lib/hyperhive/broker.sqlite")
    assert paths.host_socket == Path("/run/hyperhive/host.sock")
    assert paths.agent_socket("alice") == Path("/run/hyperhive/agents/alice/hive.sock")
    assert paths.manager_socket == Path("/run/hyperhive/manager/hive.sock")
    assert paths.applied_repo("alice") == Path("/var/lib/hyperhive/applied/alice")


def test_systemd_directories_then_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HYPERHIVE_STATE_DIR", raising=False)
    monkeypatch.setenv("STATE_DIRECTORY", "/var/lib/hyperhive:/var/lib/other")
    monkeypatch.setenv("RUNTIME_DIRECTORY", "/run/hyperhive")
    monkeypatch.setenv("HYPERHIVE_RUNTIME_DIR", "/tmp/rt")
    paths = Paths.from_env()
    assert paths.state == Path("/var/lib/hyperhive")
    assert paths.runtime == Path("/tmp/rt")


def test_settings_table_and_dataclass_agree() -> None:
    assert [s.name for s in SETTINGS] == [f.name for f in fields(Settings)]
    defaults = Settings.load(environ={})
    for setting in SETTINGS:
        assert getattr(defaults, setting.name) == setting.default
        assert isinstance(setting.default, setting.type)
        assert setting.help and setting.env.startswith("HYPERHIVE_")


def test_settings_from_env_and_overrides() -> None:
    loaded = Settings.load({"inbox_cap": "7"}, environ={"HYPERHIVE_INBOX_CAP": "3",
                                                        "HYPERHIVE_IDLE_TIMEOUT": "2.5"})
    assert loaded.inbox_cap == 7
    assert loaded.idle_timeout == 2.5


@pytest.mark.parametrize(
    ("env", "says"),
    [
        ({"HYPERHIVE_INBOX_CAP": "lots"}, "HYPERHIVE_INBOX_CAP"),
        ({"HYPERHIVE_INBOX_CAP": "0"}, "at least 1"),
        ({"HYPERHIVE_SQLITE_SYNCHRONOUS": "OFF"}, "one of NORMAL, FULL"),
        ({"HYPERHIVE_MAX_FRAME_BYTES": "99999999999"}, "at most"),
    ],
)
def test_bad_settings_say_which_and_why(env: dict[str, str], says: str) -> None:
    with pytest.raises(InvalidInput, match=says):
        Settings.load(environ=env)


def test_every_setting_is_documented_in_the_man_page() -> None:
    page = (Path(__file__).resolve().parents[3] / "man" / "hyperhive.7").read_text()
    for setting in SETTINGS:
        assert setting.env in page, f"{setting.env} missing from man/hyperhive.7"


def test_the_hive_page_says_what_root_does_and_on_which_inputs() -> None:
    page = (Path(__file__).resolve().parents[3] / "man" / "hyperhive.7").read_text()
    security = page.partition("\n.SH SECURITY\n")[2].partition("\n.SH ")[0]
    for part in ("Trust boundaries", "What a container can reach",
                 "What runs as root on the host, and on which inputs", "The rule"):
        assert f".SS {part}\n" in security, f"SECURITY lacks {part!r}"
    assert "Root never follows a container's path." in security
