"""A struct's per-field hot paths: each field's property and its add_<field>, made once per class,
as dataclasses makes a class's __init__: a module of many structs compiles none of them, and
its bytecode holds none of them.

Each is written once here, as a template: a function that reads the instance's slots under
placeholder names (``_raw_F`` and ``_cell_F``, the field's C object and cell; a sharded field's
``_shardlock_F`` and the rest; its group's ``_acquire_G``, ``_wait_G`` and ``_release_G``) and the
field's facts as globals in capitals (its range, its checks). ``made`` gives each field its own
function: the template's code with the placeholders renamed to the field's and group's slots,
and a namespace of its own holding the field's facts. That function runs the bytecode it would
run if it were written out for the field, reads each slot as fast as any attribute and each fact
as fast as a module's constant, and makes no extra call.
"""

# pyright: reportPrivateUsage=false

from __future__ import annotations

import builtins as _builtins
import functools as _functools
import importlib as _importlib
import sys as _sys
import types as _types
import typing as _typing
from collections.abc import Callable as _Callable
from typing import Any as _Any
from typing import cast as _cast

from ._arrays import flat_index, get_array, set_array
from ._checks import float_overflows
from ._locks import wait_for_lock
from ._process import forks
from ._types import SHARD_PARTS, cell_slot, group_slots, raw_slot, shard_slot

if _typing.TYPE_CHECKING:
    from ._layout import Field, Layout

# The names the templates give the slots made() renames: every slot's name is a prefix and then
# its field's or group's name (see _types).
_FIELD, _GROUP = "F", "G"
_PLACEHOLDERS = {
    *(slot(_FIELD) for slot in (raw_slot, cell_slot)),
    *(shard_slot(part, _FIELD) for part in SHARD_PARTS),
    *group_slots(_GROUP),
}
# Per template (its code): where its placeholders are among the names it reads, with their prefix.
_places: dict[_types.CodeType, tuple[tuple[int, str, bool], ...]] = {}

# The facts a template reads, set per field in the namespace of the function made from it.
# Their values here are for linters only: a made function reads its own namespace.
_UNSET: _Any = None
# A value of the field's exact type in its C type's range passes unchecked; CHECK checks (or
# refuses) any other.
EXACT: _Any = _UNSET
LOW: float = _UNSET
HIGH: float = _UNSET
CHECK: _Callable[[object], _Any] = _UNSET
INDEX: int = _UNSET  # the field's position in the struct's table
NAME: str = _UNSET
# An add's delta of another type, the error of a sum out of range, and whether the C type
# rounds the sum it stores (a C float: the add returns it as stored).
NORMALIZE: _Callable[[object], _Any] = _UNSET
OVERFLOW: _Callable[[object], OverflowError] = _UNSET
ROUNDS: bool = _UNSET
# An array's index of another type (or negative), its items, and for several dimensions the
# add at a flat position.
ITEM: _Callable[[object], int] = _UNSET
LENGTH: int = _UNSET
ADD_ITEM: _Callable[..., _Any] = _UNSET
FIELD: Field = _UNSET
# A sharded field: its last shard (which processes share once every other is taken), the claim
# of a shard, the wait for its lock, and what its property reads and writes with.
LAST: int = _UNSET
CLAIM: _Callable[[object, object], tuple[int, int]] = _UNSET
WAIT: _Callable[[object], None] = _UNSET
STRIDE: int = _UNSET
TIMEOUT: float | None = _UNSET
LABEL: str = _UNSET
SUM_SHARDS: _Callable[..., _Any] = _UNSET
SET_SHARDS: _Callable[..., None] = _UNSET


def made(
    template: _Any,
    field: str,
    group: str | None,
    name: str,
    facts: dict[str, object],
    defaults: tuple[object, ...] | None = None,
) -> _Any:
    """The function of ``field`` made from ``template`` (see the module's docstring); ``facts``:
    the field's, as ``namespace`` makes them (functions of one field may share one)."""
    code: _types.CodeType = template.__code__
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
    # Named as the field's member, in tracebacks and by profilers (which tell code by its name).
    renamed: _Any = code
    if _sys.version_info >= (3, 11):
        renamed = renamed.replace(co_names=tuple(names), co_name=name, co_qualname=name)
    else:
        renamed = renamed.replace(co_names=tuple(names), co_name=name)
    return _types.FunctionType(renamed, facts, name, defaults)


def namespace(facts: dict[str, object]) -> dict[str, object]:
    """The globals of functions made with these facts: the facts and what templates read besides."""
    return dict(_TEMPLATE_GLOBALS, **facts)


def field_property(layout: Layout, index: int) -> property:
    """A field's property: read and written under its group's lock, checked as every write is."""
    field = layout.fields[index]
    group = None if field.group is None else layout.groups[field.group].name
    rule = dict(zip(("EXACT", "LOW", "HIGH", "CHECK"), field.rule))  # noqa: B905
    getter: _Callable[..., _Any]
    setter: _Callable[..., None]
    facts: dict[str, object]
    if field.storage == "sharded":
        shards = _importlib.import_module(".._shards", __name__)
        getter, setter = get_sharded, set_sharded
        facts = rule | {
            "STRIDE": field.stride,
            "TIMEOUT": layout.lock_timeout,
            "LABEL": field.label,
            "SUM_SHARDS": shards.sum_shards,
            "SET_SHARDS": shards.set_shards,
        }
    elif field.storage == "array":
        getter, setter, facts = get_array_field, set_array_field, {"NAME": field.name}
    elif group is None:
        getter, setter, facts = get_unlocked, set_unlocked, rule
    elif (
        field.in_steps
    ):  # a string: through the group's journal, where the struct has one
        getter, setter, facts = get_locked, set_in_steps, rule | {"INDEX": index}
    else:
        getter, setter, facts = get_locked, set_locked, rule
    shared = namespace(facts)
    return property(
        made(getter, field.name, group, field.name, shared),
        made(setter, field.name, group, field.name, shared),
        None,
        layout.field_doc(field),
    )


def add_method(layout: Layout, field: str) -> _Any:
    """A field's add_<field>: checked and added in one step under the group's lock, or (sharded)
    in the calling process's own shard, without a lock."""
    spec = layout.fields[layout.field_index[field]]
    group = None if spec.group is None else layout.groups[spec.group].name
    unit = 1.0 if spec.kind == "float" else 1
    template: _Callable[..., _Any]
    facts: dict[str, object] = {
        "NORMALIZE": spec.delta,
        "OVERFLOW": spec.overflow,
        "LOW": spec.low,
        "HIGH": spec.high,
        "ROUNDS": spec.code == "f",
    }
    if spec.storage == "sharded":
        shards = _importlib.import_module(".._shards", __name__)
        count, timeout = spec.shards or 1, layout.lock_timeout
        claim = _functools.partial(
            shards.claim_shard,
            shards=count,
            stride=spec.stride,
            timeout=timeout,
            name=spec.label,
        )
        wait = _functools.partial(
            wait_for_lock, timeout=timeout, owner=spec.label, group="shards"
        )
        template = add_to_shard if spec.cell else add_to_real_shard
        facts |= {"LAST": (count - 1) * spec.stride, "CLAIM": claim, "WAIT": wait}
        doc = (
            f"Add delta to {field} in the calling process's own shard, without a lock.\n\n"
            "Once every shard but the last is taken, later processes share the last one under a lock."
        )
    elif spec.storage == "array":
        template = add_item_through_cell if spec.cell else add_real_item
        facts |= {"ITEM": spec.item, "LENGTH": spec.items}
        doc = f"Atomically add delta to {field}[index]; return the new value."
        if len(spec.shape) > 1:
            add_item = made(
                template, field, group, f"add_{field}", namespace(facts), (unit,)
            )
            template, facts = add_at, {"ADD_ITEM": add_item, "FIELD": spec}
            doc = f"Atomically add delta to {field}[index] (one int per dimension); return the new value."
    else:
        template = add_through_cell if spec.cell else add_real
        doc = f"Atomically add delta to {field}; return the new value."
    add = made(template, field, group, f"add_{field}", namespace(facts), (unit,))
    add.__doc__ = doc
    kind = type(unit)
    index = (
        {}
        if spec.storage != "array"
        else {"index": tuple if len(spec.shape) > 1 else int}
    )
    add.__annotations__ = index | {
        "delta": kind,
        "return": None if spec.shards else kind,
    }
    return add


# The templates. Integers add through their cell, which refuses a sum out of the C type's range
# before storing it; floats check the sum (inf + 1 is inf, not an overflow).
def get_locked(self: _Any) -> _Any:
    if not self._acquire_G(False):
        self._wait_G()
    try:
        return self._raw_F.value
    finally:
        self._release_G()


def set_locked(self: _Any, value: _Any) -> None:
    if value.__class__ is not EXACT or not LOW <= value <= HIGH:
        value = CHECK(value)
    if not self._acquire_G(False):
        self._wait_G()
    try:
        self._raw_F.value = value
    finally:
        self._release_G()


def set_in_steps(self: _Any, value: _Any) -> None:
    value = CHECK(value)
    if not self._acquire_G(False):
        self._wait_G()
    try:
        self._store(INDEX, value)
    finally:
        self._release_G()


def get_unlocked(self: _Any) -> _Any:
    return self._raw_F.value


def set_unlocked(self: _Any, value: _Any) -> None:
    if value.__class__ is not EXACT or not LOW <= value <= HIGH:
        value = CHECK(value)
    self._raw_F.value = value


def get_array_field(self: _Any) -> _Any:
    """A list (one dimension) or a memoryview of a copy (several); written whole (see _arrays)."""
    return get_array(self, NAME)


def set_array_field(self: _Any, value: object) -> None:
    set_array(self, NAME, value)


def get_sharded(self: _Any) -> _Any:
    return SUM_SHARDS(self._raw_F, STRIDE, self._shardlock_F, TIMEOUT, LABEL)


def set_sharded(self: _Any, value: _Any) -> None:
    if value.__class__ is not EXACT or not LOW <= value <= HIGH:
        value = CHECK(value)
    SET_SHARDS(self._raw_F, self._shardlock_F, value, TIMEOUT, LABEL)


def add_through_cell(self: _Any, delta: _Any = 1) -> _Any:
    if delta.__class__ is not int:
        delta = NORMALIZE(delta)
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
    raise OVERFLOW(delta)


def add_real(self: _Any, delta: _Any = 1.0) -> _Any:
    if delta.__class__ is not float:
        delta = NORMALIZE(delta)
    shared = self._raw_F
    if not self._acquire_G(False):
        self._wait_G()
    try:
        total = shared.value + delta
        if LOW <= total <= HIGH or not float_overflows(shared.value, delta):
            shared.value = total
            return shared.value if ROUNDS else total
    finally:
        self._release_G()
    raise OVERFLOW(delta)


def add_item_through_cell(self: _Any, index: _Any, delta: _Any = 1) -> _Any:
    if index.__class__ is not int or not 0 <= index < LENGTH:
        index = ITEM(index)
    if delta.__class__ is not int:
        delta = NORMALIZE(delta)
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
    raise OVERFLOW(delta)


def add_real_item(self: _Any, index: _Any, delta: _Any = 1.0) -> _Any:
    if index.__class__ is not int or not 0 <= index < LENGTH:
        index = ITEM(index)
    if delta.__class__ is not float:
        delta = NORMALIZE(delta)
    shared = self._raw_F
    if not self._acquire_G(False):
        self._wait_G()
    try:
        total = shared[index] + delta
        if LOW <= total <= HIGH or not float_overflows(shared[index], delta):
            shared[index] = total
            return shared[index] if ROUNDS else total
    finally:
        self._release_G()
    raise OVERFLOW(delta)


def add_at(self: _Any, index: object, delta: _Any = 1) -> _Any:
    """An array of several dimensions: its index (a tuple) is its position in C order."""
    return ADD_ITEM(self, flat_index(FIELD, index), delta)


def add_to_shard(self: _Any, delta: _Any = 1) -> None:
    if delta.__class__ is not int:
        delta = NORMALIZE(delta)
    if self._shardfork_F != forks[0]:
        self._shardfork_F, self._shardslot_F = CLAIM(
            self._shardowners_F, self._shardlock_F
        )
    shared = self._cell_F
    slot = self._shardslot_F
    if slot < LAST:  # this process's own shard: no other process writes it
        try:
            shared[slot] += delta
            return
        except ValueError:
            pass
    else:
        lock = self._shardlock_F
        if not lock.acquire(False):
            WAIT(lock)
        try:
            shared[slot] += delta
            return
        except ValueError:
            pass
        finally:
            lock.release()
    raise OVERFLOW(delta)


def add_to_real_shard(self: _Any, delta: _Any = 1.0) -> None:
    if delta.__class__ is not float:
        delta = NORMALIZE(delta)
    if self._shardfork_F != forks[0]:
        self._shardfork_F, self._shardslot_F = CLAIM(
            self._shardowners_F, self._shardlock_F
        )
    shared = self._raw_F
    slot = self._shardslot_F
    if slot < LAST:
        # The process's threads share its shard: between the read and the write no jump or
        # call, where CPython may switch threads. A sum out of range is refused (the value
        # read is written back) unless a term was inf or nan already (x - x != 0).
        current = shared[slot]
        total = current + delta
        fits = (
            (total >= LOW) & (total <= HIGH)
            | (current - current != 0)
            | (delta - delta != 0)
        )
        shared[slot] = (current, total)[fits]
        if fits:
            return
    else:
        lock = self._shardlock_F
        if not lock.acquire(False):
            WAIT(lock)
        try:
            total = shared[slot] + delta
            if LOW <= total <= HIGH or not float_overflows(shared[slot], delta):
                shared[slot] = total
                return
        finally:
            lock.release()
    raise OVERFLOW(delta)


# What every made function's namespace starts from: what the templates read besides their facts.
_TEMPLATE_GLOBALS: dict[str, object] = {
    "__builtins__": _builtins,
    "__name__": __name__,
    "forks": forks,
    "float_overflows": float_overflows,
    "flat_index": flat_index,
    "get_array": get_array,
    "set_array": set_array,
}
