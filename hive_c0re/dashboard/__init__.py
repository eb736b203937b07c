"""The operator's dashboard: an aiohttp app that is a client of host.sock, like the CLI."""
