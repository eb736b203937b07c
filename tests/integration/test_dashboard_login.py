"""The dashboard's login: a one-time code from the daemon becomes a session cookie,
through a real dashboard process over a real daemon."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from hive_c0re.dashboard.security import CSP
from hive_dev.dashboard import Dashboard, running_dashboard

COOKIE = "hive_session"


@pytest.fixture(scope="module")
def dash() -> Iterator[Dashboard]:
    with running_dashboard() as dashboard:
        yield dashboard


def test_a_fresh_code_logs_in_and_leaves_the_address_bar(dash: Dashboard) -> None:
    web = dash.session()
    answer = web.get(f"/login?code={dash.code()}")
    assert answer.status == 303 and answer.header("Location") == "/"
    cookie = answer.header("Set-Cookie") or ""
    assert cookie.startswith(f"{COOKIE}=")
    for flag in ("HttpOnly", "SameSite=Strict", "Path=/"):
        assert flag in cookie, cookie
    # Plain HTTP on loopback: a Secure cookie would never come back.
    assert "Secure" not in cookie
    assert answer.header("Content-Security-Policy") == CSP
    assert answer.header("Cache-Control") == "no-store"
    token = web.cookies[COOKIE]
    assert dash.call("dashboard_session", token=token)["session"]["id"] >= 1
    assert not web.get("/").header("Location")  # in: no way back to /login


def test_a_code_works_once(dash: Dashboard) -> None:
    code = dash.code()
    assert dash.session().get(f"/login?code={code}").status == 303
    again = dash.session()
    answer = again.get(f"/login?code={code}")
    assert answer.status == 403
    assert "not valid" in answer.text and "hive-c0re dashboard login" in answer.text
    assert COOKIE not in again.cookies


@pytest.mark.parametrize("code", ["forged", "A" * 43, "x" * 129, "<script>alert(1)</script>"])
def test_a_forged_code_is_refused_and_shown_as_text(dash: Dashboard, code: str) -> None:
    web = dash.session()
    answer = web.get(f"/login?code={code}")
    assert answer.status == 403, answer.text
    assert "hive-c0re dashboard login" in answer.text
    assert "<script>" not in answer.text
    assert COOKIE not in web.cookies


def test_an_empty_code_is_refused(dash: Dashboard) -> None:
    answer = dash.session().get("/login?code=")
    assert answer.status == 403 and "not a login code" in answer.text


def test_a_code_followed_from_another_site_is_refused_and_stays_unused(dash: Dashboard) -> None:
    code = dash.code()
    planted = dash.session().get(f"/login?code={code}", headers={"Sec-Fetch-Site": "cross-site"})
    assert planted.status == 403 and "another site" in planted.text
    assert dash.session().get(f"/login?code={code}").status == 303


def test_the_login_page_tells_what_to_run(dash: Dashboard) -> None:
    answer = dash.session().get("/login")
    assert answer.status == 200
    assert "hive-c0re dashboard login" in answer.text
    assert answer.header("Content-Security-Policy") == CSP


def test_without_a_session_a_page_redirects_to_login_and_the_rest_is_401(
        dash: Dashboard) -> None:
    web = dash.session()
    assert web.get("/").status == 303 and web.get("/").header("Location") == "/login"
    assert web.get("/", headers={"HX-Request": "true"}).status == 401
    assert web.get("/fragments/agents").status == 401
    assert web.get("/live").status == 401
    assert web.post("/logout", csrf=False).status == 401
    web.cookies[COOKIE] = "not-a-session"
    assert web.get("/").header("Location") == "/login"


def test_a_revoked_session_is_refused_at_once(dash: Dashboard) -> None:
    web = dash.login()
    session = dash.call("dashboard_session", token=web.cookies[COOKIE])["session"]
    assert not web.get("/").header("Location")
    dash.call("dashboard_logout", id=session["id"])
    assert web.get("/").header("Location") == "/login"
    assert web.get("/fragments/agents").status == 401


def test_logout_revokes_this_session_only(dash: Dashboard) -> None:
    web, other = dash.login(), dash.login()
    token = web.cookies[COOKIE]
    answer = web.post("/logout")
    assert answer.status == 303 and answer.header("Location") == "/login"
    assert COOKIE not in web.cookies
    assert other.get("/").header("Location") is None
    # The cookie kept by a browser that ignored the deletion opens nothing.
    stale = dash.session()
    stale.cookies[COOKIE] = token
    assert stale.get("/").header("Location") == "/login"


def test_logout_needs_the_csrf_token(dash: Dashboard) -> None:
    web = dash.login()
    assert web.post("/logout", csrf=False).status == 403
    assert web.post("/logout", {"csrf": "wrong"}).status == 403
    assert web.get("/").header("Location") is None  # still in


def test_an_expired_code_is_refused() -> None:
    with running_dashboard() as fresh:
        code = fresh.code()
        # A code lasts 60 s of the daemon's own clock, which no test can move: wait it out.
        time.sleep(61)
        answer = fresh.session().get(f"/login?code={code}")
        assert answer.status == 403 and "not valid" in answer.text
