"""The dashboard's login verbs and the operator's way into an agent's UI, all host.sock only.

Gathered into :data:`hive_c0re.wire.VERBS` with the rest; declared here to keep
``wire.py`` readable. Codes and tokens are opaque ``secrets.token_urlsafe`` strings.
"""

from __future__ import annotations

from hive_c0re.wire_fields import HOST, Field, Verb

MAX_SECRET_FIELD = 128  # a code or a token: far longer than any this hive makes
MAX_USER_AGENT_FIELD = 2000  # what a browser may send; the store keeps the first 400

_SESSION = "{id, created_at, last_seen, user_agent}"

AUTH_VERBS: tuple[Verb, ...] = (
    Verb("dashboard_code", HOST, "a one-time dashboard login code: works once, for 60 s",
         answer={"code": "the code, for <dashboard>/login?code=<code>",
                 "expires_at": "when it stops working (RFC 3339)"}),
    Verb("dashboard_redeem", HOST, "swap a login code for a dashboard session; a used, "
         "expired or unknown code is refused, with one message for all three", (
             Field("code", "string", "the code from dashboard_code", required=True,
                   max_length=MAX_SECRET_FIELD),
             Field("user_agent", "string", "the browser's User-Agent, kept to list the session",
                   max_length=MAX_USER_AGENT_FIELD),
         ), answer={"session": "{id, token, csrf, created_at}: token is the cookie's value "
                               "(shown only here), csrf the token its forms carry"}),
    Verb("dashboard_session", HOST, "the live session whose cookie holds token; refused "
         "(not_found) once it is logged out or expired", (
             Field("token", "string", "the session's token", required=True,
                   max_length=MAX_SECRET_FIELD),
         ), answer={"session": "{id, csrf, created_at, last_seen} (last_seen moves at most "
                               "every 30 s)"}),
    Verb("dashboard_sessions", HOST, "the live dashboard sessions, oldest first",
         answer={"sessions": f"list of {_SESSION}"}),
    Verb("dashboard_logout", HOST, "end one dashboard session (id) or every one (all); "
         "records a dashboard_logout event naming them, which ends their open streams", (
             Field("id", "integer", "the session's id", minimum=1, maximum=2**63 - 1),
             Field("all", "boolean", "every session"),
         ), answer={"revoked": "the ids of the sessions ended"}),
    Verb("agent_ui", HOST, "open agent name's (or the manager's) own web UI: the first answer, "
         "then the connection carries raw bytes to and from its ui.sock (speak HTTP/1.1 or "
         "WebSocket with the secret in X-Hive-UI-Secret) until either end closes", (
             Field("name", "string", "an agent, or 'manager'", required=True, max_length=64),
         ), answer={"secret": "the UI's secret, for the X-Hive-UI-Secret header",
                    "socket": "the UI's socket on the host (for root's own tools)"}),
)
