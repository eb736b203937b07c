"""``hive-c0re serve``: the asyncio daemon that owns the broker and every socket."""
