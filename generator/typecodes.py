"""The type codes of the schema language and what each one is in C and in Python.

Build-time range checks use the *portable* range of each C type (``long`` is 32 bits on
Windows), so a schema valid on one machine is valid on all and generated code does not
depend on the machine that generated it. Generated modules compute the real ranges at
import time from ``ctypes.sizeof``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


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
    c_name: str  # for messages
    kind: Kind
    signed: bool = True
    portable_bits: int = 0  # integers: bits guaranteed on every platform
    largest_size: int = 0  # bytes on the platform where the type is widest (long: 8, wchar_t: 4)

    @property
    def portable_range(self) -> tuple[int, int]:
        bits = self.portable_bits
        if self.signed:
            return -(1 << (bits - 1)), (1 << (bits - 1)) - 1
        return 0, (1 << bits) - 1


TYPE_CODES: dict[str, TypeCode] = {
    t.code: t
    for t in (
        TypeCode("c", "c_char", "char", Kind.BYTES, largest_size=1),
        TypeCode("u", "c_wchar", "wchar_t", Kind.STR, largest_size=4),
        TypeCode("b", "c_byte", "signed char", Kind.INT, True, 8, 1),
        TypeCode("B", "c_ubyte", "unsigned char", Kind.INT, False, 8, 1),
        TypeCode("h", "c_short", "short", Kind.INT, True, 16, 2),
        TypeCode("H", "c_ushort", "unsigned short", Kind.INT, False, 16, 2),
        TypeCode("i", "c_int", "int", Kind.INT, True, 32, 4),
        TypeCode("I", "c_uint", "unsigned int", Kind.INT, False, 32, 4),
        TypeCode("l", "c_long", "long", Kind.INT, True, 32, 8),
        TypeCode("L", "c_ulong", "unsigned long", Kind.INT, False, 32, 8),
        TypeCode("q", "c_longlong", "long long", Kind.INT, True, 64, 8),
        TypeCode("Q", "c_ulonglong", "unsigned long long", Kind.INT, False, 64, 8),
        TypeCode("f", "c_float", "float", Kind.FLOAT, largest_size=4),
        TypeCode("d", "c_double", "double", Kind.FLOAT, largest_size=8),
        TypeCode("?", "c_bool", "bool", Kind.BOOL, largest_size=1),
    )
}

FLOAT32_MAX = 3.4028234663852886e38
