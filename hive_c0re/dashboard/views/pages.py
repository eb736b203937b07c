"""A page or a fragment made of what the hive answers, or its refusal in their place.

A read the daemon refuses (it is gone, a verb it does not know yet) is shown
as the daemon worded it, never as a server error.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp_jinja2
from aiohttp import web

from hive_c0re.dashboard.views.common import refused
from hive_c0re.errors import HiveError

Loader = Callable[[web.Request], Awaitable[dict[str, Any]]]


async def render(request: web.Request, template: str, *loaders: Loader,
                 back: str = "/") -> web.Response:
    """``template`` with the context every loader gives, merged in order."""
    context: dict[str, Any] = {}
    try:
        for loader in loaders:
            context.update(await loader(request))
    except HiveError as error:
        return refused(request, error, back)
    return aiohttp_jinja2.render_template(template, request, context)


def view(template: str, *loaders: Loader, back: str = "/"
         ) -> Callable[[web.Request], Awaitable[web.Response]]:
    """A GET handler rendering ``template`` from ``loaders``."""
    async def handler(request: web.Request) -> web.Response:
        return await render(request, template, *loaders, back=back)
    return handler
