"""Where on the host each container's user namespace lives.

Every container gets 65536 uids starting at a base that is a multiple of
65536 (``--private-users-ownership=chown`` needs both). The bases stay out of
systemd-nspawn's own pick range (``--private-users=pick`` takes bases from
0x00080000 up to ``UID_SHIFT_PICK_MAX``, 0x6FFF0000, for containers the hive
did not start) and below systemd's foreign uid range (0x7FFE0000); the
manager has a slot of its own at the top that no agent is ever given.
"""

from __future__ import annotations

from hive_c0re.errors import HiveError

UID_RANGE = 65536
NSPAWN_PICK_MAX = 0x6FFF0000  # systemd's UID_SHIFT_PICK_MAX: the last base nspawn picks
FIRST_AGENT_BASE = NSPAWN_PICK_MAX + UID_RANGE  # 0x70000000
MANAGER_BASE = 0x7FFD0000  # just below the foreign range 0x7FFE0000..0x7FFEFFFF
LAST_AGENT_BASE = MANAGER_BASE - UID_RANGE


def check_agent_base(base: int) -> int:
    """``base`` if an agent may hold it; HiveError once the hive's uid space is used up."""
    if base % UID_RANGE or not FIRST_AGENT_BASE <= base <= LAST_AGENT_BASE:
        raise HiveError(f"no free uid range for another agent (next would be {base:#x}; "
                        f"agents live in {FIRST_AGENT_BASE:#x}..{LAST_AGENT_BASE:#x})",
                        hint="purge agents you no longer need")
    return base
