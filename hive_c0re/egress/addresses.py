"""Which addresses an agent may reach through the CONNECT proxy: public ones only."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class Refused(Exception):
    """A destination the proxy will not connect to; the message says why."""


def is_public(address: Address) -> bool:
    """Globally routable, not multicast, and not one of this host's own addresses."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return is_public(address.ipv4_mapped)
    if not address.is_global or address.is_multicast:
        return False
    return not is_local(address)


def is_local(address: Address) -> bool:
    """True when the kernel would deliver to ``address`` on this host.

    A UDP ``connect`` only looks the route up (no packet leaves): for one of
    the host's own addresses the route is local and the chosen source is the
    address itself. An address with no route at all counts as local: it is
    refused either way.
    """
    family = socket.AF_INET6 if address.version == 6 else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect((str(address), 9))
        except OSError:
            return True
        source = probe.getsockname()[0]
    with contextlib.suppress(ValueError):
        return ipaddress.ip_address(source.split("%", 1)[0]) == address
    return True


async def resolve_public(host: str, port: int) -> list[str]:
    """The addresses ``host`` resolves to, if every one of them is public; raise Refused if not.

    All of them, not just the first: a name that also points inside is a
    name someone aimed at the host.
    """
    loop = asyncio.get_running_loop()
    try:
        found = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise Refused(f"cannot resolve {host}: {exc}") from None
    addresses: list[str] = []
    for *_, sockaddr in found:
        text = str(sockaddr[0])
        address = ipaddress.ip_address(text.split("%", 1)[0])
        if not is_public(address):
            raise Refused(f"{host} is {address}, not a public address")
        if text not in addresses:
            addresses.append(text)
    if not addresses:
        raise Refused(f"{host} has no address")
    return addresses
