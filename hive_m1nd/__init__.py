"""hyperhive's manager: the harness plus the manager's tools."""

from hive_c0re import __version__

__all__ = ["__version__"]
