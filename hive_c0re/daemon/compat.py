"""The original hyperhive's host.sock requests, in its shapes, beside our own verbs.

Its clients (its CLI, desktop and status-bar plugins, scripts) send ``list``,
``start``/``stop`` with a ``scope``, ``kill`` and ``urls``; where one of its
names collides with ours, its shape wins and ours moves (``list`` → ``agents``).
``hyperhive(7)`` COMPATIBILITY WITH THE ORIGINAL'S CLIENTS is the contract.
"""

from __future__ import annotations

from typing import Any

from hive_c0re import wire
from hive_c0re.broker.records import Desired
from hive_c0re.daemon.handlers import _agent_view, _manager_view, _target, handles
from hive_c0re.daemon.hive import Hive
from hive_c0re.daemon.sockets import Caller
from hive_c0re.errors import HiveError, InvalidInput
from hive_c0re.names import MANAGER


@handles("list")
async def list_names(hive: Hive, caller: Caller, args: dict[str, Any]) -> dict[str, Any]:
    # A destroyed agent's container is gone (only its state is kept): not listed, as there.
    return wire.ok(agents=[a.name for a in hive.store.agents()
                           if a.desired is not Desired.DESTROYED])


@handles("agents")
async def agents(hive: Hive, caller: Caller, args: dict[str, Any]) -> dict[str, Any]:
    return wire.ok(agents=[_agent_view(hive, a) for a in hive.store.agents()])


@handles("urls")
async def urls(hive: Hive, caller: Caller, args: dict[str, Any]) -> dict[str, Any]:
    return wire.ok(urls={"home": hive.settings.dashboard_url or None})


@handles("start")
async def start(hive: Hive, caller: Caller, args: dict[str, Any]) -> dict[str, Any]:
    return await _named_or_scoped(hive, caller, "start", args)


@handles("stop")
async def stop(hive: Hive, caller: Caller, args: dict[str, Any]) -> dict[str, Any]:
    return await _named_or_scoped(hive, caller, "stop", args)


@handles("kill")
async def kill(hive: Hive, caller: Caller, args: dict[str, Any]) -> dict[str, Any]:
    return wire.ok(agent=await _act(hive, caller, "stop", args["name"], graceful=False))


async def _named_or_scoped(hive: Hive, caller: Caller, verb: str,
                           args: dict[str, Any]) -> dict[str, Any]:
    graceful = bool(args.get("graceful", False))
    if ("name" in args) == ("scope" in args):
        raise InvalidInput(f"{verb} needs either name or scope, not both, not neither",
                           hint=f'{{"cmd": "{verb}", "name": "alice"}} or '
                                f'{{"cmd": "{verb}", "scope": {{"agent_names": ["alice"]}}}}')
    if "name" in args:
        return wire.ok(agent=await _act(hive, caller, verb, args["name"], graceful=graceful))
    names = _scope_names(hive, caller, verb, args["scope"]["agent_names"])
    results = [await _outcome(hive, caller, verb, name, graceful) for name in names]
    failed = [r["name"] for r in results if not r["ok"]]
    if not failed:
        return wire.ok(results=results)
    # ok is false unless every agent of the scope was done; each row says which and why.
    answer = wire.failure(HiveError(f"{verb} failed for {', '.join(failed)}",
                                    hint="each of results says what happened to one agent"))
    return {**answer, "results": results}


def _scope_names(hive: Hive, caller: Caller, verb: str, names: list[str]) -> list[str]:
    """The scope's agents, each once, all checked before any is touched."""
    if not names:
        # The original read an empty scope as "every agent"; here it is refused, never that.
        raise InvalidInput(f"{verb}.scope.agent_names is empty: name the agents",
                           hint="`hive-c0re list` names them")
    unique = list(dict.fromkeys(names))
    for name in unique:
        if _target(caller, name, verb) != MANAGER:
            hive.store.agent(name)  # raises NotFound naming it
    return unique


async def _outcome(hive: Hive, caller: Caller, verb: str, name: str,
                   graceful: bool) -> dict[str, Any]:
    try:
        return {"name": name, "ok": True,
                "agent": await _act(hive, caller, verb, name, graceful=graceful)}
    except HiveError as exc:
        return {"name": name, "ok": False, "error": exc.message, "code": exc.code}


async def _act(hive: Hive, caller: Caller, verb: str, name: str, *,
               graceful: bool) -> dict[str, Any]:
    """Start or stop one agent (or the manager, from the host); its view afterwards."""
    target = _target(caller, name, verb)
    lifecycle = hive.containers.lifecycle
    if verb == "stop" and graceful:
        # The running turn ends (and acks) first; nothing new is leased meanwhile.
        await hive.containers.graceful_stop(target)
    else:
        await getattr(lifecycle, verb)(target)
    hive.report_status()
    if target == MANAGER:
        return await _manager_view(hive)
    return _agent_view(hive, hive.store.agent(target))

