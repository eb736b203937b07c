"""The broker: one sqlite file, owned by the daemon, behind :class:`Store`."""

from hive_c0re.broker.store import Delivery, Store

__all__ = ["Delivery", "Store"]
