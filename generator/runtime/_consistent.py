"""Reading several lock groups at one instant without deadlock (snapshot())."""

from __future__ import annotations

import time as _time
from collections.abc import Callable as _Callable
from typing import Any as _Any
from typing import TypeVar as _TypeVar

from ._locks import SPINS, Lock, lock_timeout_error
from ._process import holder

_T = _TypeVar("_T")


def read_consistently(
    owner: str,
    order: tuple[tuple[str, Lock], ...],
    parked: _Any,
    blocks: list[tuple[Lock, tuple[int, int]]],
    timeout: float | None,
    read: _Callable[[], _T],
) -> _T:
    """Call read() while no group of ``order`` can change: each lock taken, or its holder parked.

    It never waits while holding a lock it took: finding one busy, it lets go of all it took and
    waits for that one (C++'s std::lock), so a locked block of one group that reads another
    cannot deadlock with it. The locks this thread holds through locked ``blocks`` cannot be let
    go: while waiting it marks them parked (an odd count), promising not to change their groups,
    and another snapshot waiting inside a block of its own reads those groups as they are.
    """
    me = holder()
    held = frozenset(
        index
        for index, (_, lock) in enumerate(order)
        if any(lock is taken and thread == me for taken, thread in blocks)
    )
    deadline = None if timeout is None else _time.monotonic() + timeout
    for index in held:
        parked[index] += 1
    try:
        waited: int | None = None  # a lock already taken by waiting for it
        while True:
            taken = [] if waited is None else [order[waited][1]]
            still: list[tuple[int, int]] = (
                []
            )  # parked groups read as they are, with their mark
            busy = None
            for index, (_, lock) in enumerate(order):
                if index in held or index == waited:
                    continue
                if lock.acquire(False):
                    taken.append(lock)
                    continue
                mark = parked[index]
                if not mark % 2:
                    busy = index
                    break
                still.append((index, mark))
            if busy is None:
                try:
                    result = read()
                finally:
                    _release_all(taken)
                if all(parked[index] == mark for index, mark in still):
                    return result
                waited = None  # a parked holder went on while we read: read again
                continue
            _release_all(taken)
            waited = (
                busy
                if _wait_or_park(
                    order[busy], parked, busy, bool(held), deadline, owner, timeout
                )
                else None
            )
    finally:
        for index in held:
            parked[index] += 1


# How often a snapshot waiting inside a locked block looks whether the busy lock's holder parked.
_PARK_CHECK = 0.001


def _wait_or_park(
    entry: tuple[str, Lock],
    parked: _Any,
    index: int,
    holding: bool,
    deadline: float | None,
    owner: str,
    timeout: float | None,
) -> bool:
    """Wait until a busy lock is taken (True) or its holder parks (False)."""
    group, lock = entry
    if (
        not holding
    ):  # nothing this thread holds can hold the lock's holder up: sleep on the lock
        for _ in range(SPINS):
            if lock.acquire(False):
                return True
        if lock.acquire(
            True, None if deadline is None else max(0.0, deadline - _time.monotonic())
        ):
            return True
        raise lock_timeout_error(owner, group, timeout or 0.0)
    # Wait on the lock itself, a slice at a time (taking it the moment it is free), and look
    # between slices whether its holder has parked.
    while not lock.acquire(True, _PARK_CHECK):
        if parked[index] % 2:
            return False
        if deadline is not None and _time.monotonic() >= deadline:
            raise lock_timeout_error(owner, group, timeout or 0.0)
    return True


def _release_all(locks: list[Lock]) -> None:
    for lock in reversed(locks):
        lock.release()
