"""The demo's stand-in for the Anthropic Messages API (not a language model).

A small aiohttp server the real claude CLI talks to when
``ANTHROPIC_BASE_URL`` points at it (any API key will do). It serves

- ``POST /v1/messages``: the answer from :mod:`hive_dev.demo.replies`,
  streamed as server-sent events exactly as the API streams
  (``message_start``, ``ping``, ``content_block_start``/``_delta``/``_stop``
  with ``text_delta`` or ``input_json_delta``, ``message_delta`` with the
  stop reason and usage, ``message_stop``), or as one JSON message when the
  request says ``"stream": false``;
- ``POST /v1/messages/count_tokens``: an estimate (a token per 4 bytes);
- ``HEAD``/``GET /``: 200; anything else the API's 404 error body.

Deterministic: ids count requests, nothing is random. Run it with
``python -m hive_dev.demo.model --port-file FILE [--host H] [--port P]``;
the port it listens on is written to FILE once it does.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import logging
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from aiohttp import web

from hive_dev.demo.replies import Answer, Conversation, answer, read_request

log = logging.getLogger(__name__)

MAX_REQUEST_BYTES = 64 * 1024 * 1024
DELTA_CHARS = 40  # characters per text_delta / input_json_delta
Event = tuple[str, dict[str, Any]]


def estimate_tokens(raw: bytes) -> int:
    return max(1, len(raw) // 4)


def error_body(kind: str, message: str, request_id: str) -> dict[str, Any]:
    """The API's error shape."""
    return {"type": "error", "error": {"type": kind, "message": message},
            "request_id": request_id}


def message_json(reply: Answer, *, message_id: str, model: str, input_tokens: int
                 ) -> dict[str, Any]:
    """The complete message, as a non-streaming answer carries it."""
    return {
        "id": message_id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [dict(block) for block in reply.content],
        "stop_reason": reply.stop_reason,
        "stop_sequence": None,
        "usage": usage(input_tokens, output_tokens(reply)),
    }


def usage(input_tokens: int, output: int) -> dict[str, int]:
    return {"input_tokens": input_tokens, "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0, "output_tokens": output}


def output_tokens(reply: Answer) -> int:
    return estimate_tokens(json.dumps(list(reply.content)).encode())


def stream_events(message: dict[str, Any]) -> Iterator[Event]:
    """The server-sent events that stream ``message``."""
    opening = {**message, "content": [], "stop_reason": None,
               "usage": {**message["usage"], "output_tokens": 1}}
    yield "message_start", {"type": "message_start", "message": opening}
    yield "ping", {"type": "ping"}
    for index, block in enumerate(message["content"]):
        yield from block_events(index, block)
    delta = {"stop_reason": message["stop_reason"], "stop_sequence": None}
    yield "message_delta", {"type": "message_delta", "delta": delta,
                            "usage": {"output_tokens": message["usage"]["output_tokens"]}}
    yield "message_stop", {"type": "message_stop"}


def block_events(index: int, block: dict[str, Any]) -> Iterator[Event]:
    """One content block: its start (empty), its deltas, its stop."""
    if block["type"] == "tool_use":
        start = {"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}
        kind, key, text = "input_json_delta", "partial_json", json.dumps(block["input"])
    else:
        start = {"type": "text", "text": ""}
        kind, key, text = "text_delta", "text", str(block["text"])
    yield "content_block_start", {"type": "content_block_start", "index": index,
                                  "content_block": start}
    for piece in pieces(text):
        yield "content_block_delta", {"type": "content_block_delta", "index": index,
                                      "delta": {"type": kind, key: piece}}
    yield "content_block_stop", {"type": "content_block_stop", "index": index}


def pieces(text: str, size: int = DELTA_CHARS) -> list[str]:
    return [text[i:i + size] for i in range(0, len(text), size)] or [""]


def sse(event: str, data: dict[str, Any]) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data)}\n\n".encode()


class DemoModel:
    """The server; ``port`` is known once :meth:`start` returns."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.port = port
        self._seq = itertools.count(1)
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def app(self) -> web.Application:
        app = web.Application(client_max_size=MAX_REQUEST_BYTES)
        app.router.add_post("/v1/messages", self.messages)
        app.router.add_post("/v1/messages/count_tokens", self.count_tokens)
        app.router.add_route("*", "/{tail:.*}", self.other)
        return app

    async def start(self) -> None:
        self._runner = web.AppRunner(self.app(), handle_signals=False, shutdown_timeout=1.0,
                                     access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, self.host, self.port).start()
        self.port = self._runner.addresses[0][1]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> DemoModel:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # -- handlers -----------------------------------------------------------------

    async def messages(self, http: web.Request) -> web.StreamResponse:
        seq = next(self._seq)
        request_id = f"req_demo_{seq:06d}"
        raw = await http.read()
        body = _json_object(raw)
        if body is None:
            return web.json_response(
                error_body("invalid_request_error", "the body must be a JSON object",
                           request_id), status=400, headers={"request-id": request_id})
        conversation = read_request(body)
        reply = answer(conversation, lambda n: f"toolu_demo_{seq:06d}_{n}")
        _log_answer(conversation, reply)
        message = message_json(reply, message_id=f"msg_demo_{seq:06d}",
                               model=str(body.get("model") or "demo"),
                               input_tokens=estimate_tokens(raw))
        if not body.get("stream"):
            return web.json_response(message, headers={"request-id": request_id})
        return await self._stream(http, message, request_id)

    async def _stream(self, http: web.Request, message: dict[str, Any], request_id: str
                      ) -> web.StreamResponse:
        response = web.StreamResponse(headers={
            "Content-Type": "text/event-stream; charset=utf-8",
            "Cache-Control": "no-cache",
            "request-id": request_id,
        })
        await response.prepare(http)
        try:
            for event, data in stream_events(message):
                await response.write(sse(event, data))
            await response.write_eof()
        except ConnectionResetError:
            log.info("%s: the client hung up mid-stream", request_id)
        return response

    async def count_tokens(self, http: web.Request) -> web.Response:
        return web.json_response({"input_tokens": estimate_tokens(await http.read())})

    async def other(self, http: web.Request) -> web.StreamResponse:
        if http.method in ("HEAD", "GET") and http.path == "/":
            return web.Response(status=200)
        request_id = f"req_demo_{next(self._seq):06d}"
        body = error_body("not_found_error", f"Not found: {http.method} {http.path}",
                          request_id)
        return web.json_response(body, status=404, headers={"request-id": request_id})


def _json_object(raw: bytes) -> dict[str, Any] | None:
    try:
        body = json.loads(raw)
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def _log_answer(conversation: Conversation, reply: Answer) -> None:
    calls = [b for b in reply.content if b["type"] == "tool_use"]
    sent = ", ".join(f"to {c['input']['to']} (reply to #{c['input']['in_reply_to']})"
                     for c in calls)
    log.info("%s: %s", conversation.name,
             f"send {sent}" if calls else f"text: {reply.text[:120]}")


# -- as a program ---------------------------------------------------------------


def write_port(path: Path, port: int) -> None:
    """Atomically: whoever polls for the file never reads half of it."""
    scratch = path.with_name(path.name + ".new")
    scratch.write_text(f"{port}\n")
    scratch.replace(path)


async def serve(host: str, port: int, port_file: Path | None) -> None:
    """Serve until SIGTERM or SIGINT."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    async with DemoModel(host, port) as model:
        if port_file is not None:
            write_port(port_file, model.port)
        log.info("demo model listening on %s", model.url)
        await stop.wait()


def main(argv: list[str] | None = None) -> None:
    from hive_c0re import logs

    parser = argparse.ArgumentParser(
        prog="python -m hive_dev.demo.model",
        description="The hyperhive demo's stand-in model: a deterministic Messages API server.")
    parser.add_argument("--port-file", type=Path,
                        help="written with the port once the server listens")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    args = parser.parse_args(argv)
    logs.setup("hyperhive-demo-model")
    asyncio.run(serve(args.host, args.port, args.port_file))


if __name__ == "__main__":
    main()
