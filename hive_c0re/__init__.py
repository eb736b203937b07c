"""hyperhive's host side: the broker daemon, the wire protocol and the operator CLI."""

__version__ = "0.1.0"
