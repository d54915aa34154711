"""A struct's twin in one Redis hash, for processes on several machines: a lease per lock
group, every operation one script call. Imported only by modules that have a twin."""

from __future__ import annotations

import importlib as _importlib
import os as _os
import threading as _threading
import time as _time
from collections.abc import Iterator as _Iterator
from contextlib import contextmanager as _contextmanager
from types import TracebackType as _TracebackType
from typing import Any as _Any
from typing import ClassVar as _ClassVar
from typing import TypeVar as _TypeVar
from typing import cast as _cast

from . import _lua
from ._base import (
    StructBase,
    end_view,
    named_function,
    ready,
    swap_members,
    written_back,
)
from ._checks import add_overflow, batch_refused, check_index
from ._layout import Layout, new_snapshot
from ._locks import Lock, lock_timeout_error
from ._redis_fields import RedisField

_S = _TypeVar("_S")
_T = _TypeVar("_T")

# Connection settings a twin carries to another process, and redis.Redis()'s names for them.
_CLIENT_SETTINGS = {
    name: name
    for name in (
        "host",
        "port",
        "db",
        "username",
        "password",
        "socket_timeout",
        "socket_connect_timeout",
        "client_name",
    )
} | {"path": "unix_socket_path"}
# How long a lease lasts when the struct has no lock_timeout (seconds).
_DEFAULT_LEASE = 30.0
# Waiting for another client's lease: the first pause, doubling up to the longest.
_FIRST_PAUSE, _LONGEST_PAUSE = 0.0001, 0.002


def _lease_timeout(owner: str, group: str, seconds: float) -> TimeoutError:
    return lock_timeout_error(
        owner, group, seconds, "another client holds its lease on Redis"
    )


class _RedisLease:
    """A lock group's lock on Redis: a key holding the holder's token, expiring after the lease.

    Re-entrant within a thread, like the shared-memory struct's locks.
    """

    __slots__ = (
        "_owner",
        "_group",
        "_client",
        "_scripts",
        "_hash",
        "key",
        "_lease_ms",
        "_wait",
        "_token",
        "_thread",
        "_depth",
    )

    def __init__(
        self,
        owner: str,
        group: str,
        client: _Any,
        scripts: tuple[_Any, _Any],
        hash_key: str,
        lease: float,
        wait: float | None,
    ) -> None:
        self._owner, self._group, self._client = owner, group, client
        self._scripts = scripts  # take, release
        self._hash = hash_key
        self.key = f"{hash_key}:lease:{group}"
        self._lease_ms = max(1, round(lease * 1000))
        self._wait = wait
        self._token = ""
        self._thread: int | None = None
        self._depth = 0

    def token(self) -> str:
        """The token this thread holds the lease with, or ''."""
        return self._token if self._thread == _threading.get_ident() else ""

    def outermost(self) -> bool:
        """Whether releasing once would end this thread's hold."""
        return self._depth == 1 and self._thread == _threading.get_ident()

    def take(
        self, names: list[str], block: bool = True, timeout: float | None = None
    ) -> list[bytes | None] | None:
        """Acquire (or re-enter) and read hash fields ``names`` in the same round trip; None if not acquired."""
        if self._thread == _threading.get_ident():
            self._depth += 1
            return list(self._client.hmget(self._hash, names)) if names else []
        token = _os.urandom(16).hex()
        waiter = None
        while True:
            reply = self._scripts[0](
                keys=[self._hash, self.key], args=[token, self._lease_ms, *names]
            )
            if reply[0] == 0:
                break
            waiter = waiter or _Waiter(
                self._owner, self._group, self._wait if timeout is None else timeout
            )
            if not block or not waiter.pause():
                return None
        self._token, self._thread, self._depth = token, _threading.get_ident(), 1
        return list(reply[1:])

    def ended(self) -> None:
        """The holder's last write deleted the lease in the same script."""
        self._token, self._thread, self._depth = "", None, 0

    def acquire(self, block: bool = True, timeout: float | None = None) -> bool:
        return self.take([], block, timeout) is not None

    def release(self) -> None:
        if self._thread != _threading.get_ident():
            raise RuntimeError("cannot release un-acquired lock")
        self._depth -= 1
        if self._depth == 0:
            token, self._token, self._thread = self._token, "", None
            self._scripts[1](keys=[self.key], args=[token])

    def __enter__(self) -> bool:
        if not self.acquire():
            raise _lease_timeout(self._owner, self._group, self._wait or 0.0)
        return True

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: _TracebackType | None,
        /,
    ) -> None:
        self.release()


class _Waiter:
    """Pauses between attempts while another client holds a lease, up to a deadline."""

    __slots__ = ("_owner", "_group", "_seconds", "_deadline", "_pause")

    def __init__(self, owner: str, group: str, seconds: float | None) -> None:
        self._owner, self._group, self._seconds = owner, group, seconds
        self._deadline = None if seconds is None else _time.monotonic() + seconds
        self._pause = _FIRST_PAUSE

    def pause(self) -> bool:
        """Wait a little; False once the deadline has passed (one last attempt is made at it)."""
        if self._deadline is None:
            _time.sleep(self._pause)
        else:
            left = self._deadline - _time.monotonic()
            if left <= 0:
                return False
            _time.sleep(min(self._pause, left))
        self._pause = min(self._pause * 2, _LONGEST_PAUSE)
        return True

    def timeout(self) -> TimeoutError:
        return _lease_timeout(self._owner, self._group, self._seconds or 0.0)


class RedisStruct(StructBase[_S]):
    """A struct's twin in one Redis hash: a lease per lock group, every operation one script call.

    It reads the struct's own table (``__sharedgen_layout__``); the generated subclass adds the typed members.
    """

    __slots__ = (
        "_client",
        "_key",
        "_lease",
        "_leases",
        "_write_script",
        "_swap_script",
        "_add_script",
    )

    __sharedgen_layout__: _ClassVar[Layout]
    _defaults: _ClassVar[tuple[object, ...]]
    _fields: _ClassVar[tuple[RedisField, ...]]

    @classmethod
    def _finish_class(cls, layout: Layout) -> None:
        cls._fields = tuple(RedisField.of(field, layout) for field in layout.fields)

    @staticmethod
    def _make_property(layout: Layout, index: int) -> property:
        """A twin's field: read and written with one script call each."""
        spec = layout.fields[index]
        name = spec.name

        def get(self: RedisStruct[_Any]) -> _Any:
            return self._get(name)

        def set(self: RedisStruct[_Any], value: object) -> None:
            self._set(name, value)

        return property(get, set, None, layout.field_doc(spec))

    @staticmethod
    def _make_add(layout: Layout, field: str) -> _Any:
        """A twin's add_<field>: one script call (which checks the sum's range)."""
        spec = layout.fields[layout.field_index[field]]
        unit = 1.0 if spec.kind == "float" else 1
        if spec.storage == "array":

            def add_item(
                self: RedisStruct[_Any], index: object, delta: _Any = unit
            ) -> _Any:
                return self._add_item(field, index, delta)

            doc = f"Atomically add delta to {field}[index]; return the new value."
            return named_function(add_item, f"add_{field}", doc)
        if spec.shards:

            def add_to_shards(self: RedisStruct[_Any], delta: _Any = unit) -> None:
                self._add(field, delta)

            doc = f"Atomically add delta to {field}."
            return named_function(add_to_shards, f"add_{field}", doc)

        def add(self: RedisStruct[_Any], delta: _Any = unit) -> _Any:
            return self._add(field, delta)

        doc = f"Atomically add delta to {field}; return the new value."
        return named_function(add, f"add_{field}", doc)

    @staticmethod
    def _make_swaps(layout: Layout, field: str) -> tuple[_Any, _Any]:
        """A twin's exchange_<field> and compare_and_set_<field>: one script call each."""

        def exchange(self: RedisStruct[_Any], value: _Any) -> _Any:
            return self._exchange(field, value)

        def compare_and_set(
            self: RedisStruct[_Any], expected: _Any, value: _Any
        ) -> bool:
            return self._compare_and_set(field, expected, value)

        return swap_members(field, exchange, compare_and_set)

    def __init__(self, client: _Any, key: str, *, lease: float | None = None) -> None:
        ready(type(self))
        layout = self.__sharedgen_layout__
        settings = getattr(
            getattr(client, "connection_pool", None), "connection_kwargs", {}
        )
        if settings.get("decode_responses"):
            raise ValueError(
                f"{layout.name} on Redis needs a client made with decode_responses=False (the default)"
            )
        self._client, self._key = client, key
        self._lease = lease
        leases = layout.lock_timeout if lease is None else lease
        scripts = (
            client.register_script(_lua.TAKE),
            client.register_script(_lua.RELEASE),
        )
        self._leases = {
            group.name: _RedisLease(
                layout.name,
                group.name,
                client,
                scripts,
                key,
                leases or _DEFAULT_LEASE,
                layout.lock_timeout,
            )
            for group in layout.groups
        }
        self._write_script = client.register_script(_lua.WRITE)
        self._swap_script = client.register_script(_lua.SWAP)
        self._add_script = client.register_script(_lua.ADD)
        defaults = [
            item
            for field, value in zip(self._fields, self._defaults, strict=True)
            for item in field.pairs(value)
        ]
        client.register_script(_lua.DEFAULTS)(keys=[key], args=defaults)

    def __reduce__(self) -> tuple[object, ...]:
        """Travels as its key and connection settings: the receiving process connects anew."""
        given = self._client.connection_pool.connection_kwargs
        settings = {
            _CLIENT_SETTINGS[name]: value
            for name, value in given.items()
            if name in _CLIENT_SETTINGS
        }
        return _attach, (type(self), settings, self._key, self._lease)

    def _call(self, script: _Any, groups: tuple[str, ...], args: list[_Any]) -> _Any:
        """Run a script on the hash and the groups' leases, waiting while another client holds one."""
        layout = self.__sharedgen_layout__
        leases = [self._leases[group] for group in groups]
        keys = [self._key, *(lease.key for lease in leases)]
        waiter = None
        while True:
            tokens = [lease.token() for lease in leases] or [""]
            reply = script(keys=keys, args=[*tokens, *args])
            if reply.__class__ is not list or reply[0] != 1:
                break
            busy: int = reply[1]
            waiter = waiter or _Waiter(
                layout.name, groups[busy - 1], layout.lock_timeout
            )
            if not waiter.pause():
                raise waiter.timeout()
        if reply.__class__ is list and reply[0] == 2:
            lost: int = reply[1]
            raise TimeoutError(
                f"{layout.name}: the lease on lock group {groups[lost - 1]!r} ran out before the block ended; "
                "nothing was written"
            )
        return reply

    def _read(self, *fields: RedisField) -> _Iterator[bytes | None]:
        """The stored values of fields in order (array items one by one), read in one command."""
        return iter(
            self._client.hmget(
                self._key, [name for field in fields for name in field.names]
            )
        )

    def _decoded(
        self, field: RedisField, values: _Iterator[bytes | None], array: _Any
    ) -> _Any:
        """One field's value from the stored values of ``values`` (arrays take their items)."""
        if field.length is None:
            return field.decode(next(values))
        return array(field.decode(next(values)) for _ in range(field.length))

    def _get(self, name: str) -> _Any:
        index = self.__sharedgen_layout__.field_index[name]
        field = self._fields[index]
        return self._decoded(field, self._read(field), list)

    def _set(self, name: str, value: object) -> None:
        index = self.__sharedgen_layout__.field_index[name]
        field = self._fields[index]
        checked = self.__sharedgen_layout__.fields[index].plain(value)
        self._call(self._write_script, field.groups, ["", *field.pairs(checked)])

    def _add(self, name: str, delta: object) -> _Any:
        index = self.__sharedgen_layout__.field_index[name]
        spec = self.__sharedgen_layout__.fields[index]
        if delta.__class__ is not (float if spec.kind == "float" else int):
            delta = spec.delta(delta)
        return self._fields[index].decode(self._add_to((self._fields[index], 0, delta)))  # type: ignore[arg-type]

    def _add_item(self, name: str, item: object, delta: object) -> _Any:
        index = self.__sharedgen_layout__.field_index[name]
        spec = self.__sharedgen_layout__.fields[index]
        position = check_index(item, spec.length or 0, spec.label)
        if delta.__class__ is not (float if spec.kind == "float" else int):
            delta = spec.delta(delta)
        return self._fields[index].decode(self._add_to((self._fields[index], position, delta)))  # type: ignore[arg-type]

    def _exchange(self, name: str, value: _T) -> _T:
        index = self.__sharedgen_layout__.field_index[name]
        field = self._fields[index]
        checked = self.__sharedgen_layout__.fields[index].plain(value)
        reply: bytes = self._call(
            self._swap_script,
            field.groups,
            [field.name, field.encode(checked), "any", "", field.missing],
        )
        old: _T = field.decode(reply[1:])
        return old

    def _compare_and_set(self, name: str, expected: object, value: object) -> bool:
        index = self.__sharedgen_layout__.field_index[name]
        field = self._fields[index]
        checked = self.__sharedgen_layout__.fields[index].plain(value)
        stored = field.expected(expected)
        if stored is None:
            return False
        mode = "number" if field.kind in ("f", "d") else "same"
        reply: bytes = self._call(
            self._swap_script,
            field.groups,
            [field.name, field.encode(checked), mode, stored, field.missing],
        )
        return reply[:1] == b"1"

    def _write(
        self, changes: list[tuple[RedisField, object]], ending: bool = False
    ) -> None:
        """Write checked values of fields of one lock group in one command.

        ending: the write ends a locked block; the outermost one's lease ends with it.
        """
        if not changes:
            return
        field = changes[0][0]
        lease = self._leases[field.groups[0]] if field.groups else None
        ends = ending and lease is not None and lease.outermost()
        self._call(
            self._write_script,
            field.groups,
            [
                "1" if ends else "",
                *(item for field, value in changes for item in field.pairs(value)),
            ],
        )
        if ends and lease is not None:
            lease.ended()

    def _update(self, name: str, values: tuple[object, ...]) -> None:
        group = self.__sharedgen_layout__.group_index[name]
        layout = self.__sharedgen_layout__
        self._write(
            [
                (self._fields[i], layout.fields[i].plain(value))
                for i, value in zip(layout.groups[group].fields, values, strict=True)
                if value is not None
            ]
        )

    @_contextmanager
    def _locked(self, name: str) -> _Iterator[_Any]:
        group = self.__sharedgen_layout__.group_index[name]
        layout = self.__sharedgen_layout__
        indexes = layout.groups[group].fields
        fields = [self._fields[i] for i in indexes]
        lease = self._leases[name]
        stored = lease.take([hashed for field in fields for hashed in field.names])
        if stored is None:
            raise _lease_timeout(layout.name, name, layout.lock_timeout or 0.0)
        try:
            values = iter(stored)
            copy = layout.views[group](
                *(self._decoded(field, values, list) for field in fields)
            )
            try:
                yield copy
            except BaseException:
                end_view(copy)
                raise
            written = written_back(layout, group, copy, plain=True)
            self._write(
                [
                    (self._fields[i], value)
                    for i, value in zip(indexes, written, strict=True)
                    if value is not None
                ],
                ending=True,
            )
        finally:
            if lease.token():  # not already ended by the block's last write
                lease.release()

    def _flush(self, pending: list[_Any]) -> None:
        """A batch's flush: every group's adds in one script call, all of them or (on overflow) none."""
        deltas: list[tuple[RedisField, int, _Any]] = []
        for index, delta in enumerate(pending):
            if not delta:
                continue
            items: dict[int, _Any] = (
                _cast("dict[int, _Any]", delta)
                if isinstance(delta, dict)
                else {0: delta}
            )
            deltas += [
                (self._fields[index], item, change) for item, change in items.items()
            ]
        if deltas:
            try:
                self._add_to(*deltas)
            except OverflowError as error:  # no group landed
                groups = dict.fromkeys(
                    group for field, _, _ in deltas for group in field.groups
                )
                raise batch_refused(
                    self.__sharedgen_layout__.name, groups, [error]
                ) from None
        pending[:] = self.__sharedgen_layout__.nothing_pending()

    def _add_to(self, *deltas: tuple[RedisField, int, float]) -> bytes:
        """Add to fields (array items by index, else 0), all or none, in one script call; the last new value."""
        args: list[_Any] = []
        for field, index, delta in deltas:
            if field.kind == "int" and abs(delta) > field.high - field.low:
                raise add_overflow(field.label, delta, field.low, field.high)
            args += (
                field.names[index],
                b"%d" % delta if field.kind == "int" else repr(float(delta)),
                *field.bounds,
            )
        groups = tuple(
            dict.fromkeys(group for field, _, _ in deltas for group in field.groups)
        )
        reply = self._call(self._add_script, groups, args)
        if reply.__class__ is list:
            overflowed: int = reply[1]
            field, _, delta = deltas[overflowed - 1]
            raise add_overflow(field.label, delta, field.low, field.high)
        new: bytes = reply
        return new

    def snapshot(self) -> _S:
        """A consistent copy of every field, read in one command."""
        values = self._read(*self._fields)
        decoded = [self._decoded(field, values, tuple) for field in self._fields]
        return _cast(_S, new_snapshot(self.__sharedgen_layout__.snapshot, decoded))

    def _lock_of(self, group: str) -> Lock:
        return _cast(Lock, self._leases[group])


def _attach(
    cls: type[RedisStruct[_Any]],
    settings: dict[str, _Any],
    key: str,
    lease: float | None,
) -> RedisStruct[_Any]:
    redis = _importlib.import_module("redis")
    return cls(redis.Redis(**settings), key, lease=lease)
