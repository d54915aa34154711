"""Array fields at memory speed: the buffers a field takes and gives (format, shape, one copy),
its live views under the lock, and its write generation, which tells a torn array from a whole one.

A numeric or bool array lives in the block as its C items in C order. ``memoryview`` is the
common language: a field is viewed as ``block[start:end].cast(code, shape)``, a buffer of the
field's format and shape is written with one copy, anything else is checked item by item
(range, type, shape) and packed first, so that a write that fails changes nothing.

Each array has a write generation in the block, a 64-bit word: odd while a write or a view is
open. A writer that dies part-way (SIGKILL inside a view) leaves it odd; the next process to
take the lock finds it odd with no view of its own open, and the field raises TornArrayError
until it is assigned whole.
"""

from __future__ import annotations

import struct as _struct
import sys as _sys
import typing as _typing
from collections.abc import Callable as _Callable
from contextlib import suppress as _suppress
from typing import Any as _Any
from typing import Protocol as _Protocol
from typing import TypeVar as _TypeVar
from typing import overload as _overload

from ._checks import check_index, check_items, type_name
from ._process import forks


class SupportsArray(_Protocol):
    """A numpy array, as type checkers know it before Python 3.12 (numpy declares __buffer__ from 3.12)."""

    def __array__(self) -> _Any: ...


if _typing.TYPE_CHECKING:
    from _typeshed import ReadableBuffer, WriteableBuffer

    # What array setters take beside sequences: any buffer (numpy arrays, array.array, bytes).
    Buffer: _typing.TypeAlias = ReadableBuffer | SupportsArray

    from ._layout import Field
    from ._locks import Lock
else:
    Buffer = WriteableBuffer = _typing.Any

_B = _TypeVar("_B", bound="WriteableBuffer | SupportsArray")


class TornArrayError(RuntimeError):
    """An array whose last writer died part-way (SIGKILL inside a view, or in a bulk write):
    it holds part of the old value and part of the new. Assign it whole to repair it."""


# What a buffer's items are, by format: (kind, size). Codes of one kind and size hold the same
# bytes ('l' and 'q' on 64-bit Linux), so a buffer of either is copied as it is.
_KINDS = {code: "i" for code in "bhilqn"} | {code: "u" for code in "BHILQN"}
_KINDS.update({"f": "f", "d": "f", "?": "?"})
_NATIVE_ORDER = "<" if _sys.byteorder == "little" else ">"


def item_kind(format: str) -> tuple[str, int] | None:
    """The kind and size of a buffer format's items in native byte order (None: no native number)."""
    order, code = (format[0], format[1:]) if format[:1] in "@=<>!" else ("@", format)
    kind = _KINDS.get(code)
    if kind is None or (
        order in "<>!" and ("<" if order == "<" else ">") != _NATIVE_ORDER
    ):
        return None
    try:
        size = _struct.calcsize(order + code)
    except _struct.error:
        return None
    return kind, size


class Region:
    """One array field in one process: its bytes in the block, its items, and its generation."""

    __slots__ = ("field", "raw", "flat", "gen", "open", "fork")

    def __init__(
        self, field: Field, block: memoryview, start: int, gen: memoryview | None
    ) -> None:
        self.field = field
        self.raw = block[start : start + field.nbytes]  # format B
        # One dimension, for item adds and list reads.
        self.flat: _Any = self.raw.cast(field.code)  # type: ignore[call-overload]
        self.gen = gen  # None: the field has no lock, and no generation
        self.open = 0  # views of it open in this process (under the lock)
        self.fork = forks[0]

    def view(self) -> memoryview:
        field = self.field
        view: memoryview = self.raw.cast(field.code, field.shape)  # type: ignore[call-overload]
        return view

    def mine(self) -> bool:
        """Whether a view of this process is open (the generation is odd because of it)."""
        return self.open > 0 and self.fork == forks[0]

    def check_whole(self) -> None:
        """TornArrayError if the last writer died part-way (called holding the lock)."""
        gen = self.gen
        if gen is not None and gen[0] & 1 and not self.mine():
            raise torn(self.field)

    def store(self, source: _Any) -> None:
        """Write a checked value (bytes of the field's size), holding the lock."""
        gen = self.gen
        if gen is None or self.mine():
            self.raw[:] = source
            return
        gen[0] |= 1
        self.raw[:] = source
        gen[0] += 1

    def put_items(self, totals: dict[int, _Any]) -> None:
        """Store items (a batch's sums, checked), holding the lock."""
        gen, flat = self.gen, self.flat
        marking = gen is not None and not self.mine()
        if marking:
            gen[0] |= 1  # type: ignore[index]
        for item, total in totals.items():
            flat[item] = total
        if marking:
            gen[0] += 1  # type: ignore[index]

    def whole(self) -> None:
        """The field was just written whole (through its group's journal): not torn any more."""
        gen = self.gen
        if gen is not None and gen[0] & 1 and not self.mine():
            gen[0] += 1

    def begin(self) -> None:
        """A view opens (holding the lock)."""
        if self.fork != forks[0]:  # counts of a parent process's views
            self.open, self.fork = 0, forks[0]
        if not self.open:
            self.check_whole()
            if self.gen is not None:
                self.gen[0] |= 1
        self.open += 1

    def end(self) -> None:
        self.open -= 1
        if not self.open and self.gen is not None:
            self.gen[0] += 1

    def copy(self) -> memoryview:
        """A new writable copy in the field's format and shape (holding the lock)."""
        field = self.field
        copy: memoryview = memoryview(bytearray(self.raw)).cast(field.code, field.shape)  # type: ignore[call-overload]
        return copy

    def read(self) -> _Any:
        """The value a field's attribute reads: a list for one dimension, else a copy."""
        self.check_whole()
        if len(self.field.shape) == 1:
            return self.flat.tolist()
        return self.copy()


def torn(field: Field) -> TornArrayError:
    return TornArrayError(
        f"{field.label} is torn: a process died while writing it (inside a view, or in a write of"
        f" an array this big), and it holds part of two values; assign it whole (s.{field.name} = ...)"
        " to repair it"
    )


def shape_text(shape: tuple[int, ...]) -> str:
    return "(" + ", ".join(map(str, shape)) + ("," if len(shape) == 1 else "") + ")"


def as_buffer(field: Field, value: object) -> memoryview | None:
    """The bytes of a buffer of the field's format and shape (or of its size, for bytes into a
    B array), without a copy where it is C-contiguous; None for a value that is not such a buffer.
    ValueError for a buffer of the field's format but another shape."""
    if isinstance(value, (list, tuple, range)):
        return None
    try:
        source = memoryview(value)  # type: ignore[arg-type]
    except TypeError:
        return None
    if item_kind(source.format) != field.kind_key or not source.ndim:
        return None
    if source.shape != field.shape and not (field.code == "B" and source.ndim == 1):
        raise ValueError(
            f"{field.label} has shape {shape_text(field.shape)}; got a buffer of shape {shape_text(source.shape or ())}"
        )
    if source.nbytes != field.nbytes:
        raise ValueError(
            f"{field.label} holds {field.nbytes} bytes; got {source.nbytes}"
        )
    if not source.c_contiguous:
        return memoryview(source.tobytes())
    return source.cast("B") if source.format != "B" or source.ndim != 1 else source


def items_of(field: Field, value: object) -> list[object]:
    """The items of a sequence (nested, one level per dimension), flattened in C order; ValueError
    for another shape, TypeError for what is not a sequence."""
    shape = field.shape
    try:
        source = memoryview(value)  # type: ignore[arg-type]
    except TypeError:
        pass
    else:  # a buffer of another format (a numpy array of another dtype) is checked item by item
        if source.ndim and source.shape != shape:
            raise ValueError(
                f"{field.label} has shape {shape_text(shape)}; got a buffer of shape {shape_text(source.shape or ())}"
            )
    if len(shape) == 1:
        return check_items(value, shape[0], field.label)
    flat: list[object] = []

    def walk(rows: object, depth: int) -> None:
        items = check_items(rows, shape[depth], f"{field.label}{'[...]' * depth}")
        if depth == len(shape) - 1:
            flat.extend(items)
            return
        for row in items:
            walk(row, depth + 1)

    try:
        walk(value, 0)
    except ValueError:
        raise ValueError(
            f"{field.label} has shape {shape_text(shape)}; got a value of another shape"
        ) from None
    return flat


def array_checker(
    field: Field, item: _Callable[[object], _Any]
) -> _Callable[[object], _Any]:
    """What checks an array field's whole value: a buffer of its format and shape as it is (one
    copy later), anything else item by item, packed. The result is bytes-like, of the field's size.
    """
    pack = _struct.Struct(f"@{field.items}{field.code}").pack

    def check_array(value: object) -> _Any:
        source = as_buffer(field, value)
        if source is not None:
            return source
        return pack(*[item(one) for one in items_of(field, value)])

    return check_array


def flat_index(field: Field, index: object) -> int:
    """The position in C order of an index with one item per dimension (an int for one dimension)."""
    shape = field.shape
    if len(shape) == 1 and not isinstance(index, tuple):
        return check_index(index, shape[0], field.label)
    if not isinstance(index, tuple) or len(index) != len(shape):
        raise IndexError(
            f"{field.label} has {len(shape)} dimensions: index it with a tuple of {len(shape)} ints, not {index!r}"
            if isinstance(index, tuple)
            else f"{field.label} has {len(shape)} dimensions: index it with a tuple of {len(shape)} ints, not {type_name(index)}"
        )
    position = 0
    for part, size in zip(index, shape):  # noqa: B905
        position = position * size + check_index(part, size, field.label)
    return position


def fill(raw: memoryview, code: str, value: object) -> None:
    """Set every item of an array to one value, in a few copies (nothing to do for zeros, as
    every block starts zeroed)."""
    item = _struct.pack("@" + code, value)
    if not any(item):
        return
    raw[: len(item)] = item
    done, total = len(item), len(raw)
    while done < total:
        step = min(done, total - done)
        raw[done : done + step] = raw[:step]
        done += step


def check_out(field: Field, out: object) -> memoryview:
    """The bytes of a writable buffer of the field's format and shape (or size, for B), or TypeError/ValueError."""
    try:
        target = memoryview(out)  # type: ignore[arg-type]
    except TypeError:
        raise TypeError(
            f"copy_{field.name}(out=...) takes a writable buffer, not {type_name(out)}"
        ) from None
    if target.readonly:
        raise TypeError(
            f"copy_{field.name}(out=...) takes a writable buffer; {type_name(out)} is read-only"
        )
    if item_kind(target.format) != field.kind_key and not (
        field.code == "B" and target.format in ("b", "c")
    ):
        raise TypeError(
            f"{field.label} holds items of format {field.code!r}; out= has format {target.format!r}"
        )
    if target.shape != field.shape and not (field.code == "B" and target.ndim == 1):
        raise ValueError(
            f"{field.label} has shape {shape_text(field.shape)}; out= has shape {shape_text(target.shape or ())}"
        )
    if target.nbytes != field.nbytes or not target.c_contiguous:
        raise ValueError(
            f"copy_{field.name}(out=...) needs a C-contiguous buffer of {field.nbytes} bytes"
        )
    return target.cast("B") if target.format != "B" or target.ndim != 1 else target


# What generated classes declare for their arrays' members (made by the runtime per class).
class ViewOf(_Protocol):
    def __call__(self) -> _typing.ContextManager[memoryview]:
        """The field's lock held around a writable memoryview of the live array."""
        ...


class LastingView(_Protocol):
    def __call__(self) -> memoryview:
        """A writable memoryview of the live array (no lock: the field's single writer's)."""
        ...


class CopyOf(_Protocol):
    @_overload
    def __call__(self, out: None = None) -> memoryview: ...
    @_overload
    def __call__(self, out: _B) -> _B: ...
    def __call__(self, out: _Any = None) -> _Any:
        """A copy of the array taken under its lock: into out (a writable buffer of the field's
        format and shape), or into a new memoryview of them."""
        ...


# References to a view when nothing else holds it, in LockedView.__exit__: its local name,
# getrefcount's argument, and the name the with statement bound it to.
_UNHELD = 3


class LockedView:
    """``with s.view_<field>() as v``: the group's lock held around a live memoryview ``v``.

    When the block ends the memoryview is released (using it raises ValueError), unless something
    else holds it. An object made from it (numpy.asarray(v), torch.frombuffer(v)) keeps the block
    mapped, so it stays safe to use, but it is no longer under the lock.
    """

    __slots__ = ("_struct", "_group", "_lock", "_region", "_view", "_fork")

    def __init__(self, struct: _Any, group: int, region: Region) -> None:
        self._struct, self._group, self._region = struct, group, region

    def __enter__(self) -> memoryview:
        lock: Lock = self._struct._take(self._group)
        region = self._region
        try:
            region.begin()
        except BaseException:
            lock.release()
            raise
        self._lock, self._fork = lock, forks[0]
        self._view = view = region.view()
        return view

    def __exit__(self, *exc_info: object) -> None:
        view = self._view
        del self._view
        # Released, so that using it later raises ValueError, unless something else holds it: a
        # torch tensor of it keeps a reference but no buffer, and released, the block could be
        # unmapped under the tensor. Held (or with a buffer taken from it: numpy), it keeps the
        # block mapped, no longer under the lock.
        if _sys.getrefcount(view) <= _UNHELD:
            with _suppress(BufferError):
                view.release()
        if (
            self._fork != forks[0]
        ):  # a fork child's copy of the view: the lock is the parent's
            return
        self._region.end()
        self._lock.release()


# SharedStruct's array members (``self`` is the struct).
def get_array(self: _Any, name: str) -> _Any:
    """An array field's value: a list (one dimension) or a memoryview of a copy (several)."""
    region: Region = self._regions[self.__sharedgen_layout__.field_index[name]]
    group = region.field.group
    if group is None:
        return region.read()
    lock = self._take(group)
    try:
        return region.read()
    finally:
        lock.release()


def set_array(self: _Any, name: str, value: object) -> None:
    """Write an array field whole: a buffer of its format and shape in one copy, anything else
    checked item by item first; under its lock, journaled where it is small."""
    layout = self.__sharedgen_layout__
    index = layout.field_index[name]
    field = layout.fields[index]
    checked = field.check(value)
    group = field.group
    if group is None:
        self._regions[index].store(checked)
        return
    lock = self._take(group)
    try:
        self._store(index, checked)
    finally:
        lock.release()
