"""The SDK's stream-json control protocol, as the fake claude CLI speaks it on stdin/stdout.

One task reads stdin and only dispatches: `user` messages queue in `inbox`
(None once stdin closes), `control_response`s settle the `request` waiting
for them, `control_request`s are answered by `answer`, each in its own task,
and whatever it raises is sent back as the refusal.
"""

from __future__ import annotations

import asyncio
import json
import sys
import uuid
from typing import Any

from hive_dev.fakes.fake_tools import ControlError


class StreamJson:
    """The wire of one CLI process; `answer` is what its control requests do."""

    def __init__(self, session_id: str, report_state: bool) -> None:
        self.session_id = session_id
        self.report_state = report_state
        self.pending: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self.inbox: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        self.tasks: set[asyncio.Task[None]] = set()
        self.stdin_closed = False

    async def answer(self, request_id: str, request: dict[str, Any]) -> None:
        raise NotImplementedError

    def emit(self, message: dict[str, Any]) -> None:
        sys.stdout.write(json.dumps(message) + "\n")
        sys.stdout.flush()

    def frame(self, kind: str, **fields: Any) -> dict[str, Any]:
        return {"type": kind, **fields, "session_id": self.session_id, "uuid": str(uuid.uuid4())}

    def state(self, state: str) -> None:
        if self.report_state:
            frame = self.frame("system", subtype="session_state_changed", state=state)
            self.emit({**frame, "sdk_host_only": True})

    async def request(self, subtype: str, **fields: Any) -> dict[str, Any]:
        """Send a control request to the SDK and wait for its answer."""
        if self.stdin_closed:
            raise ControlError("Stream closed")
        request_id = str(uuid.uuid4())
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.pending[request_id] = future
        request = {"subtype": subtype, **fields}
        self.emit({"type": "control_request", "request_id": request_id, "request": request})
        try:
            return await future
        finally:
            self.pending.pop(request_id, None)

    def respond(self, request_id: str, response: dict[str, Any] | None = None) -> None:
        body = {"subtype": "success", "request_id": request_id, "response": response or {}}
        self.emit({"type": "control_response", "response": body})

    def refuse(self, request_id: str, error: str) -> None:
        body = {"subtype": "error", "request_id": request_id, "error": error}
        self.emit({"type": "control_response", "response": body})

    async def read_stdin(self) -> None:
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader(limit=1 << 26)
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
        while line := await reader.readline():
            if line.strip():
                self.dispatch(json.loads(line))
        self.stdin_closed = True
        for future in self.pending.values():
            if not future.done():
                future.set_exception(ControlError("Stream closed"))
        self.inbox.put_nowait(None)

    def dispatch(self, message: dict[str, Any]) -> None:
        kind = message.get("type")
        if kind == "user":
            self.inbox.put_nowait(message)
        elif kind == "control_response":
            response = message.get("response", {})
            future = self.pending.get(response.get("request_id", ""))
            if future is None or future.done():
                return
            if response.get("subtype") == "error":
                future.set_exception(ControlError(str(response.get("error"))))
            else:
                future.set_result(response.get("response") or {})
        elif kind == "control_request":
            task = asyncio.create_task(self._answer(message["request_id"], message["request"]))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

    async def _answer(self, request_id: str, request: dict[str, Any]) -> None:
        try:
            await self.answer(request_id, request)
        except Exception as e:
            self.refuse(request_id, f"{type(e).__name__}: {e}")
