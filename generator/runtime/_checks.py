"""Value checks: what a field accepts, and the errors that name it when it does not."""

from __future__ import annotations

import math as _math
import numbers as _numbers
import operator as _operator
import sys as _sys
from collections.abc import Iterable as _Iterable
from collections.abc import Sequence as _Sequence
from typing import cast as _cast


def type_name(value: object) -> str:
    """A type's name as users know it: `int`, but `numpy.int64`."""
    kind = type(value)
    return (
        kind.__qualname__
        if kind.__module__ == "builtins"
        else f"{kind.__module__}.{kind.__qualname__}"
    )


def int_range(size: int, signed: bool) -> tuple[int, int]:
    """The range of a C integer of ``size`` bytes: sizes differ between platforms."""
    bits = 8 * size
    if signed:
        return -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    return 0, (1 << bits) - 1


def as_int(value: object, name: str) -> int:
    """An exact integer (int, bool or any type with __index__); never a float."""
    try:
        return _operator.index(value)  # type: ignore[arg-type]
    except TypeError:
        raise TypeError(f"{name} must be an int, not {type_name(value)}") from None


def shown_number(value: object) -> str:
    """A number as an error shows it: a huge int by its size, not its thousands of digits."""
    if isinstance(value, int) and abs(value) >= 10**30:
        digits = int(_math.log10(abs(value))) + 1
        return f"{'-' if value < 0 else ''}an int of {digits} digits"
    return repr(value) if isinstance(value, float) else str(value)


def check_int(value: object, low: int, high: int, name: str) -> int:
    if not isinstance(value, int):
        value = as_int(value, name)
    if not low <= value <= high:
        raise OverflowError(
            f"{name} = {shown_number(value)} is out of range [{low}, {high}]"
        )
    return value


def check_float(value: object, limit: float, name: str) -> float:
    """A real number as float; finite values beyond the C type's range raise."""
    if isinstance(value, float):
        number = value
    elif isinstance(value, (int, _numbers.Real)):
        try:
            number = float(value)
        except OverflowError:  # an int beyond every float
            raise OverflowError(
                f"{name} = {shown_number(value)} is out of range for a C float"
            ) from None
    else:
        raise TypeError(f"{name} must be a float, not {type_name(value)}")
    if abs(number) > limit and _math.isfinite(number):
        raise OverflowError(f"{name} = {number} is out of range for a C float")
    return number


def add_overflow(name: str, delta: float, low: float, high: float) -> OverflowError:
    return OverflowError(
        f"{name} + {shown_number(delta)} would leave the range [{low}, {high}]"
    )


def batch_refused(
    owner: str, groups: _Iterable[str], errors: _Iterable[OverflowError]
) -> OverflowError:
    names = ", ".join(map(repr, groups))
    reasons = "; ".join(dict.fromkeys(map(str, errors)))
    return OverflowError(
        f"{owner}: the batched adds of group {names} did not land and stay pending: {reasons}"
    )


def float_overflows(current: float, delta: float) -> bool:
    """Whether a sum out of range came from finite numbers (inf + 1 is no overflow)."""
    return _math.isfinite(current) and _math.isfinite(delta)


def check_bool(value: object, name: str) -> bool:
    if value is True or value is False:
        return value
    if type_name(value) in _NUMPY_BOOLS:
        return bool(value)
    raise TypeError(f"{name} must be a bool, not {type_name(value)}")


def check_char(value: object, name: str) -> bytes:
    if not isinstance(value, bytes):
        raise TypeError(f"{name} must be bytes, not {type_name(value)}")
    if len(value) != 1:
        raise ValueError(f"{name} must be exactly one byte, not {len(value)}")
    return value


def check_wchar(value: object, name: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str, not {type_name(value)}")
    if len(value) != 1:
        raise ValueError(f"{name} must be exactly one character, not {len(value)}")
    return value


def check_bytes(value: object, capacity: int, name: str) -> bytes:
    if not isinstance(value, bytes):
        raise TypeError(f"{name} must be bytes, not {type_name(value)}")
    if len(value) > capacity:
        raise ValueError(f"{name} holds at most {capacity} bytes, not {len(value)}")
    if b"\0" in value:
        raise ValueError(f"{name} cannot hold a NUL byte (it ends the C string)")
    return value


def check_text(value: object, capacity: int, name: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str, not {type_name(value)}")
    if len(value) > capacity:
        raise ValueError(
            f"{name} holds at most {capacity} characters, not {len(value)}"
        )
    if "\0" in value:
        raise ValueError(f"{name} cannot hold a NUL character (it ends the C string)")
    return value


def check_items(values: object, length: int, name: str) -> list[object]:
    """The items of anything that behaves as a sequence (a list, a tuple, array.array, a numpy
    array, ...): sized and indexable, but not text, bytes or a mapping."""
    kind = type(values)
    if (
        isinstance(values, (str, bytes, bytearray))
        or hasattr(kind, "keys")  # a mapping
        or not hasattr(kind, "__len__")
        or not hasattr(kind, "__getitem__")
    ):
        raise TypeError(f"{name} must be a sequence, not {type_name(values)}")
    try:
        items = list(_cast("_Sequence[object]", values))
    except TypeError:  # sized and indexable but not iterable, such as a 0-d numpy array
        raise TypeError(f"{name} must be a sequence, not {type_name(values)}") from None
    if len(items) != length:
        raise ValueError(f"{name} has {length} items; got {len(items)}")
    return items


def check_index(index: object, length: int, name: str) -> int:
    """A list-style index (negative counts from the end) into an array of ``length``."""
    position = as_int(index, f"{name} index")
    if not -length <= position < length:
        raise IndexError(f"{name} index {position} out of range for {length} items")
    return position % length


# numpy's bool, named bool_ before numpy 2; recognised by name, so that numpy is never imported.
_NUMPY_BOOLS = ("numpy.bool", "numpy.bool_")
FLOAT32_MAX = 3.4028234663852886e38
FLOAT64_MAX = _sys.float_info.max
