"""The hive's egress: the only way out of an agent's container.

Every container runs with its own network namespace holding nothing but a
loopback (nspawn's ``--private-network``): the host's loopback, the
dashboard and the other containers are out of reach. What an agent needs
from outside goes through this process, which ``hive-c0re`` starts (it never
parses HTTP itself) and which listens on two unix sockets in daemon-owned
space, bound read-only into every container (``/run/hive-egress``):

- ``api.sock``: the model's API. Each request is forwarded to the upstream
  the operator configured (``ANTHROPIC_BASE_URL`` in the agent environment
  file, else Anthropic's), so the real API and a local stand-in are reached
  the same way.
- ``proxy.sock``: an HTTP ``CONNECT`` proxy for any other egress (logins,
  package downloads), allowed only to public addresses the proxy resolved
  and checked itself.

The peer of every connection is known by ``SO_PEERCRED``: a uid in an
agent's user namespace range names that agent's range in the log and in
the per-range connection cap; any other uid is refused.
"""
