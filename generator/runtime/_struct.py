"""The base of every generated struct: its block and locks, group writes and their journals,
locked blocks, batches, snapshots and pickling. Its per-field hot paths are made in _members.
"""

# apply_adds below is one of SharedStruct's methods, kept out of the class body.
# pyright: reportPrivateUsage=false

from __future__ import annotations

import struct as _struct
import typing as _typing
from collections.abc import Callable as _Callable
from collections.abc import Iterator as _Iterator
from collections.abc import Sequence as _Sequence
from contextlib import contextmanager as _contextmanager
from typing import Any as _Any
from typing import ClassVar as _ClassVar
from typing import TypeVar as _TypeVar
from typing import cast as _cast

from ._arrays import Region
from ._base import (
    Lazy,
    StructBase,
    end_view,
    ready,
    written_back,
)
from ._checks import add_overflow, batch_refused
from ._layout import NO_CUT, Decoding, GroupUpdate, Layout, new_snapshot
from ._locks import Lock, wait_for_lock
from ._members import add_method, field_property
from ._process import check_inheritance, holder
from ._setup import allocate, bind_locks, make_swaps, make_views, open_block

if _typing.TYPE_CHECKING:
    from ._robust import Journal

_S = _TypeVar("_S")
_Self = _TypeVar("_Self", bound="SharedStruct[_Any]")


class SharedStruct(StructBase[_S]):
    """What every generated struct shares; its per-field hot paths are made for each subclass
    from its table (see _members).

    Its subclass holds, per field, the C object in the block (``_raw_<field>``) and, per lock
    group, the bound ``_acquire_<group>``, ``_wait_<group>`` and ``_release_<group>``.
    """

    __slots__ = (
        "_start_method",
        "_block",
        "_storage",
        "_locks",
        "_group_locks",
        "_lock_order",
        "_read_at_first_try",
        "_blocks",
        "_parked",
        "_journals",
        "_shard_locks",
        "_read_raw",
        "_loads",
        "_stores",
        "_cells",
        "_group_targets",
        "_decoding",
        "_updates",
        "_base",
        "_name",
        "_regions",
    )

    __sharedgen_layout__: _ClassVar[Layout]
    _start_method: str
    _block: _Any  # a RawArray of bytes
    _storage: tuple[_Any, ...]  # each field's C object in the block
    _locks: dict[str, Lock]
    _group_locks: tuple[Lock, ...]
    _lock_order: tuple[tuple[str, Lock], ...]
    # snapshot()'s usual way: every lock at a first try, or None (see read_at_first_try).
    _read_at_first_try: _Callable[[], tuple[_Any, ...] | None]
    _blocks: list[tuple[Lock, tuple[int, int]]]
    _parked: _Any
    # Not at run time: typing.get_type_hints() would look for Journal, imported only when used.
    if _typing.TYPE_CHECKING:
        _journals: tuple[Journal | None, ...]
    _shard_locks: dict[str, Lock]
    _read_raw: _Callable[[], tuple[_Any, ...]]
    _loads: tuple[_Callable[[], _Any], ...]  # each field's whole value, read (C calls)
    _stores: tuple[_Callable[[_Any], None], ...]  # and written
    # Scalars are read and written faster as item 0 of a memoryview in their C format (None: not
    # a scalar, or a wchar_t, which no memoryview format holds).
    _cells: tuple[memoryview | None, ...]
    _group_targets: tuple[
        tuple[tuple[memoryview | None, _Callable[[_Any], None]], ...], ...
    ]
    # The layout's parts that snapshot() and update_<group>() use, in slots: an instance's slot
    # is read faster than a class attribute.
    _decoding: Decoding
    _updates: dict[str, GroupUpdate]
    _base: int  # where the fields start in the block (after a named struct's header)
    _name: str | None  # a named struct's name
    _regions: tuple[
        Region | None, ...
    ]  # each array field's bytes, items and generation
    #: The schema of this struct, for tools: each field's type code, length, lock group, shards.
    __sharedgen_fields__: _ClassVar[dict[str, dict[str, _Any]]]

    @classmethod
    def _finish_class(cls, layout: Layout) -> None:
        cls.__sharedgen_fields__ = layout.metadata

    _make_property = staticmethod(field_property)
    _make_add = staticmethod(add_method)
    _make_swaps = staticmethod(make_swaps)
    _make_views = staticmethod(make_views)

    # Set up in each process (see _setup): the block's views, then the locks.
    _create = allocate
    _open = open_block
    _bind = bind_locks

    @classmethod
    def attach(cls: type[_Self], name: str) -> _Self:
        """The named struct ``name``, made by create() or open() in any process of this machine.

        FileNotFoundError if there is none; NamedStructError (a ValueError) if the block is not
        this struct's: not sharedgen's, damaged, or made from another layout of the schema.
        """
        return cls._named(name, None, 0o600, exclusive=False)

    @classmethod
    def _named(
        cls: type[_Self],
        name: str,
        values: tuple[object, ...] | None,
        mode: int,
        exclusive: bool,
    ) -> _Self:
        """Create (values given) or attach to a named struct; exclusive: the name must be new."""
        # Named-block code is imported by the first process that names a struct.
        from . import _named

        return _named.open_named(cls, name, values, mode, exclusive)

    @property
    def name(self) -> str | None:
        """A named struct's name (None for a struct made by the constructor)."""
        return self._name

    @property
    def __sharedgen_name__(self) -> str | None:
        """The same, for a struct with a field called ``name`` (which then wins over it)."""
        return self._name

    def close(self) -> None:
        """Unmap this process's view of a named struct; the struct lives on for the others.
        Closing again does nothing; any other use of a closed struct raises ValueError.
        """
        if self._name is None:
            raise ValueError(
                f"only a named struct is closed; this {self.__sharedgen_layout__.name} has no name"
            )
        if not is_closed(self):
            from . import _named

            _named.close(self)

    def unlink(self) -> None:
        """Remove the name: no process can attach any more; those attached keep working."""
        if self._name is None:
            raise ValueError(
                f"only a named struct is unlinked; this {self.__sharedgen_layout__.name} has no name"
            )
        from . import _named

        _named.unlink(self._name)

    def __enter__(self: _Self) -> _Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._name is not None:
            self.close()

    def __reduce__(self) -> tuple[object, ...]:
        """A named struct travels as its name (by any route); others as their shared memory."""
        if self._name is not None:
            return type(self).attach, (self._name,)
        return restored, (type(self), self.__getstate__())

    def __getstate__(self) -> tuple[object, ...]:
        check_inheritance(self.__sharedgen_layout__.name, self._start_method)
        return self._start_method, self._block, self._locks, self._shard_locks

    def __setstate__(self, state: tuple[_Any, ...]) -> None:
        self._start_method, self._block, locks, self._shard_locks = state
        self._base, self._name = 0, None
        self._open()
        self._bind(locks)

    def _take(self, group: int) -> Lock:
        """Take a group's lock (the caller releases it)."""
        lock = self._group_locks[group]
        if not lock.acquire(False):
            self._wait(group)
        return lock

    def _wait(self, group: int) -> None:
        """Take a group's lock that a first try found busy."""
        layout = self.__sharedgen_layout__
        wait_for_lock(
            self._group_locks[group],
            layout.lock_timeout,
            layout.name,
            layout.groups[group].name,
        )

    def _put(self, group: int, values: _Sequence[object]) -> None:
        """Store checked values of a group's fields (None keeps one); the caller holds the lock."""
        journal = self._journals[group]
        if journal is None:
            for (cell, store), value in zip(  # noqa: B905
                self._group_targets[group], values
            ):
                if value is None:
                    continue
                if cell is not None:
                    cell[0] = value  # type: ignore[call-overload]
                else:
                    store(value)
            return
        # Bulk arrays, too big for the journal, are written after the commit with their
        # generation (a writer's death there leaves them torn, and known so).
        layout = self.__sharedgen_layout__
        journal.commit(zip(layout.groups[group].fields, values))  # noqa: B905
        for position, index in layout.groups[group].arrays:
            value = values[position]
            if value is None:
                continue
            region = _cast(Region, self._regions[index])
            if layout.fields[index].bulk:
                region.store(value)
            else:
                region.whole()

    def _store(self, index: int, value: object) -> None:
        """Store one checked value; the caller holds the lock. A value stored in several steps
        (an array, a string) goes through its group's journal where the struct has journals
        (recover_locks, and every named struct), so that a writer's death leaves it whole.
        """
        field = self.__sharedgen_layout__.fields[index]
        cell = self._cells[index]
        if cell is not None:
            cell[0] = value  # type: ignore[call-overload]
            return
        group = field.group
        journal = None if group is None else self._journals[group]
        if journal is None or not field.in_steps:
            self._stores[index](value)
            return
        journal.commit(((index, value),))
        region = self._regions[index]
        if region is not None:
            region.whole()

    def _update(self, name: str, values: tuple[_Any, ...]) -> None:
        group, rules, lock, packing = self._updates[name]
        if packing is not None and (
            # By type, not isinstance(), which believes a proxy's __class__.
            packing[1] is None
            or all(map(issubclass, map(type, values), packing[1]))
        ):
            pack, _, window, journal = packing
            try:
                # A field kept (None) takes the field by field way, which stores only the others
                # (without the cost of the pack refusing it).
                data = pack(*values) if None not in values else None
            except (_struct.error, TypeError, ValueError, OverflowError):
                data = None  # the checks below say which value is wrong
            if data is not None:
                if not lock.acquire(False):
                    self._wait(group)
                try:
                    if journal is None:
                        window[:] = data
                    else:
                        journal.commit_packed(data)
                finally:
                    lock.release()
                return
        # As the setters: numbers of the exact type and in range pass without a call.
        checked = [
            (
                value
                if value is None or (value.__class__ is exact and low <= value <= high)
                else check(value)
            )
            for value, (exact, low, high, check) in zip(values, rules)  # noqa: B905
        ]
        if not lock.acquire(False):
            self._wait(group)
        try:
            self._put(group, checked)
        finally:
            lock.release()

    @_contextmanager
    def _locked(self, name: str) -> _Iterator[_Any]:
        layout = self.__sharedgen_layout__
        group = layout.group_index[name]
        indexes = layout.groups[group].fields
        lock = self._take(group)
        try:
            block = (lock, holder())
            if layout.parks:
                self._blocks.append(block)
            # Arrays are copied only if the block reads them (see Lazy).
            copy = layout.views[group](
                *(
                    (
                        layout.fields[i].read(self._storage[i])
                        if self._regions[i] is None
                        else Lazy(_cast(Region, self._regions[i]).read)
                    )
                    for i in indexes
                )
            )
            try:
                yield copy
            except BaseException:
                end_view(copy)
                raise
            finally:
                if layout.parks:
                    self._blocks.remove(block)
            values = written_back(layout, group, copy)
            if any(value is not None for value in values):
                self._put(group, values)
        finally:
            lock.release()

    def _apply(self, group: int, deltas: dict[int, _Any]) -> None:
        """Add a batch's deltas (by field; arrays: by item) to a group's fields, all or none."""
        apply_adds(self, group, deltas)

    def _flush(self, pending: list[_Any]) -> None:
        """A batch's flush: each group in one critical section; a group that would overflow
        changes nothing and its adds stay pending, while every other group lands."""
        layout = self.__sharedgen_layout__
        refused: list[tuple[str, OverflowError]] = []
        cleared = layout.nothing_pending()
        for index, group in enumerate(layout.groups):
            deltas = {i: pending[i] for i in group.fields if pending[i]}
            if not deltas:
                continue
            try:
                self._apply(index, deltas)
            except OverflowError as error:
                refused.append((group.name, error))
            else:
                for i in deltas:
                    pending[i] = cleared[i]
        if refused:
            raise batch_refused(layout.name, *zip(*refused, strict=True))

    def snapshot(self) -> _S:
        """A consistent copy of every field, taken while no group can change."""
        raw = self._read_at_first_try()
        if raw is None:  # a lock was busy
            raw = self._read_waiting()
        # Decoded with the locks let go.
        snapshot_class, cut, fixes = self._decoding
        snapshot: _S
        if cut is None:  # every value as it is
            snapshot = new_snapshot(snapshot_class, raw)
            return snapshot
        if fixes is None:
            return self._decode(raw)
        values = list(raw)
        if cut != NO_CUT:  # a C string ends at its first NUL
            values[cut] = values[cut].partition(b"\0")[0]
        if fixes:
            for index, fix in fixes:
                values[index] = fix(values[index])
        snapshot = new_snapshot(snapshot_class, values)
        return snapshot

    def _read_waiting(self) -> tuple[_Any, ...]:
        """The block's values when snapshot()'s first try found a lock busy: wait for it."""
        layout = self.__sharedgen_layout__
        if not layout.parks:
            lock = self._take(0)
            try:
                return self._read_raw()
            finally:
                lock.release()
        from ._consistent import read_consistently  # imported when first needed

        return read_consistently(
            layout.name,
            self._lock_order,
            self._parked,
            self._blocks,
            layout.lock_timeout,
            self._read_raw,
        )

    def _decode(self, raw: tuple[_Any, ...]) -> _S:
        """Field by field: arrays span several values; shards' sums follow the block's values."""
        layout, at = self.__sharedgen_layout__, 0
        sums = iter(raw[len(raw) - sum(1 for f in layout.fields if f.shards) :])
        values: list[_Any] = []
        for field in layout.fields:
            if field.shards:
                values.append(next(sums))
                continue
            value, at = field.decode(raw, at)
            values.append(value)
        return _cast(_S, new_snapshot(layout.snapshot, values))

    def _peek(self) -> _S:
        """Every field as it is now, taking no lock: for tools (sharedgen show --unlocked) that
        must not wait; a write under way may show half done."""
        layout = self.__sharedgen_layout__
        raw = layout.unpack(memoryview(self._block).cast("B"), self._base)
        sums = [
            sum(self._storage[i][:: f.stride])
            for i, f in enumerate(layout.fields)
            if f.shards
        ]
        return self._decode((*raw, *sums))

    def _lock_of(self, group: str) -> Lock:
        return self._locks[group]

    def __repr__(self) -> str:
        if is_closed(self):
            return f"<{type(self).__name__} {self._name!r}, closed>"
        return super().__repr__()


def apply_adds(self: SharedStruct[_Any], group: int, deltas: dict[int, _Any]) -> None:
    """SharedStruct._apply: every sum is checked before any is stored; an array's items are read
    and written one by one (a journaled one is staged whole: it is small)."""
    fields = self.__sharedgen_layout__.fields
    totals: dict[int, _Any] = {}
    items: dict[int, dict[int, _Any]] = (
        {}
    )  # arrays: the new value of each item added to
    lock = self._take(group)
    try:
        for index, delta in deltas.items():
            field = fields[index]
            region = self._regions[index]
            if region is not None:
                region.check_whole()
                flat, sums = region.flat, {}
                for item, change in delta.items():
                    current = flat[item]
                    sums[item] = total = current + change
                    if not field.fits(total, current, change):
                        raise add_overflow(field.label, change, field.low, field.high)
                items[index] = sums
                continue
            current = field.read(self._storage[index])
            total = current + delta
            if not field.fits(total, current, delta):
                raise add_overflow(field.label, delta, field.low, field.high)
            totals[index] = total
        journaled = self._journals[group] is not None
        for index, sums in items.items():
            region = _cast(Region, self._regions[index])
            if (
                journaled and not fields[index].bulk
            ):  # the whole array, in the group write
                copy = bytearray(region.raw)
                flat = memoryview(copy).cast(fields[index].code)  # type: ignore[call-overload]
                for item, total in sums.items():
                    flat[item] = total
                totals[index] = copy
            else:
                region.put_items(sums)
        if totals:
            self._put(
                group,
                [totals.get(i) for i in self.__sharedgen_layout__.groups[group].fields],
            )
    finally:
        lock.release()


class Closed:
    """What every member of a closed named struct becomes: any use of it raises ValueError."""

    __slots__ = ("_message",)

    def __init__(self, name: str) -> None:
        self._message = f"named struct {name!r} is closed"

    def _refuse(self, *args: object) -> _typing.NoReturn:
        raise ValueError(self._message)

    __getattr__ = __call__ = __getitem__ = __setitem__ = _refuse


def is_closed(struct: SharedStruct[_Any]) -> bool:
    return isinstance(getattr(struct, "_block", None), Closed)


def restored(cls: type[_Self], state: tuple[_Any, ...]) -> _Self:
    """An anonymous struct unpickled in a child process."""
    ready(cls)
    struct = cls.__new__(cls)
    struct.__setstate__(state)
    return struct
