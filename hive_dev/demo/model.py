"""The demo's stand-in for the Anthropic Messages API (not a language model).

The stand-in server (:mod:`hive_dev.stand_in`) answering with
:mod:`hive_dev.demo.replies`: the real claude CLI talks to it when
``ANTHROPIC_BASE_URL`` points at it (any API key will do). A body that is
not a JSON object gets the API's 400. Deterministic: ids count requests,
nothing is random. Run it with
``python -m hive_dev.demo.model --port-file FILE [--host H] [--port P]``;
the port it listens on is written to FILE once it does.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
from dataclasses import replace
from pathlib import Path

from hive_dev.demo.replies import SEND_TOOL, Conversation, answer, read_request
from hive_dev.stand_in.server import StandInApi, serve_until_stopped
from hive_dev.stand_in.shapes import (
    Answer,
    ApiError,
    ApiRequest,
    Block,
    Usage,
    estimate_tokens,
)

log = logging.getLogger(__name__)

NOT_AN_OBJECT = ApiError(400, "invalid_request_error", "the body must be a JSON object")


def polite_answer(request: ApiRequest) -> Answer:
    """The demo's answerer: :func:`hive_dev.demo.replies.answer`, with token counts."""
    if not isinstance(request.body, dict):
        return Answer(error=NOT_AN_OBJECT)
    conversation = read_request(request)
    reply = answer(conversation, lambda n: f"toolu_demo_{request.seq}_{n}")
    _log_answer(conversation, reply)
    usage = Usage(input_tokens=estimate_tokens(json.dumps(request.body).encode()),
                  output_tokens=estimate_tokens(json.dumps(list(reply.content)).encode()))
    return replace(reply, usage=usage)


class DemoModel(StandInApi):
    """The server; ``port`` is known once it serves."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(polite_answer, name="demo", host=host, port=port)


def _log_answer(conversation: Conversation, reply: Answer) -> None:
    calls = [b for b in reply.content if b["type"] == "tool_use"]
    log.info("%s: %s", conversation.name,
             "; ".join(map(describe_call, calls)) if calls else f"text: {reply.text[:120]}")


def describe_call(call: Block) -> str:
    """A log line's words for one tool call: hive sends say to whom, others what they touch."""
    tool_input = call["input"]
    if call["name"] == SEND_TOOL:
        reply = tool_input.get("in_reply_to")
        return f"send to {tool_input['to']}" + (f" (reply to #{reply})" if reply else "")
    about = next((str(tool_input[k]) for k in ("file_path", "command", "name", "agent")
                  if k in tool_input), "")
    return f"{call['name']} {about[:120]}".rstrip()


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
    asyncio.run(serve_until_stopped(DemoModel(args.host, args.port), args.port_file))


if __name__ == "__main__":
    main()
