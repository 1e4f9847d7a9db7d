"""Who drives a run: an owner string per process, and whether an owner is still alive.

A lease expires after its time-to-live; an owner on this host whose process is gone has lost its
lease at once, so a run killed a second ago can be resumed without waiting for the expiry.
"""

from __future__ import annotations

import os
import socket
import uuid
from functools import cache


@cache
def process_owner() -> str:
    """This process's owner string: ``host:pid:token`` (the token tells a reused pid apart)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def owner_is_dead(owner: str) -> bool:
    """True when ``owner`` is a process on this host that no longer exists."""
    host, _, rest = owner.partition(":")
    pid_text = rest.split(":", 1)[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    if owner == process_owner():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        # Same pid, other token: an earlier process whose pid this one reuses.
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return _is_zombie(pid)


def _is_zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return False
