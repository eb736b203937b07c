"""hyperhive's in-container harness."""

from hive_c0re import __version__

__all__ = ["__version__"]
