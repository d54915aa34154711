"""Which process and thread this is: fork counting, identities that survive pid reuse, and
the rule that structs travel to children only as multiprocessing starts them."""

from __future__ import annotations

import functools as _functools
import os as _os
import threading as _threading
from multiprocessing.context import get_spawning_popen as _get_spawning_popen

# forks[0]: forks into this process so far. A fork child counts one more than its parent ever
# did, so a sharded field inherited by fork sees that its claim is not this process's
# (os.getpid() would tell too, but it is a system call on every add). A list, not an int, so
# that every module importing it reads the live count, not a copy taken at import.
forks: list[int] = [0]
# Held while a struct class or its table is set up on first use (setup_lock[0]); renewed in a
# fork child, where a thread of the parent may have held it.
setup_lock: list[_threading.RLock] = [_threading.RLock()]


def _count_fork() -> None:
    forks[0] += 1
    setup_lock[0] = _threading.RLock()


if hasattr(_os, "register_at_fork"):
    _os.register_at_fork(after_in_child=_count_fork)


def holder() -> tuple[int, int]:
    """This thread, told apart from the same thread of a fork parent (which holds nothing here)."""
    return _threading.get_ident(), forks[0]


def check_inheritance(owner: str, start_method: str) -> None:
    """Allow pickling only while a child process is being started, as multiprocessing does."""
    popen = _get_spawning_popen()
    if popen is None:
        raise RuntimeError(
            f"{owner} objects should only be shared between processes through inheritance: "
            "pass them in Process(args=...) or Pool(initializer=..., initargs=...); a named "
            f"struct ({owner}.create(name) or .attach(name)) travels by any route"
        )
    child_method = getattr(popen, "method", start_method)
    if start_method == "fork" and child_method != "fork":
        raise RuntimeError(
            f"{owner} was created for the 'fork' start method but is passed to a "
            f"{child_method!r} child: create it with ctx=multiprocessing.get_context({child_method!r})"
        )


# By fork count: this process's pid and start time.
_identities: dict[int, tuple[int, int]] = {}


def identity() -> tuple[int, int]:
    """This process as (pid, start time): a pid is reused, a start time is not."""
    count = forks[0]
    if count not in _identities:
        pid = _os.getpid()
        _identities[count] = (pid, process_start(pid) or 0)
    return _identities[count]


def process_start(pid: int) -> int | None:
    """A process's start time (clock ticks after boot), or None when it is gone or a zombie."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            fields = stat.read().rsplit(b")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return None if fields[0] == b"Z" else int(fields[19])


@_functools.cache
def pid_namespace() -> str | None:
    """This process's pid namespace (``pid:[inode]``), or None where /proc does not tell."""
    try:
        return _os.readlink("/proc/self/ns/pid")
    except OSError:
        return None
