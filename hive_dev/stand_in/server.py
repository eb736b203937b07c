"""The stand-in's HTTP server: the Messages API's routes, answered by an answerer.

It serves ``POST /v1/messages`` with what the answerer says, streamed as
server-sent events when the request says ``stream: true`` and as one JSON
message otherwise; ``POST /v1/messages/count_tokens`` an estimate;
``HEAD``/``GET /`` a 200; anything else the API's 404 error body. Ids count
requests (``req_<name>_<n>``, ``msg_<name>_<n>``): nothing is random.

It says it is a stand-in: every message names ``hyperhive-stand-in`` as its
model (the harness shows "stand-in" and no cost for such turns,
hive_ag3nt/model.py) and every answer carries ``X-Hyperhive-Stand-In: 1``.

``async with`` serves on the running loop, ``with`` from a background thread
(sync tests), :func:`serve_until_stopped` as a program until SIGTERM.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import os
import signal
import threading
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from aiohttp import web

from hive_ag3nt.model import STAND_IN_MODEL
from hive_dev.stand_in.shapes import Answer, ApiError, ApiRequest, estimate_tokens
from hive_dev.stand_in.sse import frame, message_json, sse_events

log = logging.getLogger(__name__)

MAX_REQUEST_BYTES = 64 * 1024 * 1024
STAND_IN_HEADER = "X-Hyperhive-Stand-In"  # on every answer: whoever reads HTTP can tell
# Given a model call, what to answer; see hive_dev.fakes.script and hive_dev.demo.replies.
Answerer = Callable[[ApiRequest], Answer]
Recorder = Callable[[ApiRequest], None]


class StandInApi:
    """The server; ``port`` is known once it serves. ``record`` sees every request."""

    def __init__(self, answerer: Answerer, *, name: str, host: str = "127.0.0.1",
                 port: int = 0, record: Recorder | None = None) -> None:
        self.answerer = answerer
        self.name = name
        self.host = host
        self.port = port
        self._record = record or (lambda request: None)
        self._seq = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    # -- serving on the running loop ------------------------------------------

    async def start_async(self) -> None:
        app = web.Application(client_max_size=MAX_REQUEST_BYTES)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        app.on_response_prepare.append(_mark_stand_in)
        self._runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=0.5,
                                     handler_cancellation=True, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, self.host, self.port).start()
        self.port = self._runner.addresses[0][1]

    async def stop_async(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        await self.start_async()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop_async()

    # -- serving from a thread --------------------------------------------------

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

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    # -- answering ----------------------------------------------------------------

    async def _handle(self, http: web.Request) -> web.StreamResponse:
        raw = await http.read()
        request = ApiRequest(http.method, http.path_qs, dict(http.headers), _body(raw),
                             next(self._seq))
        request_id = f"req_{self.name}_{request.seq}"
        if not request.is_messages:
            self._record(request)
            return _other(http, raw, request_id)
        answer = self.answerer(request)
        self._record(replace(request, reply_index=answer.reply_index, fallback=answer.fallback))
        if answer.delay:
            await asyncio.sleep(answer.delay)
        error = answer.error
        if error is not None and not error.in_stream:
            headers = {**error.response_headers(), "request-id": request_id}
            return web.json_response(error.body(request_id), status=error.status, headers=headers)
        message = message_json(answer, message_id=f"msg_{self.name}_{request.seq}",
                               model=STAND_IN_MODEL)
        if not request.stream:
            return web.json_response(message, headers={"request-id": request_id})
        return await _stream(http, message, error, request_id)


async def _mark_stand_in(http: web.Request, response: web.StreamResponse) -> None:
    response.headers[STAND_IN_HEADER] = "1"


def _body(raw: bytes) -> Any:
    """The request's JSON, or its text when it is not JSON (the answerer judges)."""
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return raw.decode(errors="replace")


def _other(http: web.Request, raw: bytes, request_id: str) -> web.Response:
    if http.method == "POST" and http.path == "/v1/messages/count_tokens":
        return web.json_response({"input_tokens": estimate_tokens(raw)})
    if http.method in ("HEAD", "GET") and http.path == "/":
        return web.Response(status=200)
    error = ApiError(404, "not_found_error", f"Not found: {http.method} {http.path}")
    return web.json_response(error.body(request_id), status=404,
                             headers={"request-id": request_id})


async def _stream(http: web.Request, message: dict[str, Any], error: ApiError | None,
                  request_id: str) -> web.StreamResponse:
    response = web.StreamResponse(headers={
        "Content-Type": "text/event-stream; charset=utf-8",
        "Cache-Control": "no-cache",
        "request-id": request_id,
    })
    await response.prepare(http)
    try:
        for event, data in sse_events(message, error):
            await response.write(frame(event, data))
        await response.write_eof()
    except ConnectionResetError:
        log.info("%s: the client hung up mid-stream", request_id)
    return response


# -- as a program ------------------------------------------------------------------


def write_port(path: Path, port: int) -> None:
    """Atomically: whoever polls for the file never reads half of it."""
    scratch = path.with_name(path.name + ".new")
    scratch.write_text(f"{port}\n")
    os.replace(scratch, path)


async def serve_until_stopped(api: StandInApi, port_file: Path | None) -> None:
    """Serve until SIGTERM or SIGINT; write the port to ``port_file`` once listening."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    async with api:
        if port_file is not None:
            write_port(port_file, api.port)
        log.info("stand-in Messages API (%s) listening on %s", api.name, api.url)
        await stop.wait()
