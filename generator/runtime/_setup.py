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

from ._arrays import LockedView, Region, check_out, fill, shape_text
from ._base import named_function, ready, swap_members
from ._layout import GroupUpdate, Layout, accessors
from ._locks import (
    Lock,
    enlist,
    make_locks,
    new_recoverable_lock,
    recoverable,
    wait_for_lock,
)
from ._types import cell_slot, group_slots, raw_slot, shard_slot

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


def make_views(layout: Layout, field: str) -> tuple[_Any, _Any]:
    """A struct's view_<field> and copy_<field>, by the field's position and group."""
    index = layout.field_index[field]
    spec = layout.fields[index]
    group = spec.group
    shape = shape_text(spec.shape)
    if group is None:

        def lasting(self: _Any) -> memoryview:
            return self._regions[index].view()  # type: ignore[no-any-return]

        def copy_unlocked(self: _Any, out: _Any = None) -> _Any:
            region: Region = self._regions[index]
            if out is None:
                return region.copy()
            check_out(spec, out)[:] = region.raw
            return out

        return (
            named_function(
                lasting,
                f"view_{field}",
                f"A writable memoryview of {field} (format {spec.code!r}, shape {shape}), live, for as long"
                " as you keep it: the field has no lock (single writer). It keeps the block mapped.",
            ),
            named_function(
                copy_unlocked,
                f"copy_{field}",
                f"A copy of {field} (no lock: lock: false).",
            ),
        )

    def view(self: _Any) -> LockedView:
        return LockedView(self, group, self._regions[index])

    def copy(self: _Any, out: _Any = None) -> _Any:
        region: Region = self._regions[index]
        target = None if out is None else check_out(spec, out)
        lock = self._take(group)
        try:
            region.check_whole()
            if target is None:
                return region.copy()
            target[:] = region.raw
            return out
        finally:
            lock.release()

    return (
        named_function(
            view,
            f"view_{field}",
            f"The group's lock held around a writable memoryview of the live {field} (format {spec.code!r},"
            f" shape {shape}); numpy.asarray() of it does not copy.",
        ),
        named_function(
            copy,
            f"copy_{field}",
            f"A copy of {field} taken under its lock: into out (a writable buffer of format {spec.code!r} and"
            f" shape {shape}), or into a new memoryview; returns it.",
        ),
    )


def allocate(
    self: SharedStruct[_Any],
    values: tuple[object, ...],
    ctx: _BaseContext | None,
    locks: _Mapping[str, Lock] | None,
) -> None:
    """Check the initial values, then allocate the block and the locks."""
    ready(type(self))
    layout = self.__sharedgen_layout__
    checked = initial_values(layout, values)
    context: _BaseContext = (
        _importlib.import_module("multiprocessing").get_context()
        if ctx is None
        else ctx
    )
    self._start_method = context.get_start_method()
    self._block = context.RawArray(_ctypes.c_ubyte, layout.size)
    self._base, self._name = 0, None
    self._open()
    write_initial(self, checked)

    def new_lock() -> Lock:
        return (
            new_recoverable_lock(context) if layout.recover_locks else context.RLock()
        )

    self._shard_locks = {f.name: new_lock() for f in layout.fields if f.shards}
    if not layout.groups and locks:
        raise ValueError(f"{layout.name} has no lock groups")
    group_names = tuple(group.name for group in layout.groups)
    self._bind(make_locks(layout.name, group_names, locks, new_lock))


# An array field made with the schema's default (None given): filled with the layout's fill.
_FILL = object()


def initial_values(layout: Layout, values: tuple[object, ...]) -> list[_Any]:
    """The values a struct is made with, checked (TypeError, OverflowError, ValueError)."""
    return [
        _FILL if value is None and field.fill is not None else field.check(value)
        for field, value in zip(layout.fields, values, strict=True)
    ]


def write_initial(self: SharedStruct[_Any], checked: list[_Any]) -> None:
    """Write the initial values into a new, zeroed block: what costs the time is zeroing it."""
    layout = self.__sharedgen_layout__
    for field, storage, region, value in zip(
        layout.fields, self._storage, self._regions, checked, strict=True
    ):
        if value is _FILL and region is not None:
            fill(region.raw, field.code, field.fill)
        elif region is not None:
            region.raw[:] = value
        else:
            field.write(storage, value)


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
    whole = memoryview(block).cast("B")
    regions: list[Region | None] = []
    for index, field in enumerate(layout.fields):
        at = layout.gen_offsets.get(index)
        gen = None if at is None else whole[base + at : base + at + 8].cast("Q")
        array = field.storage == "array"
        regions.append(
            Region(field, whole, base + field.offset, gen) if array else None
        )
    self._regions = tuple(regions)
    loads, stores = (
        list(calls)
        for calls in zip(*map(accessors, layout.fields, storage), strict=True)
    )
    for index, region in enumerate(regions):
        if (
            region is not None
        ):  # arrays are read and written as bytes, with their generation
            loads[index], stores[index] = region.read, region.store
    self._loads, self._stores = tuple(loads), tuple(stores)
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
    self._read_raw = _functools.partial(layout.unpack, whole, base)
    self._decoding = layout.decoding
    # Journals where locks survive their holders: recover_locks, and every named struct.
    self._journals = (None,) * len(layout.groups)
    if layout.recover_locks or self._name is not None:
        from ._robust import Journal

        self._journals = tuple(
            Journal(
                whole[base + group.journal_offset :][: group.journal_size + 1],
                tuple((i, self._storage[i], layout.fields[i]) for i in group.fields),
                group.staging,
            )
            for group in layout.groups
        )
    if layout.parks:
        marks = _ctypes.c_uint64 * len(layout.groups)
        self._parked = marks.from_buffer(block, base + layout.parked_offset)


def _read_whole(
    read: _typing.Callable[[], tuple[_Any, ...]], regions: tuple[Region, ...]
) -> tuple[_Any, ...]:
    """The block's values (read holding the locks), refusing a torn array (TornArrayError)."""
    values = read()
    for region in regions:
        region.check_whole()
    return values


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
        if group.packing is not None:
            pack, classes, (start, end) = group.packing
            window = whole[self._base + start : self._base + end]
            packing = pack, classes, window, journal
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
    with_gens = tuple(r for r in self._regions if r is not None and r.gen is not None)
    if with_gens:  # a torn array is refused, not passed off as whole
        self._read_raw = _functools.partial(_read_whole, self._read_raw, with_gens)
    self._read_at_first_try = read_at_first_try(self)


def lock_calls(
    self: SharedStruct[_Any], lock: Lock
) -> tuple[_Callable[[bool], bool], _Callable[[], None]]:
    """A lock's acquire and release as the hot paths call them: a robust mutex's are one C call
    each at a first try (see RecoverableLock.calls)."""
    robust = recoverable(lock)
    if robust is None:
        return lock.acquire, lock.release
    return robust.calls(own_block=self._name is not None)


def read_at_first_try(
    self: SharedStruct[_Any],
) -> _Callable[[], tuple[_Any, ...] | None]:
    """snapshot()'s usual way: take every lock at a first try, read, let go; None (nothing
    held) when one was busy. Made per struct with its locks bound (see _first_try_maker).
    """
    read: _Callable[[], tuple[_Any, ...] | None] = self._read_raw
    tries = [_first_try(self, lock) for _, lock in self._lock_order]
    # Chunks of locks, the last first: each chunk's function calls the next one's as its read.
    for start in reversed(range(0, len(tries), _NESTED_LOCKS)):
        chunk = tries[start : start + _NESTED_LOCKS]

        def settle(index: int, result: object, start: int = start) -> None:
            _settle(self, start + index, result)

        calls = [call for attempt in chunk for call in attempt]
        read = _first_try_maker(len(chunk))(read, settle, *calls)
    return read


def _first_try(
    self: SharedStruct[_Any], lock: Lock
) -> tuple[_Callable[[], object], object, _Callable[[], None]]:
    """A try at a lock without waiting, what it answers when it took the lock, and its release.
    A named struct's try is one C call, which answers 0 when it took the lock (anything else, a
    holder's death included, is settled by _settle)."""
    if self._name is None:
        acquire, release = lock_calls(self, lock)
        return _functools.partial(acquire, False), True, release
    attempt, release = _cast("RecoverableLock", lock).quick_calls()
    return attempt, 0, release


# Locks one made function holds at most: each is a `try` block, and CPython allows 20 nested.
_NESTED_LOCKS = 16


@_functools.cache
def _first_try_maker(
    locks: int,
) -> _Callable[..., _Callable[[], tuple[_Any, ...] | None]]:
    """What makes snapshot()'s first try at ``locks`` locks: a function written out, holding each
    lock in turn in nested ``try`` blocks, compiled once per number of locks (as dataclasses
    writes its methods; no name from any schema is in it). A loop over the locks, or a function a
    lock calling the next, cost a snapshot of four lock groups a quarter more."""
    params = "".join(f", attempt{i}, taken{i}, release{i}" for i in range(locks))
    lines = [f"def make(read, settle{params}):", "    def read_at_first_try():"]
    pad = "        "
    for i in range(locks):
        lines += [
            f"{pad}result = attempt{i}()",
            f"{pad}if result != taken{i}:",
            f"{pad}    settle({i}, result)",
            f"{pad}    return None",
            f"{pad}try:",
        ]
        pad += "    "
    lines.append(f"{pad}return read()")
    for i in reversed(range(locks)):
        pad = pad[:-4]
        lines += [f"{pad}finally:", f"{pad}    release{i}()"]
    lines.append("    return read_at_first_try")
    namespace: dict[str, _Any] = {}
    exec("\n".join(lines), namespace)
    maker: _Callable[..., _Callable[[], tuple[_Any, ...] | None]] = namespace["make"]
    return maker


def _settle(self: SharedStruct[_Any], index: int, result: object) -> None:
    """After a first try that did not take lock ``index``: a lock whose holder died is now this
    thread's (taken over, its journals finished); let it go, to be waited for in order.
    """
    lock = self._lock_order[index][1]
    if self._name is not None:
        recoverable = _cast("RecoverableLock", lock)
        if recoverable.settle_first_try(_cast(int, result)):
            recoverable.release()
