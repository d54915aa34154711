"""A struct's per-field hot paths: each field's property and its add_<field>, made once per class,
as dataclasses makes a class's __init__: a module of many structs compiles none of them, and
its bytecode holds none of them.

Each is written once here, as a closure over the field's facts, reading the instance's slots
under placeholder names: ``_raw_F`` and ``_cell_F`` (the field's C object and cell), a sharded
field's ``_shardlock_F`` and the rest, and its group's ``_acquire_G``, ``_wait_G`` and
``_release_G``. ``specialized`` renames those in the function's code to the field's and group's
own slots: the function made runs the bytecode it would run if it were written out for that
field, with each slot read as fast as any attribute, and no extra call.
"""

# pyright: reportPrivateUsage=false

from __future__ import annotations

import importlib as _importlib
import types as _types
import typing as _typing
from typing import Any as _Any
from typing import cast as _cast

from ._arrays import flat_index, get_array, set_array
from ._checks import add_overflow, check_index, float_overflows
from ._locks import wait_for_lock
from ._process import forks
from ._types import SHARD_PARTS, cell_slot, group_slots, raw_slot, shard_slot

if _typing.TYPE_CHECKING:
    from ._layout import Field, Layout

# The names the templates give the slots specialized() renames: every slot's name is a prefix
# and then its field's or group's name (see _types).
_FIELD, _GROUP = "F", "G"
_PLACEHOLDERS = {
    *(slot(_FIELD) for slot in (raw_slot, cell_slot)),
    *(shard_slot(part, _FIELD) for part in SHARD_PARTS),
    *group_slots(_GROUP),
}
# Per template (its code): where its placeholders are among the names it reads, with their prefix.
_places: dict[_types.CodeType, tuple[tuple[int, str, bool], ...]] = {}


def specialized(function: _Any, field: str, group: str | None, name: str) -> _Any:
    """``function`` reading the slots of ``field`` and ``group`` where it names the placeholders'."""
    code: _types.CodeType = function.__code__
    places = _places.get(code)
    if places is None:
        places = _places[code] = tuple(
            (index, slot[:-1], slot.endswith(_FIELD))
            for index, slot in enumerate(code.co_names)
            if slot in _PLACEHOLDERS
        )
    names = list(code.co_names)
    for index, prefix, of_field in places:
        names[index] = prefix + (field if of_field else _cast(str, group))
    function.__code__ = code.replace(co_names=tuple(names))
    function.__name__ = name
    return function


def field_property(layout: Layout, index: int) -> property:
    """A field's property: read and written under its group's lock, checked as every write is."""
    field = layout.fields[index]
    group = None if field.group is None else layout.groups[field.group].name
    if field.storage == "sharded":
        getter, setter = _sharded_property(field, layout.lock_timeout)
    elif field.storage == "array":
        getter, setter = _array_property(field)
    elif group is None:
        getter, setter = _unlocked_property(field)
    else:
        getter, setter = _locked_property(field, index)
    return property(
        specialized(getter, field.name, group, field.name),
        specialized(setter, field.name, group, field.name),
        None,
        layout.field_doc(field),
    )


def add_method(layout: Layout, field: str) -> _Any:
    """A field's add_<field>: checked and added in one step under the group's lock, or (sharded)
    in the calling process's own shard, without a lock."""
    spec = layout.fields[layout.field_index[field]]
    group = None if spec.group is None else layout.groups[spec.group].name
    if spec.storage == "sharded":
        add = _sharded_add(spec, layout.lock_timeout)
        doc = (
            f"Add delta to {field} in the calling process's own shard, without a lock.\n\n"
            "Once every shard but the last is taken, later processes share the last one under a lock."
        )
    elif spec.storage == "array":
        add = _item_add(spec)
        doc = f"Atomically add delta to {field}[index]; return the new value."
        if len(spec.shape) > 1:
            add = _position_add(spec, specialized(add, field, group, f"add_{field}"))
            doc = f"Atomically add delta to {field}[index] (one int per dimension); return the new value."
    else:
        add = _scalar_add(spec)
        doc = f"Atomically add delta to {field}; return the new value."
    add.__doc__ = doc
    return specialized(add, field, group, f"add_{field}")


def _locked_property(field: Field, index: int) -> tuple[_Any, _Any]:
    exact, low, high, check = field.rule

    def get_locked(self: _Any) -> _Any:
        if not self._acquire_G(False):
            self._wait_G()
        try:
            return self._raw_F.value
        finally:
            self._release_G()

    if (
        field.in_steps
    ):  # a string: through the group's journal, where the struct has one

        def set_in_steps(self: _Any, value: _Any) -> None:
            value = check(value)
            if not self._acquire_G(False):
                self._wait_G()
            try:
                self._store(index, value)
            finally:
                self._release_G()

        return get_locked, set_in_steps

    def set_locked(self: _Any, value: _Any) -> None:
        if value.__class__ is not exact or not low <= value <= high:
            value = check(value)
        if not self._acquire_G(False):
            self._wait_G()
        try:
            self._raw_F.value = value
        finally:
            self._release_G()

    return get_locked, set_locked


def _unlocked_property(field: Field) -> tuple[_Any, _Any]:
    exact, low, high, check = field.rule

    def get_unlocked(self: _Any) -> _Any:
        return self._raw_F.value

    def set_unlocked(self: _Any, value: _Any) -> None:
        if value.__class__ is not exact or not low <= value <= high:
            value = check(value)
        self._raw_F.value = value

    return get_unlocked, set_unlocked


def _array_property(field: Field) -> tuple[_Any, _Any]:
    """A list (one dimension) or a memoryview of a copy (several); written whole (see _arrays)."""
    name = field.name

    def get_array_field(self: _Any) -> _Any:
        return get_array(self, name)

    def set_array_field(self: _Any, value: object) -> None:
        set_array(self, name, value)

    return get_array_field, set_array_field


def _scalar_add(field: Field) -> _Any:
    exact, unit, low, high = _add_facts(field)
    normalize, label = field.delta, field.label
    if field.cell:
        # The cell refuses a sum out of the C type's range before storing it.
        def add_through_cell(self: _Any, delta: _Any = unit) -> _Any:
            if delta.__class__ is not exact:
                delta = normalize(delta)
            shared = self._cell_F
            if not self._acquire_G(False):
                self._wait_G()
            try:
                shared[0] = total = shared[0] + delta
                return total
            except ValueError:
                pass
            finally:
                self._release_G()
            raise add_overflow(label, delta, low, high)

        return add_through_cell
    rounds = field.code == "f"  # a C float stores a rounded sum: return what was stored

    def add_real(self: _Any, delta: _Any = unit) -> _Any:
        if delta.__class__ is not exact:
            delta = normalize(delta)
        shared = self._raw_F
        if not self._acquire_G(False):
            self._wait_G()
        try:
            total = shared.value + delta
            if low <= total <= high or not float_overflows(shared.value, delta):
                shared.value = total
                return shared.value if rounds else total
        finally:
            self._release_G()
        raise add_overflow(label, delta, low, high)

    return add_real


def _item_add(field: Field) -> _Any:
    exact, unit, low, high = _add_facts(field)
    normalize, label, length = field.delta, field.label, field.items
    if field.cell:

        def add_item_through_cell(self: _Any, index: _Any, delta: _Any = unit) -> _Any:
            if index.__class__ is not int or not 0 <= index < length:
                index = check_index(index, length, label)
            if delta.__class__ is not exact:
                delta = normalize(delta)
            shared = self._cell_F
            if not self._acquire_G(False):
                self._wait_G()
            try:
                shared[index] = total = shared[index] + delta
                return total
            except ValueError:
                pass
            finally:
                self._release_G()
            raise add_overflow(label, delta, low, high)

        return add_item_through_cell
    rounds = field.code == "f"

    def add_real_item(self: _Any, index: _Any, delta: _Any = unit) -> _Any:
        if index.__class__ is not int or not 0 <= index < length:
            index = check_index(index, length, label)
        if delta.__class__ is not exact:
            delta = normalize(delta)
        shared = self._raw_F
        if not self._acquire_G(False):
            self._wait_G()
        try:
            total = shared[index] + delta
            if low <= total <= high or not float_overflows(shared[index], delta):
                shared[index] = total
                return shared[index] if rounds else total
        finally:
            self._release_G()
        raise add_overflow(label, delta, low, high)

    return add_real_item


def _position_add(field: Field, add_item: _Any) -> _Any:
    """An array of several dimensions: its index (a tuple) is its position in C order."""
    _, unit, _, _ = _add_facts(field)

    def add_at(self: _Any, index: object, delta: _Any = unit) -> _Any:
        return add_item(self, flat_index(field, index), delta)

    return add_at


def _add_facts(field: Field) -> tuple[type, float, float, float]:
    """What an add checks inline: the delta's exact type, its default (1), the C type's range."""
    exact: type = float if field.kind == "float" else int
    return exact, exact(1), field.low, field.high


def _sharded_property(field: Field, timeout: float | None) -> tuple[_Any, _Any]:
    shards = _importlib.import_module(".._shards", __name__)
    exact, low, high, check = field.rule
    stride, label = field.stride, field.label
    sum_shards, set_shards = shards.sum_shards, shards.set_shards

    def get_sharded(self: _Any) -> _Any:
        return sum_shards(self._raw_F, stride, self._shardlock_F, timeout, label)

    def set_sharded(self: _Any, value: _Any) -> None:
        if value.__class__ is not exact or not low <= value <= high:
            value = check(value)
        set_shards(self._raw_F, self._shardlock_F, value, timeout, label)

    return get_sharded, set_sharded


def _sharded_add(field: Field, timeout: float | None) -> _Any:
    shards = _importlib.import_module(".._shards", __name__)
    exact, unit, low, high = _add_facts(field)
    normalize, label, stride = field.delta, field.label, field.stride
    count, claim = field.shards or 1, shards.claim_shard
    last = (
        count - 1
    ) * stride  # the shard processes share, under the lock, once all are taken
    if field.cell:

        def add_to_shard(self: _Any, delta: _Any = unit) -> None:
            if delta.__class__ is not exact:
                delta = normalize(delta)
            if self._shardfork_F != forks[0]:
                self._shardfork_F, self._shardslot_F = claim(
                    self._shardowners_F,
                    self._shardlock_F,
                    count,
                    stride,
                    timeout,
                    label,
                )
            shared = self._cell_F
            slot = self._shardslot_F
            if slot < last:  # this process's own shard: no other process writes it
                try:
                    shared[slot] += delta
                    return
                except ValueError:
                    pass
            else:
                lock = self._shardlock_F
                if not lock.acquire(False):
                    wait_for_lock(lock, timeout, label, "shards")
                try:
                    shared[slot] += delta
                    return
                except ValueError:
                    pass
                finally:
                    lock.release()
            raise add_overflow(label, delta, low, high)

        return add_to_shard

    def add_to_real_shard(self: _Any, delta: _Any = unit) -> None:
        if delta.__class__ is not exact:
            delta = normalize(delta)
        if self._shardfork_F != forks[0]:
            self._shardfork_F, self._shardslot_F = claim(
                self._shardowners_F, self._shardlock_F, count, stride, timeout, label
            )
        shared = self._raw_F
        slot = self._shardslot_F
        if slot < last:
            # The process's threads share its shard: between the read and the write no jump or
            # call, where CPython may switch threads. A sum out of range is refused (the value
            # read is written back) unless a term was inf or nan already (x - x != 0).
            current = shared[slot]
            total = current + delta
            fits = (
                (low <= total) & (total <= high)
                | (current - current != 0)
                | (delta - delta != 0)
            )
            shared[slot] = (current, total)[fits]
            if fits:
                return
        else:
            lock = self._shardlock_F
            if not lock.acquire(False):
                wait_for_lock(lock, timeout, label, "shards")
            try:
                total = shared[slot] + delta
                if low <= total <= high or not float_overflows(shared[slot], delta):
                    shared[slot] = total
                    return
            finally:
                lock.release()
        raise add_overflow(label, delta, low, high)

    return add_to_real_shard
