"""One frame of the hive's sockets: a JSON object on one line (the protocol: :mod:`hive_c0re.wire`).

Apart from wire's verb tables, so that a client (the harness's, the CLI's, a
stand-in agent's) imports only the little it needs to talk.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any


def encode(message: Mapping[str, Any]) -> bytes:
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False).encode() + b"\n"
