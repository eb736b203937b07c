"""systemd's D-Bus names, and the two conversions every pystemd caller here needs.

Shared by the unit jobs (lifecycle) and the crash watch's unit reads (daemon).
pystemd is imported inside :func:`unit_path`: importing this module costs nothing.
"""

from __future__ import annotations

from typing import Any

SYSTEMD = b"org.freedesktop.systemd1"
SYSTEMD_PATH = b"/org/freedesktop/systemd1"
MANAGER = b"org.freedesktop.systemd1.Manager"
UNIT_IFACE = b"org.freedesktop.systemd1.Unit"
SERVICE_IFACE = b"org.freedesktop.systemd1.Service"
PROPERTIES = b"org.freedesktop.DBus.Properties"
UNIT_PATH_PREFIX = b"/org/freedesktop/systemd1/unit"


def unit_path(unit: str) -> bytes:
    """The object path of ``unit``: ``a.service`` is ``.../unit/a_2eservice``."""
    from pystemd.dbuslib import path_encode

    return bytes(path_encode(UNIT_PATH_PREFIX, unit.encode()))


def text(value: Any) -> str:
    """A D-Bus string as pystemd hands it back (bytes or str) as str."""
    return value.decode() if isinstance(value, bytes) else str(value)
