"""How the Redis twin stores each field in its hash: names, encodings, and the zero value of
a field the hash lacks."""

from __future__ import annotations

import struct as _struct
from typing import Any as _Any

from ._layout import Field, Layout


class RedisField:
    """One field as the twin stores it: hash fields, encoding, and the lease guarding it."""

    __slots__ = (
        "name",
        "label",
        "kind",
        "low",
        "high",
        "bounds",
        "length",
        "groups",
        "zero",
        "missing",
        "_names",
    )

    def __init__(
        self,
        name: str,
        label: str,
        kind: str,
        low: float = 0,
        high: float = 0,
        *,
        length: int | None = None,
        zero: _Any,
        group: str | None = None,
    ) -> None:
        self.label = label
        self.kind = kind  # 'int', 'f', 'd', 'bool', 'bytes' or 'str'
        self.low, self.high = low, high
        self.bounds = (kind, repr(low), repr(high))  # as the add script takes them
        self.name, self.length = name, length
        self.groups = () if group is None else (group,)
        self._names: tuple[str, ...] | None = None
        # What the field (an item) reads as when the hash lacks it (the key was deleted), and its
        # stored form: what zeroed shared memory reads as, so that it compares and writes back alike.
        self.zero, self.missing = zero, self.encode(zero)

    @classmethod
    def of(cls, field: Field, layout: Layout) -> RedisField:
        """How the twin stores a field of the struct's table."""
        numeric = field.kind in ("int", "float")
        return cls(
            field.name,
            field.label,
            field.code if field.kind == "float" else field.kind,
            *((field.low, field.high) if numeric else ()),
            length=field.length if field.storage == "array" else None,
            zero=field.zero,
            group=None if field.group is None else layout.groups[field.group].name,
        )

    def decode(self, stored: bytes | None) -> _Any:
        """One stored value (of one item, for arrays) as Python reads the field."""
        if not stored:  # the hash lacks it: what zeroed shared memory reads as
            return self.zero
        kind = self.kind
        if kind == "int":
            return int(stored)
        if kind in ("f", "d"):
            return float(stored)
        if kind == "bool":
            return stored == b"1"
        return stored if kind == "bytes" else stored.decode("utf-8", "surrogatepass")

    @property
    def names(self) -> tuple[str, ...]:
        """The hash fields: the field's name, or one per array item (made on first use, not at import)."""
        if self._names is None:
            length = self.length
            self._names = (
                (self.name,)
                if length is None
                else tuple(f"{self.name}[{i}]" for i in range(length))
            )
        return self._names

    def encode(self, value: _Any) -> bytes:
        """The stored form of one checked value (of one item, for arrays)."""
        kind = self.kind
        if kind == "int":
            return b"%d" % value
        if kind == "f":
            return repr(_struct.unpack("f", _struct.pack("f", value))[0]).encode()
        if kind == "d":
            return repr(value).encode()
        if kind == "bool":
            return b"1" if value else b"0"
        if kind == "str":
            return bytes(value.encode("utf-8", "surrogatepass"))
        return bytes(value)

    def pairs(self, value: _Any) -> list[bytes | str]:
        """Hash field, stored value, ... for a whole checked value."""
        values: tuple[_Any, ...] = (value,) if self.length is None else tuple(value)
        return [
            item
            for name, one in zip(self.names, values, strict=True)
            for item in (name, self.encode(one))
        ]

    def expected(self, value: object) -> bytes | None:
        """How compare_and_set finds ``value`` stored, or None when no stored value equals it."""
        if self.kind in ("int", "bool"):
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            if not isinstance(value, int) or (
                self.kind == "bool" and value not in (0, 1)
            ):
                return None
            return self.encode(value)
        if self.kind in ("f", "d"):
            if not isinstance(value, (int, float)):
                return None
            try:
                as_float = float(value)
            except OverflowError:  # an int beyond every float equals no stored value
                return None
            # As Python compares: an int with a float exactly (2**53 + 1 equals no float, though it
            # rounds to one), and NaN equal to nothing.
            return repr(as_float).encode() if as_float == value else None
        if self.kind == "bytes":
            return value if isinstance(value, bytes) else None
        return self.encode(value) if isinstance(value, str) else None
