"""Stage 3: the view-model. Every decision a template needs is made here, once, and named.

Templates only loop over these objects and fill holes; nothing from a schema reaches them
except validated identifiers and values the templates print with ``repr``.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from enum import Enum

from sharedgen import __version__
from sharedgen.runtime import _types as runtime_types
from sharedgen.spec import (
    DEFAULT_GROUP,
    REDIS_SUFFIX,
    SNAPSHOT_SUFFIX,
    FieldSpec,
    SchemaFile,
    StructSpec,
)
from sharedgen.typecodes import Kind


class Storage(Enum):
    """How a field lives in shared memory, and so how it is read and written."""

    SCALAR = "scalar"  # a C value in the struct's block: .value
    ARRAY = "array"  # a C array of numbers or bools: [:] reads a list, [:] = list writes
    STRING = "string"  # a C array of char / wchar_t: .value holds bytes / str up to a NUL
    SHARDED = "sharded"  # one slot per shard, a cache line apart, owned by a process; the value is the sum


# Which methods a field gets beside its property:
#
#   field                         | add | exchange | compare_and_set
#   ------------------------------+-----+----------+----------------
#   int / float scalar            |  x  |    x     |       x
#   bool / char / wchar scalar    |     |    x     |       x
#   fixed-capacity bytes / str    |     |    x     |       x
#   int / float array             | [i] |          |
#   bool array                    |     |          |
#   any field with `lock: false`  |     |          |
#   sharded counter (`shards: N`) |  x  |          |
#
# Without a lock nothing can make a read-modify-write atomic, so such fields only read and write.


# The public methods of tuple (count, index): a snapshot is a NamedTuple, whose field of that name
# replaces the method with its value (as collections.namedtuple allows); type checkers read that
# as an incompatible override, which the snapshot's declaration of the field is declared to be.
TUPLE_METHODS = frozenset(name for name in dir(tuple) if not name.startswith("_"))


@dataclass(frozen=True)
class FieldModel:
    name: str
    doc: str | None  # the schema's docstring of the field (else the runtime writes what it is in C)
    code: str
    storage: Storage
    length: int | None
    shards: int | None
    group: str | None
    value_type: str  # annotation of the property
    snapshot_type: str  # annotation in the snapshot NamedTuple (arrays become tuples)
    setter_type: str  # annotation accepted by the setter
    item_type: str  # arrays: annotation of one item; else the value type
    default: object  # a Python value; templates print it with repr
    default_fill: object  # arrays whose items are all equal: that item (printed as `(item,) * length`)
    has_add: bool
    has_exchange: bool
    # Numeric and bool arrays: the shape (length N is (N,)); None for scalars and strings.
    shape: tuple[int, ...] | None = None
    # Arrays of equal items too big to spell in a signature: made with `None`, which the runtime
    # reads as "the schema's default" and fills from the struct's table (nothing built at import).
    default_in_table: bool = False

    @property
    def is_nd(self) -> bool:
        """An array of several dimensions: read as a memoryview of a copy, indexed by tuples."""
        return self.shape is not None and len(self.shape) > 1

    @property
    def parameter_type(self) -> str:
        """The annotation of the field's parameter of the constructor, create() and open()."""
        return self.setter_type + (" | None" if self.default_in_table else "")

    @property
    def layout_entry(self) -> tuple[object, ...]:
        """The field in the struct's table: name, code, length, group, shards (and an array's shape and fill)."""
        entry: tuple[object, ...] = (self.name, self.code, self.length, self.group, self.shards)
        if self.shape is not None:
            entry += (self.shape, self.default_fill if self.default_in_table else None)
        return entry

    @property
    def property_type(self) -> str:
        """The declaration of the field's property: what reading it gives, what writing it takes."""
        return f"_Property[{self.value_type}, {self.setter_type}]"

    @property
    def add_type(self) -> str:
        """The runtime protocol add_<field> is declared with."""
        if self.is_sharded:
            return f"_AddToShard[{self.item_type}]"
        kind = "_AddAt" if self.is_nd else "_AddItem" if self.is_array else "_Add"
        return f"{kind}[{self.item_type}]"

    @property
    def view_type(self) -> str:
        """The runtime protocol view_<field> is declared with: a locked block, or (no lock) a lasting view."""
        return "_ViewOf" if self.group is not None else "_LastingView"

    @property
    def batch_add_type(self) -> str:
        return "_BatchAddAt" if self.is_nd else "_BatchAddItem" if self.is_array else "_BatchAdd"

    @property
    def is_array(self) -> bool:
        return self.storage is Storage.ARRAY

    @property
    def is_sharded(self) -> bool:
        return self.storage is Storage.SHARDED

    @property
    def adds_through_cell(self) -> bool:
        """Whether the runtime gives the field a cell (runtime_types.adds_through_cell): a slot."""
        locked = self.group is not None or self.is_sharded
        return runtime_types.adds_through_cell(self.item_type, self.storage.value, locked)

    @property
    def shadows_name(self) -> bool:
        """A field called `name` replaces the named struct's `name` (str | None) with its own type;
        a str field's property fits that type, others are declared as the override they are."""
        return self.name == "name" and self.value_type != "str"

    @property
    def shadows_tuple_method(self) -> bool:
        """A field called `count` or `index` replaces the snapshot's tuple method of that name."""
        return self.name in TUPLE_METHODS


@dataclass(frozen=True)
class LockGroup:
    name: str
    fields: tuple[FieldModel, ...]
    view_class: str  # the object `locked_<group>()` yields

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)

    @property
    def addable_fields(self) -> tuple[FieldModel, ...]:
        return tuple(f for f in self.fields if f.has_add)


@dataclass(frozen=True)
class StructModel:
    name: str
    doc: str
    snapshot_class: str
    fields: tuple[FieldModel, ...]
    groups: tuple[LockGroup, ...]  # in lock order
    lock_timeout: float | None
    recover_locks: bool
    has_default_group: bool
    redis: bool  # the struct has a Redis twin (and an `on_redis` method)

    @property
    def redis_class(self) -> str:
        return self.name + REDIS_SUFFIX

    @property
    def field_docs(self) -> dict[str, str]:
        """The docstrings the schema gives its fields, for the struct's table."""
        return {f.name: f.doc for f in self.fields if f.doc}

    @property
    def batch_groups(self) -> tuple[LockGroup, ...]:
        """Groups with fields that batch() can add to (none: the struct has no batch())."""
        return tuple(group for group in self.groups if group.addable_fields)

    @property
    def batch_fields(self) -> tuple[FieldModel, ...]:
        return tuple(f for group in self.batch_groups for f in group.addable_fields)

    @property
    def batch_class(self) -> str:
        return private_class(self.name, "Batch")

    @property
    def group_names(self) -> tuple[str, ...]:
        return tuple(group.name for group in self.groups)

    @property
    def name_parameter(self) -> str:
        """create() and open() take the struct's name as `name`, or as a positional `_name`
        when a field is called `name` (its keyword argument)."""
        return "_name" if any(f.name == "name" for f in self.fields) else "name"

    @property
    def class_parameter(self) -> str:
        """create() and open() take their class as `cls`, or as `_cls` when a field is called `cls`."""
        return "_cls" if any(f.name == "cls" for f in self.fields) else "cls"

    @property
    def slots(self) -> tuple[str, ...]:
        """The struct's own slots (the runtime's base class has the rest), as the runtime's table
        lists them: per group its bound lock calls, per field its C object, cell and shard state."""
        groups = tuple(slot for group in self.groups for slot in runtime_types.group_slots(group.name))
        fields = tuple(
            slot
            for f in self.fields
            for slot in runtime_types.field_slots(f.name, cell=f.adds_through_cell, sharded=f.is_sharded)
        )
        return groups + fields


@dataclass(frozen=True)
class ModuleModel:
    version: str
    source_path: str
    source_hash: str
    doc: str
    structs: tuple[StructModel, ...]

    @property
    def exports(self) -> tuple[str, ...]:
        names: list[str] = []
        for s in self.structs:
            names += [s.name, s.snapshot_class] + ([s.redis_class] if s.redis else [])
        return tuple(names)


# The standard library as generated code uses it, each module under a private alias.
STDLIB_IMPORTS = {
    "_ctypes": "import ctypes as _ctypes",
    "_Callable": "from collections.abc import Callable as _Callable",
    "_Mapping": "from collections.abc import Mapping as _Mapping",
    "_Sequence": "from collections.abc import Sequence as _Sequence",
    "_ContextManager": "from contextlib import AbstractContextManager as _ContextManager",
    "_BaseContext": "from multiprocessing.context import BaseContext as _BaseContext",
    "_Any": "from typing import Any as _Any",
    "_Literal": "from typing import Literal as _Literal",
    "_NamedTuple": "from typing import NamedTuple as _NamedTuple",
    "_SupportsIndex": "from typing import SupportsIndex as _SupportsIndex",
}


PYTHON_TYPES = {Kind.INT: "int", Kind.FLOAT: "float", Kind.BOOL: "bool", Kind.BYTES: "bytes", Kind.STR: "str"}
# What a scalar's setter takes, as the runtime checks it: any integer (numpy's too, through
# __index__), any real number or numpy floating scalar, a bool or numpy bool.
SCALAR_SETTER_TYPES = PYTHON_TYPES | {
    Kind.INT: "int | _SupportsIndex",
    Kind.FLOAT: "float | _Scalar[float]",
    Kind.BOOL: "bool | _Scalar[bool]",
}
# What a field holds before anything is written, as the runtime reads zeroed memory.
ZERO: dict[Kind, int | float | bool | bytes | str] = {kind: runtime_types.ZERO[kind.value] for kind in Kind}
EMPTY = {kind: runtime_types.EMPTY[kind.value] for kind in (Kind.BYTES, Kind.STR)}


def private_class(struct: str, kind: str, group: str = "") -> str:
    """The name of a module-level class serving one struct: `_<Struct>_<Kind>[_<group>]`.

    Names may hold `_` anywhere but first, so the struct's underscores are doubled: the first single
    `_` then ends the struct name, and no two structs meet (`A` with group `b_c` is `_A_Locked_b_c`,
    `A_b` with group `c` is `_A__b_Locked_c`). The capitalized kind (`Locked`, `Batch`) keeps these
    apart from the module's helpers: functions are snake_case, constants UPPER_CASE, classes CapWords.
    """
    return "_".join(("", struct.replace("_", "__"), kind) + ((group,) if group else ()))


def clean_doc(text: str | None, fallback: str) -> str:
    """Docstring text: dedented as Python reads a docstring back, no trailing spaces, never empty."""
    # cleandoc dedents by the lines after the first; when the text starts with blank lines, the
    # first line it keeps was counted among them, and a second pass reaches the fixed point.
    cleaned = inspect.cleandoc(inspect.cleandoc(text or ""))
    lines = (line.rstrip() for line in cleaned.split("\n"))  # only \n: \r stays, escaped
    return "\n".join(lines).strip("\n") or fallback


def build_field(name: str, spec: FieldSpec) -> FieldModel:
    code = spec.code
    kind = code.kind
    python_type = PYTHON_TYPES[kind]
    locked = spec.group is not None
    if spec.shards is not None:
        storage = Storage.SHARDED
        value_type = snapshot_type = python_type
        setter_type = SCALAR_SETTER_TYPES[kind]
        default = ZERO[kind] if spec.default is None else spec.default
    elif spec.length is None and spec.shape is None:
        storage = Storage.SCALAR
        value_type = snapshot_type = python_type
        setter_type = SCALAR_SETTER_TYPES[kind]
        default = ZERO[kind] if spec.default is None else spec.default
    elif kind in EMPTY:  # c and u with a length: fixed-capacity text
        storage = Storage.STRING
        value_type = snapshot_type = setter_type = python_type
        default = EMPTY[kind] if spec.default is None else spec.default
    else:
        storage = Storage.ARRAY
        several = len(spec.dims or ()) > 1
        value_type = "memoryview" if several else f"list[{python_type}]"
        snapshot_type = "memoryview" if several else f"tuple[{python_type}, ...]"
        setter_type = f"_Sequence[{'_Any' if several else python_type}] | _Buffer"
        fill = ZERO[kind] if spec.default is None else spec.default
        # An array of equal items is its item (a default of another array is a short tuple).
        default = fill
    numeric = kind in (Kind.INT, Kind.FLOAT)
    exchangeable = locked and storage in (Storage.SCALAR, Storage.STRING)
    uniform = storage is Storage.ARRAY and (not isinstance(default, tuple) or len(set(default)) == 1)
    fill_item = (default[0] if isinstance(default, tuple) else default) if uniform else None
    items = spec.items
    return FieldModel(
        name=name,
        doc=clean_doc(spec.doc, "") or None,
        code=code.code,
        storage=storage,
        length=items if storage is Storage.ARRAY else spec.length,
        shards=spec.shards,
        group=spec.group,
        value_type=value_type,
        snapshot_type=snapshot_type,
        setter_type=setter_type,
        item_type=python_type,
        default=default,
        default_fill=fill_item,
        has_add=(locked or storage is Storage.SHARDED) and numeric,
        has_exchange=exchangeable,
        shape=spec.dims if storage is Storage.ARRAY else None,
        default_in_table=uniform and (len(spec.dims or ()) > 1 or items > SIGNATURE_ITEMS),
    )


# Arrays of equal items up to this many show their default in signatures, as `(item,) * length`.
SIGNATURE_ITEMS = 16


def build_struct(name: str, spec: StructSpec, *, redis: bool = False) -> StructModel:
    """``redis``: every struct of the project gets its Redis twin, whatever its own ``redis`` key says."""
    fields = tuple(build_field(field_name, field) for field_name, field in spec.fields.items())
    members = {group: tuple(f for f in fields if f.group == group) for group in spec.groups}
    groups = tuple(
        LockGroup(
            name=group,
            fields=grouped,
            view_class=private_class(name, "Locked", group),
        )
        for group, grouped in members.items()
    )
    summary = "; ".join(f"{g.name}: {', '.join(f.name for f in g.fields)}" for g in groups)
    unlocked = ", ".join(f.name for f in fields if f.group is None)
    fallback = f"Shared struct {name}." + (f"\n\nLock groups: {summary}." if summary else "")
    fallback += f"\nWithout a lock: {unlocked}." if unlocked else ""
    return StructModel(
        name=name,
        doc=clean_doc(spec.doc, fallback),
        snapshot_class=name + SNAPSHOT_SUFFIX,
        fields=fields,
        groups=groups,
        lock_timeout=None if spec.lock_timeout is None else float(spec.lock_timeout),
        recover_locks=spec.recover_locks and any(f.group or f.is_sharded for f in fields),
        has_default_group=DEFAULT_GROUP in spec.groups,
        redis=spec.redis or redis,
    )


def build_module(schema: SchemaFile, *, source_path: str, source_hash: str, redis: bool = False) -> ModuleModel:
    structs = tuple(build_struct(name, spec, redis=redis) for name, spec in schema.structs.items())
    return ModuleModel(
        version=__version__,
        source_path=source_path,
        source_hash=source_hash,
        doc=f"Shared structs generated by sharedgen from {source_path}.",
        structs=structs,
    )
