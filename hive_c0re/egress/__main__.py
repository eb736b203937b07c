"""``python -m hive_c0re.egress``: the egress process ``hive-c0re`` starts and watches.

It is handed its two listening sockets as inherited file descriptors, loads
everything it will need, and then, when started as root, gives up root for
``nobody`` before it reads a byte from a container. Python may live where
``nobody`` cannot read (a pyenv under ``/root``), so what the standard
library imports lazily is imported here first.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures.thread
import ctypes
import encodings.ascii  # codecs are imported on first use
import encodings.idna
import encodings.latin_1  # noqa: F401
import logging
import os
import resource
import signal
import socket
import ssl

from hive_c0re import logs
from hive_c0re.egress.api import ApiForwarder
from hive_c0re.egress.peers import Peers
from hive_c0re.egress.tunnel import Tunnels

log = logging.getLogger("hive_c0re.egress")

NOBODY = 65534
_PR_SET_PDEATHSIG = 1
_PR_SET_NO_NEW_PRIVS = 38


def _prctl(option: int, value: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(option, value, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), f"prctl({option}) failed")


def drop_privileges() -> None:
    """End with the daemon, never gain privileges again, and stop being root."""
    _prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    _prctl(_PR_SET_NO_NEW_PRIVS, 1)
    if os.geteuid() == 0:
        os.setgroups([])
        os.setgid(NOBODY)
        os.setuid(NOBODY)


def raise_fd_limit() -> None:
    """Every agent may hold its share of tunnels, each two descriptors: take the hard limit."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def _listening(fd: int) -> socket.socket:
    sock = socket.socket(fileno=fd)
    sock.setblocking(False)
    return sock


async def serve(args: argparse.Namespace) -> None:
    peers = Peers(first_uid=args.first_uid)
    api = ApiForwarder(args.upstream, peers, ssl.create_default_context())
    tunnels = Tunnels(peers)
    api_sock, proxy_sock = _listening(args.api_fd), _listening(args.proxy_fd)
    loop = asyncio.get_running_loop()
    # getaddrinfo runs in the default executor, which is otherwise built (and imported) late.
    loop.set_default_executor(concurrent.futures.thread.ThreadPoolExecutor(max_workers=8))
    raise_fd_limit()
    drop_privileges()
    runner = await api.serve(api_sock)
    server = await tunnels.serve(proxy_sock)
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    log.info("egress up: the model's API is %s (uid %d)", args.upstream, os.geteuid())
    await stop.wait()
    server.close()
    await runner.cleanup()
    await api.close()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m hive_c0re.egress")
    parser.add_argument("--api-fd", type=int, required=True)
    parser.add_argument("--proxy-fd", type=int, required=True)
    parser.add_argument("--upstream", required=True, help="the model API's base URL")
    parser.add_argument("--first-uid", type=int, required=True,
                        help="the lowest uid a container's process can have")
    logs.setup("hive-egress")
    asyncio.run(serve(parser.parse_args()))


if __name__ == "__main__":
    main()
