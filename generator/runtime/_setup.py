"""How a struct is set up in a process: its block's C objects and memoryviews, its journals,
its locks and their hot-path calls, and the members made per class (exchange, compare-and-set).
These are SharedStruct's own; ``self`` is the struct."""

# pyright: reportPrivateUsage=false

from __future__ import annotations

import ctypes as _ctypes
import functools as _functools
import importlib as _importlib
import typing as _typing
from collections.abc import Callable as _Callable
from collections.abc import Mapping as _Mapping
from multiprocessing.context import BaseContext as _BaseContext
from typing import Any as _Any
from typing import cast as _cast

from ._base import swap_members
from ._layout import (
    GroupUpdate,
    Layout,
    accessors,
    cell_slot,
    group_slots,
    raw_slot,
    shard_slot,
)
from ._locks import (
    Lock,
    enlist,
    make_locks,
    new_recoverable_lock,
    recoverable,
    wait_for_lock,
)

if _typing.TYPE_CHECKING:
    from ._robust import RecoverableLock
    from ._struct import SharedStruct


def make_swaps(layout: Layout, field: str) -> tuple[_Any, _Any]:
    """A struct's exchange_<field> and compare_and_set_<field>."""
    index = layout.field_index[field]
    exact, low, high, check = layout.fields[index].rule
    group = layout.fields[index].group or 0

    def exchange(self: SharedStruct[_Any], value: _Any) -> _Any:
        if value.__class__ is not exact or not low <= value <= high:
            value = check(value)
        lock = self._group_locks[group]
        if not lock.acquire(False):
            self._wait(group)
        try:
            cell = self._cells[index]
            if cell is None:
                old = self._loads[index]()
                self._store(index, value)
                return old
            old = cell[0]
            cell[0] = value
            return old
        finally:
            lock.release()

    def compare_and_set(self: SharedStruct[_Any], expected: _Any, value: _Any) -> bool:
        if value.__class__ is not exact or not low <= value <= high:
            value = check(value)
        lock = self._group_locks[group]
        if not lock.acquire(False):
            self._wait(group)
        try:
            cell = self._cells[index]
            if cell is None:
                if self._loads[index]() != expected:
                    return False
                self._store(index, value)
            elif cell[0] != expected:
                return False
            else:
                cell[0] = value
            return True
        finally:
            lock.release()

    return swap_members(field, exchange, compare_and_set)


def allocate(
    self: SharedStruct[_Any],
    values: tuple[object, ...],
    ctx: _BaseContext | None,
    locks: _Mapping[str, Lock] | None,
) -> None:
    """Check the initial values, then allocate the block and the locks."""
    layout = self.__sharedgen_layout__
    checked = [
        field.check(value) for field, value in zip(layout.fields, values, strict=True)
    ]
    context: _BaseContext = (
        _importlib.import_module("multiprocessing").get_context()
        if ctx is None
        else ctx
    )
    self._start_method = context.get_start_method()
    self._block = context.RawArray(_ctypes.c_ubyte, layout.size)
    self._base, self._name = 0, None
    self._open()
    for field, storage, value in zip(
        layout.fields, self._storage, checked, strict=True
    ):
        field.write(storage, value)

    def new_lock() -> Lock:
        return (
            new_recoverable_lock(context) if layout.recover_locks else context.RLock()
        )

    self._shard_locks = {f.name: new_lock() for f in layout.fields if f.shards}
    if not layout.groups and locks:
        raise ValueError(f"{layout.name} has no lock groups")
    group_names = tuple(group.name for group in layout.groups)
    self._bind(make_locks(layout.name, group_names, locks, new_lock))


def open_block(self: SharedStruct[_Any]) -> None:
    """This process's views of the block (views do not travel to other processes)."""
    layout, block, base = self.__sharedgen_layout__, self._block, self._base
    storage: list[_Any] = []
    for index, field in enumerate(layout.fields):
        shared = field.ctype.from_buffer(block, base + field.offset)
        storage.append(shared)
        setattr(self, raw_slot(field.name), shared)
        if field.cell:
            cell = memoryview(shared).cast("B").cast(field.code)  # type: ignore[call-overload]
            setattr(self, cell_slot(field.name), cell)
        if field.shards:
            table = _ctypes.c_uint64 * max(2, 2 * (field.shards - 1))
            owners = table.from_buffer(block, base + layout.owners_offsets[index])
            setattr(self, shard_slot("owners", field.name), owners)
            # Claims stay with the process that made them.
            setattr(self, shard_slot("fork", field.name), -1)
    self._storage = tuple(storage)
    self._loads, self._stores = (
        tuple(calls)
        for calls in zip(*map(accessors, layout.fields, storage), strict=True)
    )
    self._cells = tuple(
        (
            memoryview(shared).cast("B").cast(field.code)  # type: ignore[call-overload]
            if field.storage == "scalar" and field.code != "u"
            else None
        )
        for field, shared in zip(layout.fields, storage, strict=True)
    )
    self._group_targets = tuple(
        tuple((self._cells[i], self._stores[i]) for i in group.fields)
        for group in layout.groups
    )
    whole = memoryview(block).cast("B")
    self._read_raw = _functools.partial(layout.unpack, whole, base)
    self._decoding = layout.decoding
    # Journals where locks survive their holders: recover_locks, and every named struct.
    self._journals = (None,) * len(layout.groups)
    if layout.recover_locks or self._name is not None:
        from ._robust import Journal

        self._journals = tuple(
            Journal(
                whole[base + group.journal_offset :][: group.journal_size + 1],
                tuple(self._storage[i] for i in group.fields),
            )
            for group in layout.groups
        )
    if layout.parks:
        marks = _ctypes.c_uint64 * len(layout.groups)
        self._parked = marks.from_buffer(block, base + layout.parked_offset)


def bind_locks(self: SharedStruct[_Any], locks: dict[str, Lock]) -> None:
    layout = self.__sharedgen_layout__
    self._locks = locks
    self._group_locks = tuple(locks[group.name] for group in layout.groups)
    for field in layout.fields:
        if field.shards:
            setattr(self, shard_slot("lock", field.name), self._shard_locks[field.name])
    # Each distinct lock once (groups may share an injected lock), in the groups' order.
    self._lock_order = tuple(
        dict((id(lock), (group, lock)) for group, lock in locks.items()).values()
    )
    if layout.parks:
        self._blocks = []  # (lock, holder) of each locked block open in this process
        for index, (_, lock) in enumerate(self._lock_order):
            robust = recoverable(lock)
            if robust is not None:
                from ._robust import ParkedMark

                robust.guard(ParkedMark(self._parked, index))
    self._updates = {}
    whole = memoryview(self._block).cast("B")
    for index, (group, lock, journal) in enumerate(
        zip(layout.groups, self._group_locks, self._journals, strict=True)
    ):
        packing = None
        if group.packing is not None and journal is None:
            pack, classes, (start, end) = group.packing
            packing = pack, classes, whole[self._base + start : self._base + end]
        self._updates[group.name] = GroupUpdate(index, group.rules, lock, packing)
        acquire, release = lock_calls(self, lock)
        wait = _functools.partial(
            wait_for_lock,
            lock,
            layout.lock_timeout,
            layout.name,
            group.name,
            acquire,
        )
        for slot, call in zip(
            group_slots(group.name), (acquire, wait, release), strict=True
        ):
            setattr(self, slot, call)
        if journal is not None:
            enlist(lock, journal)
    sharded = [
        (self._storage[i], f.stride, self._shard_locks[f.name], f.label)
        for i, f in enumerate(layout.fields)
        if f.shards
    ]
    if sharded:
        from ._shards import sum_shards

        # Shards are summed under the group locks, with the rest: adds a process makes to its own
        # shard after a locked field's add (or before it) are then in the snapshot in that order.
        unpack = _functools.partial(layout.unpack, whole, self._base)
        timeout = layout.lock_timeout

        def read_with_shards() -> tuple[_Any, ...]:
            sums = [
                sum_shards(storage, stride, lock, timeout, label)
                for storage, stride, lock, label in sharded
            ]
            return (*unpack(), *sums)

        self._read_raw = read_with_shards
    self._read_at_first_try = read_at_first_try(self)


def lock_calls(
    self: SharedStruct[_Any], lock: Lock
) -> tuple[_Callable[[bool], bool], _Callable[[], None]]:
    """A lock's acquire and release as the hot paths call them: a named struct's locks guard its
    block alone, so their calls are one C call each."""
    if self._name is None:
        return lock.acquire, lock.release
    return _cast("RecoverableLock", lock).calls()


def read_at_first_try(
    self: SharedStruct[_Any],
) -> _Callable[[], tuple[_Any, ...] | None]:
    """snapshot()'s usual way: take every lock at a first try, read, let go; None (nothing
    held) when one was busy. Made per struct with its locks bound, one small function per lock,
    each calling the next: a snapshot is a hot path, and a loop over the locks costs more.
    """
    read: _Callable[[], tuple[_Any, ...] | None] = self._read_raw
    for index, (_, lock) in reversed(list(enumerate(self._lock_order))):
        read = _holding(self, index, lock, read)
    return read


def _holding(
    self: SharedStruct[_Any],
    index: int,
    lock: Lock,
    then: _Callable[[], tuple[_Any, ...] | None],
) -> _Callable[[], tuple[_Any, ...] | None]:
    """``then()`` called holding lock ``index`` of lock order, taken at a first try; None if busy.
    A named struct's try is one C call, which answers 0 when it took the lock (anything else, a
    holder's death included, is settled by _settle)."""
    attempt: _Callable[[], object]
    release: _Callable[[], None]
    taken: object
    if self._name is None:
        attempt, release, taken = (
            _functools.partial(lock.acquire, False),
            lock.release,
            True,
        )
    else:
        (attempt, release), taken = _cast("RecoverableLock", lock).quick_calls(), 0

    def holding() -> tuple[_Any, ...] | None:
        result = attempt()
        if result != taken:
            _settle(self, index, result)
            return None
        try:
            return then()
        finally:
            release()

    return holding


def _settle(self: SharedStruct[_Any], index: int, result: object) -> None:
    """After a first try that did not take lock ``index``: a lock whose holder died is now this
    thread's (taken over, its journals finished); let it go, to be waited for in order.
    """
    lock = self._lock_order[index][1]
    if self._name is not None:
        recoverable = _cast("RecoverableLock", lock)
        if recoverable.settle_first_try(_cast(int, result)):
            recoverable.release()
