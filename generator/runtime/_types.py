"""What each type code is in C (its ctypes type, widest size, zero value, whether adds go
through a cell), and the names of a struct's members: facts the generator reads too."""

from __future__ import annotations

import ctypes as _ctypes
from typing import Any as _Any

# One struct's fields live in one shared block, at offsets fixed when its module is imported
# (C sizes differ between platforms); a snapshot copies them with one precompiled unpack.

CTYPES: dict[str, _Any] = {
    "c": _ctypes.c_char,
    "u": _ctypes.c_wchar,
    "b": _ctypes.c_byte,
    "B": _ctypes.c_ubyte,
    "h": _ctypes.c_short,
    "H": _ctypes.c_ushort,
    "i": _ctypes.c_int,
    "I": _ctypes.c_uint,
    "l": _ctypes.c_long,
    "L": _ctypes.c_ulong,
    "q": _ctypes.c_longlong,
    "Q": _ctypes.c_ulonglong,
    "f": _ctypes.c_float,
    "d": _ctypes.c_double,
    "?": _ctypes.c_bool,
}
# What each code is called in C, as messages and a field's docstring name it.
C_NAMES = {
    "c": "char",
    "u": "wchar_t",
    "b": "signed char",
    "B": "unsigned char",
    "h": "short",
    "H": "unsigned short",
    "i": "int",
    "I": "unsigned int",
    "l": "long",
    "L": "unsigned long",
    "q": "long long",
    "Q": "unsigned long long",
    "f": "float",
    "d": "double",
    "?": "bool",
}
# Bytes a C type takes where it is widest (long: 8, wchar_t: 4): shards are spaced by this, so
# that the generated code's shard indexes hold on every platform.
_WIDEST = {"u": 4, "l": 8, "L": 8}
SHARD_BYTES = (
    64  # one cache line per shard: owners adding at once do not slow each other
)
# What zeroed shared memory reads as, by kind: a field never written (an array's items), and a
# Redis twin's field its hash lacks; a fixed-capacity string reads as EMPTY.
ZERO: dict[str, _Any] = {
    "int": 0,
    "float": 0.0,
    "bool": False,
    "bytes": b"\0",
    "str": "\0",
}
EMPTY: dict[str, _Any] = {"bytes": b"", "str": ""}


def widest_size(code: str) -> int:
    """Bytes a C type takes on the platform where it is widest: the same on every machine."""
    return _WIDEST.get(code, _ctypes.sizeof(CTYPES[code]))


def shard_stride(code: str) -> int:
    """Items from one shard to the next."""
    return max(1, SHARD_BYTES // widest_size(code))


def field_doc(name: str, code: str, dims: tuple[int, ...]) -> str:
    """A field's docstring where its schema gives none: `Field 'frame': C unsigned char[480][640][3].`
    (dims: an array's shape or a string's capacity)."""
    return f"Field {name!r}: C {C_NAMES[code]}{''.join(f'[{size}]' for size in dims)}."


def adds_through_cell(kind: str, storage: str, locked: bool) -> bool:
    """Whether a field's adds go through a memoryview of its C type (a cell): integers that can
    be added to (locked or sharded). The cell refuses an out-of-range sum before storing it.
    """
    return kind == "int" and storage != "string" and locked


# The members of a struct's instance, per field and per lock group: the generated class declares
# them (its hot paths use them), the runtime sets them in each process.
def raw_slot(name: str) -> str:
    """A field's C object in the block."""
    return f"_raw_{name}"


def cell_slot(name: str) -> str:
    """A field's cell (see adds_through_cell)."""
    return f"_cell_{name}"


def shard_slot(part: str, name: str) -> str:
    """A sharded field's ``lock``, ``owners`` (table), ``fork`` (count of its claim) or ``slot``."""
    return f"_shard{part}_{name}"


SHARD_PARTS = ("lock", "owners", "fork", "slot")


def field_slots(name: str, *, cell: bool, sharded: bool) -> tuple[str, ...]:
    """Every member of one field, in the order the class declares them."""
    return (
        raw_slot(name),
        *((cell_slot(name),) if cell else ()),
        *(shard_slot(part, name) for part in (SHARD_PARTS if sharded else ())),
    )


def group_slots(name: str) -> tuple[str, str, str]:
    """A group's bound lock calls: the first try, the wait when busy, and the release."""
    return f"_acquire_{name}", f"_wait_{name}", f"_release_{name}"
