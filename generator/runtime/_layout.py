"""A struct's table: each field's C type, offset and checks, its lock groups, and how a
snapshot and a group update read and write the block. Made once per struct class, at import.
"""

from __future__ import annotations

import ctypes as _ctypes
import functools as _functools
import math as _math
import struct as _struct
import sys as _sys
import typing as _typing
from collections.abc import Callable as _Callable
from collections.abc import Iterable as _Iterable
from typing import Any as _Any
from typing import cast as _cast

from ._arrays import array_checker, item_kind
from ._checks import (
    FLOAT32_MAX,
    FLOAT64_MAX,
    add_overflow,
    as_int,
    check_bool,
    check_bytes,
    check_char,
    check_float,
    check_index,
    check_int,
    check_text,
    check_wchar,
    float_overflows,
    int_range,
)
from ._locks import Lock
from ._process import holder, setup_lock
from ._types import (
    CTYPES,
    EMPTY,
    ZERO,
    adds_through_cell,
    field_doc,
    field_slots,
    group_slots,
    shard_stride,
)

if _typing.TYPE_CHECKING:
    from ._base import Batch, View
    from ._robust import Journal


_WCHAR_CODEC = f"utf-{8 * _ctypes.sizeof(_ctypes.c_wchar)}-{_sys.byteorder[0]}e"
# Arrays bigger than this are not journaled (a journal doubles their memory and copies them at
# every write of their group): their write generation tells a torn one from a whole one instead.
JOURNAL_LIMIT = 4096


class Field:
    """One field of a struct: where it lives in the block, and how its values are checked."""

    __slots__ = (
        "name",
        "label",
        "code",
        "length",
        "group",
        "shards",
        "stride",
        "storage",
        "ctype",
        "offset",
        "kind",
        "low",
        "high",
        "cell",
        "check",
        "rule",
        "in_steps",
        "shape",
        "items",
        "nbytes",
        "kind_key",
        "fill",
        "bulk",
        "packed",
        "zero",
    )

    def __init__(
        self,
        owner: str,
        name: str,
        code: str,
        length: int | None,
        group: int | None,
        shards: int | None,
        shape: tuple[int, ...] | None = None,
        fill: object = None,
    ) -> None:
        self.name, self.label, self.code = name, f"{owner}.{name}", code
        self.group, self.shards = group, shards
        item = CTYPES[code]
        # A numeric or bool array: its shape (length N is (N,)), and its items counted flat.
        if shape is None and length is not None and code not in "cu":
            shape = (length,)
        self.shape: tuple[int, ...] = tuple(shape or ())
        self.items = _math.prod(self.shape) if shape else length or 1
        self.length = self.items if shape else length
        # The value of every item when the struct is made with the schema's default (None passed).
        self.fill = fill
        self.kind = (
            "bytes"
            if code == "c"
            else (
                "str"
                if code == "u"
                else "bool" if code == "?" else "float" if code in "fd" else "int"
            )
        )
        self.stride = shard_stride(code) if shards else 1
        if shards:
            self.storage, self.ctype = "sharded", item * (shards * self.stride)
        elif length is None:
            self.storage, self.ctype = "scalar", item
        else:
            self.storage = "string" if self.kind in ("bytes", "str") else "array"
            self.ctype = item * self.items
        self.nbytes = _ctypes.sizeof(self.ctype)
        # What a buffer written to an array must hold (see _arrays); the others take no buffer.
        self.kind_key = item_kind(code) if self.storage == "array" else None
        # Arrays of several dimensions are read (and kept in snapshots) as memoryviews of a copy.
        self.packed = self.storage == "array" and len(self.shape) > 1
        self.bulk = self.storage == "array" and self.nbytes > JOURNAL_LIMIT
        self.low: float
        self.high: float
        if self.kind == "int":
            self.low, self.high = int_range(_ctypes.sizeof(item), code.islower())
        else:
            limit = FLOAT32_MAX if code == "f" else FLOAT64_MAX
            self.low, self.high = -limit, limit
        self.cell = adds_through_cell(
            self.kind, self.storage, group is not None or shards is not None
        )
        self.zero = (EMPTY if self.storage == "string" else ZERO)[self.kind]
        self.offset = 0
        self.check = self._checker()
        # The exact type and range a value passes unchecked (as the setters), else what checks it.
        exact: _Any = {"int": int, "float": float}.get(self.kind)
        self.rule: tuple[_Any, float, float, _Callable[[object], _Any]] = (
            exact if self.storage == "scalar" else None,
            self.low,
            self.high,
            self.check,
        )
        # Stored in several steps (a C array or string): where locks survive their holders, such
        # a write goes through its group's journal, so that a holder's death leaves it whole.
        self.in_steps = self.storage == "string" or (
            self.storage == "array" and not self.bulk
        )

    def _checker(self) -> _Callable[[object], _Any]:
        """What checks a whole value (TypeError, OverflowError, ValueError), made once per field."""
        label, capacity = self.label, self.length or 0
        if self.storage == "string":
            check = check_bytes if self.kind == "bytes" else check_text
            return _functools.partial(check, capacity=capacity, name=label)
        item = self._item_checker()
        if self.storage != "array":
            return item
        return array_checker(self, item)

    def _item_checker(self) -> _Callable[[object], _Any]:
        kind, label = self.kind, self.label
        if kind == "int":
            low, high = int(self.low), int(self.high)

            def check_int_item(value: object) -> _Any:
                if isinstance(value, int) and low <= value <= high:
                    return value
                return check_int(value, low, high, label)

            return check_int_item
        if kind == "float":
            limit = self.high

            def check_float_item(value: object) -> _Any:
                if isinstance(value, float) and -limit <= value <= limit:
                    return value
                return check_float(value, limit, label)

            return check_float_item
        simple = {"bool": check_bool, "bytes": check_char, "str": check_wchar}[kind]
        return _functools.partial(simple, name=label)

    def plain(self, value: object) -> _Any:
        """A value checked as check() does, as Python holds it: an array's as a list of its items
        (the Redis twin stores those)."""
        checked = self.check(value)
        if self.storage != "array":
            return checked
        return memoryview(checked).cast("B").cast(self.code).tolist()  # type: ignore[call-overload]

    def delta(self, value: object) -> _Any:
        """An add's delta of another type than the field's (numpy ints, Fractions), or TypeError."""
        if self.kind == "float":
            return check_float(value, self.high, self.label)
        return as_int(value, self.label)

    def item(self, index: object) -> int:
        """An array's index of another type, or negative (from the end), or IndexError."""
        return check_index(index, self.items, self.label)

    def overflow(self, delta: object) -> OverflowError:
        """The error of an add whose sum would leave the C type's range."""
        return add_overflow(self.label, _cast(float, delta), self.low, self.high)

    def read(self, storage: _Any) -> _Any:
        return storage[:] if self.storage == "array" else storage.value

    def write(self, storage: _Any, value: _Any) -> None:
        """Store a checked value (an array's: bytes of its size)."""
        if self.storage == "array":
            memoryview(storage).cast("B")[:] = value
        elif self.storage == "sharded":
            storage[:] = [value] + [0] * (len(storage) - 1)
        else:
            storage.value = value

    def writer(self, storage: _Any) -> _Callable[[_Any], None]:
        """write() into one C object, as one call: a scalar's or a string's is its accessor's."""
        if self.storage in ("array", "sharded"):
            return _functools.partial(self.write, storage)
        return accessors(self, storage)[1]

    def fits(self, total: float, current: float, delta: float) -> bool:
        """Whether a sum fits the C type (for floats, inf + 1 is inf, not an overflow)."""
        return self.low <= total <= self.high or (
            self.kind == "float" and not float_overflows(current, delta)
        )

    def unpack_code(self) -> str:
        """The field in a struct module format (native sizes; padding is the layout's)."""
        if self.storage == "sharded":
            return f"{_ctypes.sizeof(self.ctype)}x"
        code = self.code
        if code == "u":
            wide = _ctypes.sizeof(_ctypes.c_wchar)
            return f"{wide * (self.length or 1)}s" if self.length else "IH"[wide == 2]
        if self.storage == "string" or self.packed:
            return f"{self.nbytes}s"
        return f"{self.length or ''}{code}"

    def decode(self, values: tuple[_Any, ...], at: int) -> tuple[_Any, int]:
        """The field's snapshot value from unpacked values starting at ``at``, and the next index."""
        if self.packed:
            packed = memoryview(values[at]).cast(self.code, self.shape)  # type: ignore[call-overload]
            return packed, at + 1
        if self.storage == "array":
            end = at + (self.length or 0)
            return values[at:end], end
        return self.fix(values[at]), at + 1

    def fix(self, value: _Any) -> _Any:
        """One unpacked value as the field reads: a C string up to its NUL, a wchar_t as str."""
        if self.code == "u":
            if self.storage == "string":
                text: str = value.decode(_WCHAR_CODEC, "surrogatepass")
                return text.partition("\0")[0]
            return chr(value)
        if self.storage == "string":
            return value.partition(b"\0")[0]
        return value

    @property
    def fixed(self) -> bool:
        """Whether an unpacked value needs fix() (the others are read as they are)."""
        return self.code == "u" or self.storage == "string"


def accessors(
    field: Field, shared: _Any
) -> tuple[_Callable[[], _Any], _Callable[[_Any], None]]:
    """C calls that read and write a field's whole value in this process."""
    if field.storage in ("array", "sharded"):
        whole = slice(None)
        return (
            _functools.partial(shared.__getitem__, whole),
            _functools.partial(shared.__setitem__, whole),
        )
    value = _cast(_Any, type(shared)).value  # the C type's descriptor
    return (
        _functools.partial(value.__get__, shared),
        _functools.partial(value.__set__, shared),
    )


def aligned(offset: int, alignment: int) -> int:
    return -(-offset // alignment) * alignment


class Group:
    """A lock group: its fields (indexes into the struct's), and where its journal is."""

    __slots__ = (
        "name",
        "fields",
        "arrays",
        "rules",
        "journal_offset",
        "journal_size",
        "staging",
        "packing",
    )

    def __init__(
        self, name: str, fields: tuple[Field, ...], indexes: tuple[int, ...]
    ) -> None:
        self.name, self.fields = name, indexes
        # The array fields, by position among the group's and index among the struct's.
        self.arrays = tuple(
            (position, index)
            for position, (field, index) in enumerate(zip(fields, indexes, strict=True))
            if field.storage == "array"
        )
        self.rules = tuple(f.rule for f in fields)
        self.journal_offset = self.journal_size = 0
        # Where each journaled field's new bytes are staged in the journal, by index.
        self.staging: dict[int, int] = {}
        self.packing: _Packing | None = None


# A group whose fields are numbers side by side in the block (nothing of another group between
# them) is written by update_<group>() in one step: the group's struct format packs all its
# values, checking each integer's range as the field does, and the bytes go into the block at
# once. Its parts: the format's pack; the classes of the values it may be given, where it takes
# more than the fields do (None: integers only, which it takes exactly as the fields do, by
# __index__); and where the group's bytes start and end in the block. Values it refuses (None
# for a field kept, too) take the field by field way, whose checks say what is wrong.
_Packing = tuple[_Callable[..., bytes], tuple[type, ...] | None, tuple[int, int]]
# The value classes of the fields packed, and their codes in a format of standard sizes (which
# have no alignment of their own: the padding is the layout's).
_PACKED_CLASSES: dict[str, type] = dict.fromkeys("bBhHiIlLqQ", int)
_PACKED_CLASSES.update({"d": float, "?": bool})
_STANDARD_CODES = {
    (signed, size): code
    for signed, codes in ((True, "bhiq"), (False, "BHIQ"))
    for size, code in zip((1, 2, 4, 8), codes)  # noqa: B905
}


class GroupUpdate(_typing.NamedTuple):
    """What update_<group>() uses of one group of one struct, found with one lookup."""

    position: int  # among the struct's groups
    rules: tuple[tuple[_Any, float, float, _Callable[[object], _Any]], ...]
    lock: Lock
    # A group written in one step (see _Packing): its pack, value classes, its bytes in the block,
    # and its journal, where the struct has journals.
    packing: (
        tuple[
            _Callable[..., bytes], tuple[type, ...] | None, memoryview, Journal | None
        ]
        | None
    )


# A snapshot from its values, in one C call: they need no checks, and it makes no copy of a tuple
# (called directly: through functools.partial it takes 30 ns more).
new_snapshot: _Callable[[_Any, _Iterable[_Any]], _Any] = _cast(_Any, tuple).__new__
# How snapshot() decodes a struct's unpacked values (Layout.decoding): the snapshot class, the
# C string to cut at its NUL (NO_CUT: none; None: every value is read as it is), and the
# other values to fix (None: field by field).
Decoding = tuple[
    _Any,
    int | None,
    tuple[tuple[int, _Callable[[_Any], _Any]], ...] | None,
]
NO_CUT = -1


class Layout:
    """A struct's fields and lock groups, where each lives in the block, and how a snapshot is read."""

    __slots__ = (
        "name",
        "fields",
        "groups",
        "lock_timeout",
        "recover_locks",
        "field_index",
        "group_index",
        "snapshot",
        "views",
        "batch",
        "size",
        "parked_offset",
        "owners_offsets",
        "unpack",
        "decoding",
        "parks",
        "metadata",
        "gen_offsets",
        "docs",
        "_entries",
        "_working",
    )

    def nothing_pending(self) -> list[_Any]:
        """A batch's sums before any add: zero per scalar, an empty dict per array."""
        return [
            {} if f.storage == "array" else 0.0 if f.kind == "float" else 0
            for f in self.fields
        ]

    def __init__(
        self,
        name: str,
        fields: tuple[tuple[_Any, ...], ...],
        *,
        groups: tuple[str, ...] = (),
        lock_timeout: float | None = None,
        recover_locks: bool = False,
        snapshot: type[tuple[_Any, ...]],
        views: tuple[type[View], ...] = (),
        batch: type[Batch] | None = None,
        docs: dict[str, str] | None = None,
    ) -> None:
        self.name, self.lock_timeout, self.recover_locks = (
            name,
            lock_timeout,
            recover_locks,
        )
        self.snapshot, self.views, self.batch = snapshot, views, batch
        self.docs = docs or {}  # the fields' docstrings the schema gives
        # The rest is worked out when first read (see __getattr__).
        self._entries: tuple[_Any, ...] | None = (fields, groups)
        self._working: tuple[int, int] | None = None  # who is working it out

    def __getattr__(self, name: str) -> _Any:
        """The table's parts, worked out when one is first read (by the struct's first instance,
        or a tool): importing a module of many structs works out none of them. A fork child
        whose parent was working it out (another thread) works it out again."""
        with setup_lock[0]:
            entries = self._entries
            if entries is not None and self._working != holder():
                self._working = holder()
                try:
                    self._work_out(*entries)
                    self._entries = None
                finally:
                    self._working = None
        return object.__getattribute__(self, name)

    def _work_out(
        self, fields: tuple[tuple[_Any, ...], ...], groups: tuple[str, ...]
    ) -> None:
        # Each field: (name, code, length, group, shards), and for an array (shape, fill).
        self.fields = tuple(
            Field(
                self.name,
                field,
                code,
                length,
                None if group is None else groups.index(group),
                shards,
                *array,
            )
            for field, code, length, group, shards, *array in fields
        )
        # Generated code names fields and groups; the runtime keeps them by position.
        self.field_index = {field[0]: index for index, field in enumerate(fields)}
        self.group_index = {group: index for index, group in enumerate(groups)}
        self.groups = tuple(
            Group(
                group,
                tuple(f for f in self.fields if f.group == index),
                tuple(i for i, f in enumerate(self.fields) if f.group == index),
            )
            for index, group in enumerate(groups)
        )
        self.metadata = {
            f.name: {
                "type": f.code,
                "length": f.length,
                "lock": "shards" if f.shards else group or False,
                "shards": f.shards,
                "shape": f.shape or None,
            }
            for f, (_, _, _, group, *_) in zip(self.fields, fields)  # noqa: B905
        }
        offset, format = 0, ["@"]
        for field in self.fields:
            start = aligned(
                offset, 8 if field.shards else _ctypes.alignment(field.ctype)
            )
            field.offset = start
            format += [f"{start - offset}x"] if start > offset else []
            format.append(field.unpack_code())
            offset = start + _ctypes.sizeof(field.ctype)
        self.unpack = _struct.Struct("".join(format)).unpack_from
        # How a snapshot decodes the unpacked values: as they are (plain), one value per field
        # with a few fixed up, or field by field (arrays span several, shards are summed).
        fixed = [i for i, f in enumerate(self.fields) if f.fixed]
        # The first C string is cut at its NUL without a call (most structs have one at most).
        cut = next((i for i in fixed if self.fields[i].code == "c"), NO_CUT)
        fixes = tuple((i, self.fields[i].fix) for i in fixed if i != cut)
        one_each = all(f.storage in ("scalar", "string") for f in self.fields)
        self.decoding: Decoding = (
            self.snapshot,
            None if one_each and not fixed else cut,
            fixes if one_each else None,
        )
        for group in self.groups:
            group.packing = self._packing(group)
        # After the fields: each sharded field's count of claimed shards, each journaled group's
        # saved copy and pending flag, and the parked marks of a struct of several groups.
        offset = aligned(offset, 8)
        self.owners_offsets: dict[int, int] = {}
        for index, field in enumerate(self.fields):
            if field.shards:
                self.owners_offsets[index] = offset
                offset += 16 * (field.shards - 1) or 16
        # Each locked array's write generation (see _arrays).
        self.gen_offsets: dict[int, int] = {}
        for index, field in enumerate(self.fields):
            if field.storage == "array" and field.group is not None:
                self.gen_offsets[index] = offset
                offset += 8
        # Room for every group's journal: used where locks survive their holders (recover_locks,
        # and every named struct), so that a struct's fields sit at the same offsets either way.
        # It holds the new bytes of the group's fields (a packed group's as they lie in the block,
        # staged by one copy), one mark per field, and the pending flag (see Journal).
        for group in self.groups:
            journaled = [i for i in group.fields if not self.fields[i].bulk]
            if group.packing is not None:
                start, end = group.packing[2]
                group.staging = {i: self.fields[i].offset - start for i in journaled}
                staged = end - start
            else:
                group.staging, staged = {}, 0
                for i in journaled:
                    group.staging[i] = staged
                    staged += _ctypes.sizeof(self.fields[i].ctype)
            group.journal_offset = offset
            group.journal_size = staged + len(journaled)
            offset = aligned(offset + group.journal_size + 1, 8)
        # Several groups: snapshot() backs off between their locks (see read_consistently).
        self.parks = len(self.groups) > 1
        self.parked_offset = offset
        if self.parks:
            offset += 8 * len(self.groups)
        self.size = max(offset, 1)

    def field_doc(self, field: Field) -> str:
        """A field's docstring: the schema's, else what it is in C; a sharded field's says so."""
        dims = field.shape or ((field.length,) if field.length else ())
        doc = self.docs.get(field.name) or field_doc(field.name, field.code, dims)
        return doc + (f"\n\nThe sum of {field.shards} shards." if field.shards else "")

    def slots(self) -> tuple[str, ...]:
        """Every member the runtime sets on an instance: the class's __slots__ (made on demand,
        for classes made from a description; a generated class spells them out)."""
        groups = tuple(slot for g in self.groups for slot in group_slots(g.name))
        return groups + tuple(
            slot
            for f in self.fields
            for slot in field_slots(f.name, cell=f.cell, sharded=bool(f.shards))
        )

    def _packing(self, group: Group) -> _Packing | None:
        """How update_<group>() writes the group in one step, where it can (see _Packing)."""
        fields = [self.fields[i] for i in group.fields]
        if not fields or any(
            f.storage != "scalar" or f.code not in _PACKED_CLASSES for f in fields
        ):
            return None
        start, end = fields[0].offset, fields[-1].offset + _ctypes.sizeof(
            fields[-1].ctype
        )
        others = (f for i, f in enumerate(self.fields) if i not in group.fields)
        if any(
            f.offset < end and start < f.offset + _ctypes.sizeof(f.ctype)
            for f in others
        ):
            return None
        format, at = ["="], start
        for field in fields:
            size = _ctypes.sizeof(field.ctype)
            format += [f"{field.offset - at}x"] if field.offset > at else []
            kind = field.code if field.kind != "int" else None
            format.append(kind or _STANDARD_CODES[field.code.islower(), size])
            at = field.offset + size
        packer = _struct.Struct("".join(format))
        assert packer.size == end - start, "standard sizes are the C types' sizes"
        classes = tuple(_PACKED_CLASSES[f.code] for f in fields)
        only_ints = set(classes) == {int}
        return packer.pack, None if only_ints else classes, (start, end)
