"""The operator's dashboard: its own hardened process, a client of the wire like the CLI.

It holds no power of its own: every view and action is a wire verb on
``host.sock``, so what it may do is exactly what the operator's CLI may do,
and the HTTP parser never runs in the daemon that holds root's powers.
"""
