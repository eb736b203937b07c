"""The wire's verb declaration, under the name the login verbs' table imports it by.

One class, declared in :mod:`hive_c0re.wire_fields` with the fields.
"""

from __future__ import annotations

from hive_c0re.wire_fields import (
    AGENTS,
    ALL,
    ENVELOPE,
    HOST,
    MANAGER_ONLY,
    OVERSEERS,
    REQUEST_ID,
    Kind,
    Verb,
)

__all__ = ["AGENTS", "ALL", "ENVELOPE", "HOST", "MANAGER_ONLY", "OVERSEERS", "REQUEST_ID",
           "Kind", "Verb"]
