"""What the dashboard is told at start, and the keys its parts find each other by."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from hive_c0re.dashboard.hive import HiveClient


@dataclass(frozen=True)
class DashboardConfig:
    # Host names (without port) a request may name besides localhost's.
    allowed_hosts: tuple[str, ...] = ()
    # Where the operator's browser reaches the dashboard, for the login URL.
    public_url: str = "http://127.0.0.1:7000"
    # Mark the session cookie Secure even on plain HTTP (behind a TLS proxy).
    secure_cookies: bool = False


HIVE = web.AppKey("hive", HiveClient)
CONFIG = web.AppKey("config", DashboardConfig)
