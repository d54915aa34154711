"""What a shared-memory struct and its Redis twin share: the members made from a struct's table
when its class is created (exchange, compare-and-set, a batch's adds), the locked block's working
copy, the batch, get_lock and repr."""

from __future__ import annotations

import types as _types
import typing as _typing
from collections.abc import Iterator as _Iterator
from contextlib import contextmanager as _contextmanager
from typing import Any as _Any
from typing import ClassVar as _ClassVar
from typing import Protocol as _Protocol
from typing import TypeVar as _TypeVar
from typing import cast as _cast
from typing import overload as _overload

from ._arrays import flat_index
from ._layout import Layout
from ._locks import Lock
from ._process import holder, setup_lock

_S = _TypeVar("_S")
_V = _TypeVar("_V")
_V_co = _TypeVar("_V_co", covariant=True)
_V_contra = _TypeVar("_V_contra", contravariant=True)


# The members made once per struct class from its table (see _members for the hot paths): the
# generated class declares them with these types, and the runtime makes what it declares.
class Property(_Protocol[_V_co, _V_contra]):
    """A field: read as the first type, written with the second (checked at run time)."""

    @_overload
    def __get__(
        self, instance: None, owner: type[_Any]
    ) -> Property[_V_co, _V_contra]: ...
    @_overload
    def __get__(self, instance: object, owner: type[_Any] | None = None) -> _V_co: ...
    def __get__(self, instance: object, owner: type[_Any] | None = None) -> _Any: ...

    def __set__(self, instance: object, value: _V_contra) -> None: ...


class Scalar(_Protocol[_V_co]):
    """A numpy scalar (numpy.float32, numpy.bool), which a field of its kind takes."""

    def item(self) -> _V_co: ...


class Add(_Protocol[_V]):
    def __call__(self, delta: _V = ...) -> _V:
        """Atomically add delta to the field (1 by default); return the new value."""
        ...


class AddItem(_Protocol[_V]):
    def __call__(self, index: int, delta: _V = ...) -> _V:
        """Atomically add delta to the array field's item index; return the new value."""
        ...


class AddAt(_Protocol[_V]):
    def __call__(self, index: tuple[int, ...], delta: _V = ...) -> _V:
        """Atomically add delta to the item at index (one int per dimension); return the new value."""
        ...


class AddToShard(_Protocol[_V_contra]):
    def __call__(self, delta: _V_contra = ...) -> None:
        """Add delta to the sharded field in the calling process's own shard."""
        ...


class Exchange(_Protocol[_V]):
    def __call__(self, value: _V) -> _V:
        """Atomically set the field to value; return the old value."""
        ...


class CompareAndSet(_Protocol[_V_contra]):
    def __call__(self, expected: _V_contra, value: _V_contra) -> bool:
        """Atomically set the field to value if it equals expected; return whether it did."""
        ...


class BatchAdd(_Protocol[_V_contra]):
    def __call__(self, delta: _V_contra = ...) -> None:
        """Add delta to the batch's sum for the field (1 by default)."""
        ...


class BatchAddItem(_Protocol[_V_contra]):
    def __call__(self, index: int, delta: _V_contra = ...) -> None:
        """Add delta to the batch's sum for the array field's item index (1 by default)."""
        ...


class BatchAddAt(_Protocol[_V_contra]):
    def __call__(self, index: tuple[int, ...], delta: _V_contra = ...) -> None:
        """Add delta to the batch's sum for the item at index (one int per dimension)."""
        ...


# The made members a class declares, by the prefix of their names (a compare_and_set_<field> is
# made with its exchange_<field>, a copy_<field> with its view_<field>).
_MADE = ("add_", "view_", "exchange_")


def declared(cls: type, layout: Layout) -> dict[str, list[str]]:
    """The fields whose made members a generated class declares, by the members' prefix (not
    its fields: a field may be called ``add_total`` where no field is called ``total``).
    """
    found: dict[str, list[str]] = {prefix: [] for prefix in _MADE}
    for name in cls.__dict__.get("__annotations__", {}):
        if name in layout.field_index:
            continue
        for prefix in _MADE:
            if name.startswith(prefix):
                found[prefix].append(name[len(prefix) :])
                break
    return found


def exchange_doc(field: str) -> str:
    return f"Atomically set {field} to value; return the old value."


def compare_and_set_doc(field: str) -> str:
    return (
        f"Atomically set {field} to value if it equals expected; return whether it did."
    )


def named_function(function: _Any, name: str, doc: str) -> _Any:
    function.__name__ = function.__qualname__ = name
    function.__doc__ = doc
    return function


def swap_members(
    field: str, exchange: _Any, compare_and_set: _Any
) -> tuple[_Any, _Any]:
    """A struct's exchange_<field> and compare_and_set_<field>, named and documented."""
    return (
        named_function(exchange, f"exchange_{field}", exchange_doc(field)),
        named_function(
            compare_and_set, f"compare_and_set_{field}", compare_and_set_doc(field)
        ),
    )


def struct_repr(name: str, snapshot: _Any) -> str:
    values = ", ".join(f"{key}={value!r}" for key, value in snapshot._asdict().items())
    return f"{name}({values})"


class Lazy:
    """A working copy's value read when the block first reads it (an array: a block that only
    changes a counter beside a frame does not copy the frame)."""

    __slots__ = ("load",)

    def __init__(self, load: _typing.Callable[[], object]) -> None:
        self.load = load


def _original(value: object) -> object:
    """What a changed-in-place check compares an array's value with later."""
    return (
        value.tobytes()
        if isinstance(value, memoryview)
        else _cast("list[object]", value)[:]
    )


class View:
    """A locked block's working copy of its group's fields (its subclasses' slots).

    Its own members start with ``_``, which no field name does; ``changes()`` tells which
    fields the block changed, and only those are written back. Values given as ``Lazy`` are
    read on first use, inside the block.
    """

    __slots__ = ("_assigned", "_arrays_read", "_lazy")
    _assigned: set[str]
    _arrays_read: dict[str, object]
    _lazy: dict[str, Lazy]

    def __init__(self, *values: object) -> None:
        object.__setattr__(self, "_assigned", set())
        object.__setattr__(self, "_arrays_read", {})
        object.__setattr__(self, "_lazy", {})
        for name, value in zip(self.__slots__, values):  # noqa: B905
            if type(value) is Lazy:
                self._lazy[name] = value
                continue
            object.__setattr__(self, name, value)
            if type(value) is list:
                self._arrays_read[name] = value[:]

    if (
        not _typing.TYPE_CHECKING
    ):  # type checkers check each assignment against the fields

        def __setattr__(self, name: str, value: object) -> None:
            assigned = self._assigned
            if assigned is _ENDED:
                raise RuntimeError(
                    f"the locked block of this copy has ended: {name} = ... would be lost; "
                    "assign inside the with block"
                )
            object.__setattr__(self, name, value)
            assigned.add(name)

        def __getattr__(self, name: str) -> object:
            lazy = self._lazy.pop(name, None)
            if lazy is None:
                raise AttributeError(
                    f"{type(self).__name__!r} object has no attribute {name!r}"
                )
            if self._assigned is _ENDED:
                raise RuntimeError(
                    f"the locked block of this copy has ended: read {name} inside the with block"
                )
            value = lazy.load()
            object.__setattr__(self, name, value)
            self._arrays_read[name] = _original(value)
            return value


# What a copy's assigned set becomes when its block ends: assignments after it are refused.
_ENDED: set[str] = set()


def end_view(view: View) -> None:
    """The block is over: the copy takes no more assignments (they would be dropped)."""
    object.__setattr__(view, "_assigned", _ENDED)


def changes(view: View) -> set[str]:
    """The fields a block assigned through its copy, and the arrays it changed in place."""
    # The view's own members: this module's, though pyright counts only the class as their owner.
    assigned = view._assigned  # pyright: ignore[reportPrivateUsage]
    read = view._arrays_read  # pyright: ignore[reportPrivateUsage]
    return assigned.union(
        name
        for name in read
        if name not in assigned and _changed(view, name, read[name])
    )


def _changed(view: View, name: str, original: object) -> bool:
    current = getattr(view, name)
    if isinstance(original, bytes):  # a memoryview's bytes when it was read
        return not isinstance(current, memoryview) or current.tobytes() != original
    return bool(current != original)


class Batch:
    """Adds collected in this process; ``flush()`` (and the end of the ``batch()`` block) applies them.

    ``_pending`` holds them by field position: a sum, or {item: sum} for an array. Each
    ``add_<field>`` is a local addition (the point of a batch), made by the runtime from the
    struct's table for each one the generated subclass declares.
    """

    __slots__ = ("_owner", "_pending")

    def __init__(self, owner: _Any) -> None:
        self._owner = owner
        self._pending: list[_Any] = owner.__sharedgen_layout__.nothing_pending()

    @staticmethod
    def _make_add(layout: Layout, field: str) -> _Any:
        """A batch's add_<field>: a local addition (an array's item: checked, then added)."""
        index = layout.field_index[field]
        spec = layout.fields[index]
        exact = float if spec.kind == "float" else int
        unit = exact(1)
        normalize = spec.delta
        if spec.storage == "array":

            def add_item(self: Batch, item: object, delta: _Any = unit) -> None:
                position = flat_index(spec, item)
                if delta.__class__ is not exact:
                    delta = normalize(delta)
                sums = self._pending[index]
                sums[position] = sums.get(position, 0) + delta

            doc = f"Add delta to the batch's sum for {field}[index]."
            return named_function(add_item, f"add_{field}", doc)

        def add(self: Batch, delta: _Any = unit) -> None:
            if delta.__class__ is not exact:
                delta = normalize(delta)
            self._pending[index] += delta

        return named_function(
            add, f"add_{field}", f"Add delta to the batch's sum for {field}."
        )

    def flush(self) -> None:
        """Apply the adds collected so far. Adds that would overflow raise OverflowError, change
        nothing and stay pending: in shared memory those of their group (every other group
        lands), on Redis all of them (every group lands in one call).
        """
        self._owner._flush(self._pending)


# Every script first checks the leases of the groups it writes (KEYS[2], ...; none for fields
# without a lock) against the caller's tokens (ARGV[1], ...; '' where it holds no lease, and one
# '' when there is no lease). A script that did nothing answers a table: {1, j} another client
# holds the j-th lease, {2, j} the caller's j-th lease ran out, {3, k} the k-th add would


def written_back(
    layout: Layout, group: int, copy: View, plain: bool = False
) -> list[_Any]:
    """The checked values of the fields a locked block changed through its copy (None for the
    others), in the group's order; the copy takes no assignment after this. plain: as
    Field.plain() gives them (arrays as lists), else as Field.check()."""
    changed = changes(copy)
    end_view(copy)
    fields = [layout.fields[i] for i in layout.groups[group].fields]
    return [
        (
            (f.plain if plain else f.check)(getattr(copy, f.name))
            if f.name in changed
            else None
        )
        for f in fields
    ]


class StructType(type):
    """The type of the struct classes: a class's members (its fields' properties, their methods)
    are made from its table when it is first used, by its first instance (see ready) or the first
    member read from the class; importing a module of many structs makes none of them.

    A subclass that also derives from a class of another type (an ``abc.ABC``) needs a type
    deriving from both: ``class Meta(StructType, abc.ABCMeta): ...``.
    """

    # Type checkers read the members the class declares instead.
    if not _typing.TYPE_CHECKING:

        def __getattr__(cls, name):
            finish(cls)
            try:  # made now, or by another thread while this one waited for it
                return type.__getattribute__(cls, name)
            except AttributeError:
                raise AttributeError(
                    f"type object {cls.__name__!r} has no attribute {name!r}"
                ) from None

        def __dir__(cls):
            finish(cls)  # help(), completion: the members as they will be
            return super().__dir__()


# Classes being finished, each with the thread finishing it (holding the setup lock): a fork
# child's entries are its parent's, and a class whose finishing a fork cut short is finished again.
_finishing: dict[type, tuple[int, int]] = {}


def generated_base(cls: type) -> type | None:
    """The generated class among ``cls`` and its bases (a user's subclass of one is made from its
    table too), or None: one of the runtime's own bases."""
    return next((c for c in cls.__mro__ if "__sharedgen_layout__" in c.__dict__), None)


def finish(cls: type) -> bool:
    """Make the members of a struct class that its table lists and it declares (on the generated
    class, a user's subclass of it inherits them); whether it made them now (False: made before,
    being made by this thread, or not a generated class)."""
    owner = generated_base(cls)
    if owner is None or "_members_made" in owner.__dict__:
        return False
    with setup_lock[0]:
        layout: Layout = owner.__dict__["__sharedgen_layout__"]
        if "_members_made" in owner.__dict__ or _finishing.get(owner) == holder():
            return False
        _finishing[owner] = holder()
        try:
            make: _Any = owner
            make._finish_class(layout)
            members: dict[str, _Any] = {}
            for index, spec in enumerate(layout.fields):
                members[spec.name] = make._make_property(layout, index)
            made = declared(owner, layout)
            for field in made["add_"]:
                members[f"add_{field}"] = make._make_add(layout, field)
            for field in made["view_"]:
                members[f"view_{field}"], members[f"copy_{field}"] = make._make_views(
                    layout, field
                )
            for field in made["exchange_"]:
                (
                    members[f"exchange_{field}"],
                    members[f"compare_and_set_{field}"],
                ) = make._make_swaps(layout, field)
            _install(owner, members)
            batch = layout.batch
            if batch is not None and "_members_made" not in batch.__dict__:
                make_add = Batch._make_add  # pyright: ignore[reportPrivateUsage]
                _install(
                    batch,
                    {
                        f"add_{field}": make_add(layout, field)
                        for field in declared(batch, layout)["add_"]
                    },
                )
                _cast(_Any, batch)._members_made = True
            make._members_made = True
        finally:
            del _finishing[owner]
        return True


def _install(cls: type, members: dict[str, _Any]) -> None:
    """Set made members on their class, named as its own (pickle finds a method by its module and
    qualified name; tracebacks and profilers name it)."""
    for name, member in members.items():
        for function in (
            (member.fget, member.fset) if isinstance(member, property) else (member,)
        ):
            if isinstance(function, _types.FunctionType):
                function.__module__ = cls.__module__
                function.__qualname__ = f"{cls.__qualname__}.{name}"
        setattr(cls, name, member)


def ready(cls: type) -> None:
    """Finish a struct class (see finish) before its first instance is set up."""
    owner = generated_base(cls)
    if owner is not None and "_members_made" not in owner.__dict__:
        finish(owner)


class StructBase(_typing.Generic[_S], metaclass=StructType):
    """The members a shared-memory struct and its Redis twin share, made from their table."""

    __slots__ = ()

    __sharedgen_layout__: _ClassVar[Layout]

    @classmethod
    def _finish_class(cls, layout: Layout) -> None:
        """What the class keeps of its table, set when it is finished (see finish)."""

    @staticmethod
    def _make_property(layout: Layout, index: int) -> property:
        """The property of the field at ``index``."""
        raise NotImplementedError

    @staticmethod
    def _make_add(layout: Layout, field: str) -> _Any:
        """The struct's add_<field>."""
        raise NotImplementedError

    @staticmethod
    def _make_swaps(layout: Layout, field: str) -> tuple[_Any, _Any]:
        """The struct's exchange_<field> and compare_and_set_<field>."""
        raise NotImplementedError

    @staticmethod
    def _make_views(layout: Layout, field: str) -> tuple[_Any, _Any]:
        """The struct's view_<field> and copy_<field>."""
        raise NotImplementedError

    def _lock_of(self, group: str) -> Lock:
        """The lock of a group by name (KeyError for another name)."""
        raise NotImplementedError

    def _flush(self, pending: list[_Any]) -> None:
        raise NotImplementedError

    def snapshot(self) -> _S:
        raise NotImplementedError

    @_contextmanager
    def _batch(self) -> _Iterator[_Any]:
        collected = _cast("type[Batch]", self.__sharedgen_layout__.batch)(self)
        try:
            yield collected
        finally:
            collected.flush()

    def _get_lock(self, group: str) -> Lock:
        layout = self.__sharedgen_layout__
        if not layout.groups:
            raise ValueError(
                f"{layout.name} has no lock group {group!r}: all its fields are lock: false"
            )
        try:
            return self._lock_of(group)
        except KeyError:
            names = ", ".join(g.name for g in layout.groups)
            raise ValueError(
                f"{layout.name} has no lock group {group!r} (groups: {names})"
            ) from None

    def __repr__(self) -> str:
        return struct_repr(type(self).__name__, self.snapshot())
