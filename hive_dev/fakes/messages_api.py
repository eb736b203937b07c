"""A scripted local stand-in for the Anthropic Messages API.

The real claude CLI talks to it when `ANTHROPIC_BASE_URL` points here
(`MessagesApi.cli_env` gives the whole environment). It answers
`POST /v1/messages` from a `Script` of `Reply`s, streaming SSE exactly as the
API does when the request says `stream: true` and plain JSON otherwise, and
records every request it sees, answered or not (`requests`, `model_calls`).

A model call takes the first unused reply whose `Match` holds; a reply
without one answers the conversation itself, never a side request such as a
compaction summary. When none holds, the fallback text "ok" answers and the
record says `fallback=True`. `count_tokens` gets an estimate, `HEAD`/`GET /`
a 200, anything else the API's 404 error body.

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
import contextlib
import itertools
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from types import TracebackType
from typing import Any

from aiohttp import web

from hive_dev.fakes.script import ApiError, ApiRequest, Reply, Script, Usage, read_script

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


class MessagesApi:
    """The stand-in server; `requests` lists what it saw, oldest first."""

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
        self.host = host
        self.port = port
        self.record_path = record_path
        self._requests: list[ApiRequest] = []
        self._lock = threading.Lock()
        self._seq = itertools.count(1)
        self._tool_ids = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

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

    # -- serving --------------------------------------------------------------

    async def start_async(self) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(
            app,
            handle_signals=False,
            shutdown_timeout=0.5,
            handler_cancellation=True,
            access_log=None,
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = self._runner.addresses[0][1]

    async def stop_async(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> MessagesApi:
        await self.start_async()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop_async()

    def start(self) -> None:
        """Serve from a background thread with its own event loop."""
        loop = asyncio.new_event_loop()
        self._loop = loop
        self._thread = threading.Thread(target=loop.run_forever, name="messages-api", daemon=True)
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self.start_async(), loop).result(timeout=10)

    def stop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        asyncio.run_coroutine_threadsafe(self.stop_async(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()
        self._loop = self._thread = None

    def __enter__(self) -> MessagesApi:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- answering ------------------------------------------------------------

    async def _handle(self, http: web.Request) -> web.StreamResponse:
        raw = await http.read()
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode(errors="replace")
        request = ApiRequest(http.method, http.path_qs, dict(http.headers), body, next(self._seq))
        if request.is_messages:
            index, reply = self.script.take(request)
            request = ApiRequest(
                request.method,
                request.path,
                request.headers,
                request.body,
                request.seq,
                reply_index=index,
                fallback=index is None,
            )
            self._record(request)
            return await self._answer(http, request, reply)
        self._record(request)
        path = http.path
        if http.method == "POST" and path == "/v1/messages/count_tokens":
            return web.json_response({"input_tokens": max(1, len(raw) // 4)})
        if http.method in ("HEAD", "GET") and path == "/":
            return web.Response(status=200)
        error = ApiError(404, "not_found_error", f"Not found: {http.method} {path}")
        return web.json_response(error.body(f"req_fake_{request.seq}"), status=404)

    def _record(self, request: ApiRequest) -> None:
        with self._lock:
            self._requests.append(request)
            if self.record_path is not None:
                with self.record_path.open("a") as f:
                    f.write(json.dumps(request.to_dict()) + "\n")

    async def _answer(
        self, http: web.Request, request: ApiRequest, reply: Reply
    ) -> web.StreamResponse:
        request_id = f"req_fake_{request.seq}"
        if reply.delay:
            await asyncio.sleep(reply.delay)
        error = reply.error
        if error is not None and not error.in_stream:
            headers = {**error.response_headers(), "request-id": request_id}
            return web.json_response(error.body(request_id), status=error.status, headers=headers)
        message = {
            "id": f"msg_fake_{request.seq}",
            "type": "message",
            "role": "assistant",
            "model": request.model,
            "content": reply.content(lambda: f"toolu_fake_{next(self._tool_ids)}"),
            "stop_reason": reply.stop_reason,
            "stop_sequence": None,
            "usage": reply.usage.to_dict(),
        }
        if not request.stream:
            return web.json_response(message, headers={"request-id": request_id})
        response = web.StreamResponse(
            headers={
                "Content-Type": "text/event-stream; charset=utf-8",
                "Cache-Control": "no-cache",
                "request-id": request_id,
            }
        )
        await response.prepare(http)
        with contextlib.suppress(ConnectionResetError):
            for event, data in sse_events(message, reply.usage, error):
                await response.write(f"event: {event}\ndata: {json.dumps(data)}\n\n".encode())
            await response.write_eof()
        return response


def sse_events(
    message: dict[str, Any],
    usage: Usage,
    error: ApiError | None = None,
) -> Iterator[tuple[str, dict[str, Any]]]:
    """The SSE events that stream `message`, as the Messages API sends them."""
    start = {
        **message,
        "content": [],
        "stop_reason": None,
        "usage": {**usage.to_dict(), "output_tokens": 1},
    }
    yield "message_start", {"type": "message_start", "message": start}
    yield "ping", {"type": "ping"}
    if error is not None:
        yield "error", {"type": "error", "error": {"type": error.type, "message": error.message}}
        return
    for index, block in enumerate(message["content"]):
        yield from _block_events(index, block)
    yield (
        "message_delta",
        {
            "type": "message_delta",
            "delta": {"stop_reason": message["stop_reason"], "stop_sequence": None},
            "usage": {"output_tokens": usage.output_tokens},
        },
    )
    yield "message_stop", {"type": "message_stop"}


def _block_events(index: int, block: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    if block["type"] == "text":
        yield (
            "content_block_start",
            {
                "type": "content_block_start",
                "index": index,
                "content_block": {"type": "text", "text": ""},
            },
        )
        for piece in _pieces(block["text"]):
            yield (
                "content_block_delta",
                {
                    "type": "content_block_delta",
                    "index": index,
                    "delta": {"type": "text_delta", "text": piece},
                },
            )
    else:
        yield (
            "content_block_start",
            {
                "type": "content_block_start",
                "index": index,
                "content_block": {
                    "type": "tool_use",
                    "id": block["id"],
                    "name": block["name"],
                    "input": {},
                },
            },
        )
        for piece in _pieces(json.dumps(block["input"])):
            yield (
                "content_block_delta",
                {
                    "type": "content_block_delta",
                    "index": index,
                    "delta": {"type": "input_json_delta", "partial_json": piece},
                },
            )
    yield "content_block_stop", {"type": "content_block_stop", "index": index}


def _pieces(text: str, count: int = 3) -> list[str]:
    size = max(1, -(-len(text) // count))
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


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


async def _serve(args: argparse.Namespace) -> None:
    replies = read_script(Path(args.script)) if args.script else []
    record = Path(args.record) if args.record else None
    api = MessagesApi(
        replies,
        fallback_text=args.fallback_text,
        host=args.host,
        port=args.port,
        record_path=record,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    async with api:
        if args.port_file:
            _write_port(Path(args.port_file), api.port)
        await stop.wait()


def _write_port(path: Path, port: int) -> None:
    """Write atomically: whoever polls for the file never reads it half-written."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(str(port))
    os.replace(tmp, path)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--script", help="JSON list of replies (see hive_dev.fakes.script)")
    parser.add_argument("--port-file", help="written with the port once listening")
    parser.add_argument("--record", help="append every request here as a JSON line")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--fallback-text", default="ok")
    asyncio.run(_serve(parser.parse_args(argv)))


if __name__ == "__main__":
    main()
