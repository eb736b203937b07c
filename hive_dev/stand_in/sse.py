"""How an answer goes over the wire: one JSON message, or server-sent events.

The events come in the API's order: ``message_start`` (no content yet),
``ping``, per content block ``content_block_start`` (empty), its
``content_block_delta``s (``text_delta`` or ``input_json_delta``) and
``content_block_stop``, then ``message_delta`` with the stop reason and the
output tokens, and ``message_stop``. An error in the stream comes right after
the ``ping``, as the API reports overload mid-stream.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from hive_dev.stand_in.shapes import Answer, ApiError, Block

Event = tuple[str, dict[str, Any]]
# Deltas per block: more than one, so a client must put the pieces back together.
PIECES = 3


def message_json(answer: Answer, *, message_id: str, model: str) -> dict[str, Any]:
    """The complete message, as a non-streaming answer carries it."""
    return {
        "id": message_id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [dict(block) for block in answer.content],
        "stop_reason": answer.stop_reason,
        "stop_sequence": None,
        "usage": answer.usage.to_dict(),
    }


def sse_events(message: dict[str, Any], error: ApiError | None = None) -> Iterator[Event]:
    """The server-sent events that stream ``message`` (or, after its start, ``error``)."""
    usage = message["usage"]
    opening = {**message, "content": [], "stop_reason": None,
               "usage": {**usage, "output_tokens": 1}}
    yield "message_start", {"type": "message_start", "message": opening}
    yield "ping", {"type": "ping"}
    if error is not None:
        yield "error", {"type": "error", "error": {"type": error.type, "message": error.message}}
        return
    for index, block in enumerate(message["content"]):
        yield from block_events(index, block)
    delta = {"stop_reason": message["stop_reason"], "stop_sequence": None}
    yield "message_delta", {"type": "message_delta", "delta": delta,
                            "usage": {"output_tokens": usage["output_tokens"]}}
    yield "message_stop", {"type": "message_stop"}


def block_events(index: int, block: Block) -> Iterator[Event]:
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


def pieces(text: str, count: int = PIECES) -> list[str]:
    size = max(1, -(-len(text) // count))
    return [text[i:i + size] for i in range(0, len(text), size)] or [""]


def frame(event: str, data: dict[str, Any]) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data)}\n\n".encode()
