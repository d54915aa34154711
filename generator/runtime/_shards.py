"""Sharded counters: one shard per process, claimed by pid and start time, summed under a lock."""

from __future__ import annotations

from typing import Any as _Any

from ._locks import Lock, wait_for_lock
from ._process import forks, identity, process_start


def claim_shard(
    owners: _Any,
    lock: Lock,
    shards: int,
    stride: int,
    timeout: float | None,
    name: str,
) -> tuple[int, int]:
    """This process's fork count and the index of its shard: one of its own, else the last.

    Every shard but the last has an owner, a process known by pid and start time (a pid is
    reused, a start time is not). A process takes a shard that is free or whose owner is gone;
    what the owner added stays in it, part of the total. So the shards stay few and the total
    exact, however many processes come and go; while every shard has a live owner, later
    processes share the last one under the lock.
    """
    me = identity()
    wait_for_lock(lock, timeout, name, "shards")
    try:
        pairs = [(owners[i], owners[i + 1]) for i in range(0, 2 * (shards - 1), 2)]
        slot = pairs.index(me) if me in pairs else shards - 1
        for index, (pid, start) in enumerate(pairs if slot == shards - 1 else ()):
            if pid == 0 or process_start(pid) != start:
                owners[2 * index], owners[2 * index + 1] = me
                slot = index
                break
    finally:
        lock.release()
    return forks[0], slot * stride


def sum_shards(
    shards: _Any, stride: int, lock: Lock, timeout: float | None, name: str
) -> _Any:
    """The sum of all shards (owners add without a lock; each shard is read in one load)."""
    wait_for_lock(lock, timeout, name, "shards")
    try:
        return sum(shards[::stride])
    finally:
        lock.release()


def set_shards(
    shards: _Any, lock: Lock, value: float, timeout: float | None, name: str
) -> None:
    """Make the total ``value``; not atomic against owners adding at the same moment."""
    wait_for_lock(lock, timeout, name, "shards")
    try:
        shards[:] = [value] + [0] * (len(shards) - 1)
    finally:
        lock.release()
