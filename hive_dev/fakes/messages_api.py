"""The stand-in Messages API answering from a `Script`: what the tests' claude CLIs talk to.

The real claude CLI talks to it when `ANTHROPIC_BASE_URL` points here
(`MessagesApi.cli_env` gives the whole environment). It answers
`POST /v1/messages` from a `Script` of `Reply`s (see `hive_dev.stand_in` for
the wire) and records every request it sees, answered or not (`requests`,
`model_calls`).

A model call takes the first unused reply whose `Match` holds; a reply
without one answers the conversation itself, never a side request such as a
compaction summary. When none holds, the fallback text "ok" answers and the
record says `fallback=True`.

Three ways to run it:
- `with MessagesApi(replies) as api:` serves from a background thread (sync tests);
- `async with MessagesApi(replies) as api:` serves on the running loop;
- `python -m hive_dev.fakes.messages_api --script FILE --port-file F [--record R]`
  serves from its own process (for a CLI in a container or other namespace);
  `ApiProcess` starts that from a test and reads its records back.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from hive_dev.fakes.script import ApiRequest, Reply, Script, read_script
from hive_dev.stand_in.server import StandInApi, serve_until_stopped

REPO_ROOT = Path(__file__).resolve().parents[2]


def cli_env(
    base_url: str, home: Path, max_retries: int | None = None, oauth_token: str | None = None
) -> dict[str, str]:
    """The environment that points a real claude CLI at `base_url`, isolated under `home`.

    `max_retries` bounds the CLI's own retries of 401/429/5xx answers (default
    10, backing off from 0.5 s to 32 s: minutes before an error surfaces).
    `oauth_token` logs in as a subscription would (`CLAUDE_CODE_OAUTH_TOKEN`)
    instead of with an API key: then every answer yields a `RateLimitEvent`.
    """
    config_dir = home / ".claude"
    config_dir.mkdir(parents=True, exist_ok=True)
    env = {
        "ANTHROPIC_BASE_URL": base_url,
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "DISABLE_AUTOUPDATER": "1",
        "HOME": str(home),
        "CLAUDE_CONFIG_DIR": str(config_dir),
    }
    if oauth_token is None:
        env["ANTHROPIC_API_KEY"] = "dummy"
    else:
        env["CLAUDE_CODE_OAUTH_TOKEN"] = oauth_token
    if max_retries is not None:
        env["CLAUDE_CODE_MAX_RETRIES"] = str(max_retries)
    return env


class MessagesApi(StandInApi):
    """The stand-in answering from `script`; `requests` lists what it saw, oldest first."""

    def __init__(
        self,
        replies: Iterable[Reply] = (),
        *,
        fallback_text: str = "ok",
        host: str = "127.0.0.1",
        port: int = 0,
        record_path: Path | None = None,
    ) -> None:
        self.script = Script(replies, fallback_text)
        self.record_path = record_path
        self._requests: list[ApiRequest] = []
        self._lock = threading.Lock()
        super().__init__(self.script, name="fake", host=host, port=port, record=self._keep)

    def cli_env(
        self, home: Path, max_retries: int | None = None, oauth_token: str | None = None
    ) -> dict[str, str]:
        return cli_env(self.url, home, max_retries, oauth_token)

    def add(self, *replies: Reply) -> None:
        self.script.add(*replies)

    @property
    def requests(self) -> list[ApiRequest]:
        with self._lock:
            return list(self._requests)

    @property
    def model_calls(self) -> list[ApiRequest]:
        """The `POST /v1/messages` requests, scripted and fallback alike."""
        return [r for r in self.requests if r.is_messages]

    @property
    def scripted_calls(self) -> list[ApiRequest]:
        return [r for r in self.model_calls if not r.fallback]

    def wait_for(self, condition: Callable[[list[ApiRequest]], bool], timeout: float = 10) -> None:
        """Block until `condition(model_calls)` holds; raise TimeoutError after `timeout`."""
        deadline = time.monotonic() + timeout
        while not condition(self.model_calls):
            if time.monotonic() > deadline:
                raise TimeoutError(f"stand-in API: condition not met; saw {self.model_calls}")
            time.sleep(0.02)

    def _keep(self, request: ApiRequest) -> None:
        with self._lock:
            self._requests.append(request)
            if self.record_path is not None:
                with self.record_path.open("a") as f:
                    f.write(json.dumps(request.to_dict()) + "\n")


# -- as a separate process ----------------------------------------------------


class ApiProcess:
    """`python -m hive_dev.fakes.messages_api` as a child, for as long as the `with` lasts."""

    def __init__(self, script: Path, workdir: Path, host: str = "127.0.0.1") -> None:
        self.script = script
        self.port_file = workdir / "messages-api.port"
        self.record_path = workdir / "messages-api.jsonl"
        self.host = host
        self.port = 0
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def requests(self) -> list[ApiRequest]:
        if not self.record_path.exists():
            return []
        lines = self.record_path.read_text().splitlines()
        return [ApiRequest.from_dict(json.loads(line)) for line in lines if line]

    def __enter__(self) -> ApiProcess:
        self.port_file.unlink(missing_ok=True)
        self._process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "hive_dev.fakes.messages_api",
                "--script",
                str(self.script),
                "--port-file",
                str(self.port_file),
                "--record",
                str(self.record_path),
                "--host",
                self.host,
            ],
            cwd=REPO_ROOT,
        )
        deadline = time.monotonic() + 15
        while not self.port_file.exists():
            if self._process.poll() is not None or time.monotonic() > deadline:
                self.__exit__(None, None, None)
                raise RuntimeError("the stand-in Messages API process did not start")
            time.sleep(0.02)
        self.port = int(self.port_file.read_text())
        return self

    def __exit__(self, *exc: object) -> None:
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._process = None


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--script", help="JSON list of replies (see hive_dev.fakes.script)")
    parser.add_argument("--port-file", help="written with the port once listening")
    parser.add_argument("--record", help="append every request here as a JSON line")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--fallback-text", default="ok")
    args = parser.parse_args(argv)
    api = MessagesApi(
        read_script(Path(args.script)) if args.script else [],
        fallback_text=args.fallback_text,
        host=args.host,
        port=args.port,
        record_path=Path(args.record) if args.record else None,
    )
    asyncio.run(serve_until_stopped(api, Path(args.port_file) if args.port_file else None))


if __name__ == "__main__":
    main()
