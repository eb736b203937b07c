"""``python -m hive_c0re.dashboard``: the dashboard's server alone (``hive-c0re dashboard``
is the same with the login and session commands beside it)."""

from __future__ import annotations

from pathlib import Path

import click


@click.command()
@click.option("--unix", type=click.Path(path_type=Path),
              help="unix socket to listen on, made 0600 [default: $RUNTIME_DIRECTORY/"
                   "dashboard.sock] (ignored when systemd passes sockets)")
@click.option("--listen", metavar="HOST:PORT", help="also listen on TCP, like 127.0.0.1:7000")
@click.option("--socket", "hive_socket", type=click.Path(path_type=Path),
              envvar="HYPERHIVE_SOCKET", help="the hive's operator socket (host.sock)")
@click.option("--debug", is_flag=True, help="debug logs")
def main(unix: Path | None, listen: str | None, hive_socket: Path | None, debug: bool) -> None:
    """Serve the operator's dashboard."""
    from hive_c0re import logs
    from hive_c0re.dashboard.server import serve
    from hive_c0re.errors import HiveError

    logs.setup("hive-c0re-dashboard", debug=debug)
    try:
        serve(unix=unix, listen=listen, hive_socket=hive_socket)
    except HiveError as error:
        raise click.ClickException(error.message) from None


if __name__ == "__main__":
    main()
