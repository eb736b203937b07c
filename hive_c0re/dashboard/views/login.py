"""The way in and out: a one-time code becomes a session cookie; logout revokes it.

The code comes from ``hive-c0re dashboard login``, which only root may run.
It is redeemed once and the browser is sent on at once, so the code leaves
the address bar (and the history) as soon as it has done its work.
"""

from __future__ import annotations

import contextlib

import aiohttp_jinja2
from aiohttp import web

from hive_c0re.dashboard import security
from hive_c0re.dashboard.config import CONFIG, HIVE
from hive_c0re.errors import InvalidInput, NotFound, Unreachable
from hive_c0re.wire_auth import MAX_SECRET_FIELD

MAX_USER_AGENT = 400  # what the store keeps of it


def page(request: web.Request, problem: str | None, status: int) -> web.Response:
    return aiohttp_jinja2.render_template("login.html", request, {"problem": problem},
                                          status=status)


async def login(request: web.Request) -> web.StreamResponse:
    code = request.query.get("code")
    if code is None:
        return page(request, None, 200)
    if request.headers.get("Sec-Fetch-Site") == "cross-site":
        # A code followed from another site's page: someone else's code, planted.
        return page(request, "that login link was opened from another site's page", 403)
    if not code or len(code) > MAX_SECRET_FIELD:
        return page(request, "that is not a login code", 403)
    try:
        answer = await request.app[HIVE].call(
            "dashboard_redeem", code=code,
            user_agent=request.headers.get("User-Agent", "")[:MAX_USER_AGENT])
    except (InvalidInput, NotFound) as error:
        return page(request, error.message, 403)
    except Unreachable as error:
        return page(request, error.message, 503)
    response = web.HTTPSeeOther("/")
    response.set_cookie(security.SESSION_COOKIE, str(answer["session"]["token"]),
                        httponly=True, samesite="Strict", path="/",
                        secure=request.secure or request.app[CONFIG].secure_cookies)
    return response


async def logout(request: web.Request) -> web.StreamResponse:
    # Revoked meanwhile (by the CLI, or another tab): out is out.
    with contextlib.suppress(NotFound):
        await request.app[HIVE].call("dashboard_logout", id=request["session"]["id"])
    response = web.HTTPSeeOther("/login")
    response.del_cookie(security.SESSION_COOKIE, path="/")
    return response


def setup(app: web.Application) -> None:
    app.router.add_get("/login", login, name="login")
    app.router.add_post("/logout", logout, name="logout")
