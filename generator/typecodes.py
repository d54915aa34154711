"""The type codes of the schema language and what each one is in C and in Python.

Build-time range checks use the *portable* range of each C type (``long`` is 32 bits on
Windows), so a schema valid on one machine is valid on all and generated code does not
depend on the machine that generated it. Generated modules compute the real ranges at
import time from ``ctypes.sizeof``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from sharedgen.runtime._checks import FLOAT32_MAX
from sharedgen.runtime._types import C_NAMES, widest_size

__all__ = ["FLOAT32_MAX", "TYPE_CODES", "Kind", "TypeCode"]


class Kind(Enum):
    INT = "int"
    FLOAT = "float"
    BOOL = "bool"
    BYTES = "bytes"  # `c`: one byte, or fixed-capacity bytes with a length
    STR = "str"  # `u`: one character, or fixed-capacity str with a length


@dataclass(frozen=True)
class TypeCode:
    code: str
    ctype: str  # name in the ctypes module
    kind: Kind
    signed: bool = True
    portable_bits: int = 0  # integers: bits guaranteed on every platform

    @property
    def c_name(self) -> str:
        """The type as C names it, for messages."""
        return C_NAMES[self.code]

    @property
    def largest_size(self) -> int:
        """Bytes on the platform where the type is widest (long: 8, wchar_t: 4), as the runtime lays it out."""
        return widest_size(self.code)

    @property
    def portable_range(self) -> tuple[int, int]:
        bits = self.portable_bits
        if self.signed:
            return -(1 << (bits - 1)), (1 << (bits - 1)) - 1
        return 0, (1 << bits) - 1


TYPE_CODES: dict[str, TypeCode] = {
    t.code: t
    for t in (
        TypeCode("c", "c_char", Kind.BYTES),
        TypeCode("u", "c_wchar", Kind.STR),
        TypeCode("b", "c_byte", Kind.INT, True, 8),
        TypeCode("B", "c_ubyte", Kind.INT, False, 8),
        TypeCode("h", "c_short", Kind.INT, True, 16),
        TypeCode("H", "c_ushort", Kind.INT, False, 16),
        TypeCode("i", "c_int", Kind.INT, True, 32),
        TypeCode("I", "c_uint", Kind.INT, False, 32),
        TypeCode("l", "c_long", Kind.INT, True, 32),
        TypeCode("L", "c_ulong", Kind.INT, False, 32),
        TypeCode("q", "c_longlong", Kind.INT, True, 64),
        TypeCode("Q", "c_ulonglong", Kind.INT, False, 64),
        TypeCode("f", "c_float", Kind.FLOAT),
        TypeCode("d", "c_double", Kind.FLOAT),
        TypeCode("?", "c_bool", Kind.BOOL),
    )
}
