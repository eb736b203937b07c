"""Where the egress forwards the model's API: the operator's choice, checked."""

from __future__ import annotations

from hive_c0re.errors import InvalidInput

DEFAULT_UPSTREAM = "https://api.anthropic.com"


def checked_upstream(url: str) -> str:
    """The model API's base URL from the agent environment file, if it is one."""
    if not url.startswith(("http://", "https://")) or any(c.isspace() for c in url):
        raise InvalidInput(f"ANTHROPIC_BASE_URL {url!r} is not an http(s) URL",
                           hint="set it in agent_env_file like https://api.anthropic.com")
    return url
