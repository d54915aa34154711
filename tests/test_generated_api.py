"""The generated API in one process: every type code, every method, every bad value."""

from __future__ import annotations

import ctypes
import inspect
import json
import multiprocessing
import pickle
import re
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from conftest import build_schema
from sharedgen.cli import main

pytestmark = pytest.mark.interpreters

INT_RANGES = {
    "b": (-(2**7), 2**7 - 1),
    "B": (0, 2**8 - 1),
    "h": (-(2**15), 2**15 - 1),
    "H": (0, 2**16 - 1),
    "i": (-(2**31), 2**31 - 1),
    "I": (0, 2**32 - 1),
    "l": (-(2 ** (8 * ctypes.sizeof(ctypes.c_long) - 1)), 2 ** (8 * ctypes.sizeof(ctypes.c_long) - 1) - 1),
    "L": (0, 2 ** (8 * ctypes.sizeof(ctypes.c_ulong)) - 1),
    "q": (-(2**63), 2**63 - 1),
    "Q": (0, 2**64 - 1),
}


@pytest.fixture
def e(everything: ModuleType) -> Any:
    return everything.Everything()


def test_defaults_from_the_schema(e: Any) -> None:
    snap = e.snapshot()
    assert (snap.c, snap.u, snap.b, snap.B, snap.h, snap.H) == (b"x", "é", -128, 255, -32768, 65535)
    assert (snap.i, snap.I, snap.l, snap.L) == (-(2**31), 2**32 - 1, -5, 7)
    assert (snap.q, snap.Q, snap.f, snap.d, snap.flag) == (-(2**63), 2**64 - 1, 1.5, -2.25, True)
    assert (snap.ints, snap.reals, snap.flags) == ((1, 2, 3), (0.0, 0.0), (True, False))
    assert (snap.label, snap.title, snap.stop, snap.note) == (b"abc", "ünï", False, "")


def test_constructor_arguments_override_defaults(everything: ModuleType) -> None:
    e = everything.Everything(i=7, label=b"hi", ints=[4, 5, 6], note="abcd")
    assert (e.i, e.label, e.ints, e.note) == (7, b"hi", [4, 5, 6], "abcd")


@pytest.mark.parametrize("code", sorted(INT_RANGES))
def test_int_fields_hold_their_full_range_and_reject_beyond(e: Any, code: str) -> None:
    low, high = INT_RANGES[code]
    for value in (low, high):
        setattr(e, code, value)
        assert getattr(e, code) == value
    for bad in (low - 1, high + 1):
        with pytest.raises(OverflowError, match=f"Everything.{code}"):
            setattr(e, code, bad)
        assert getattr(e, code) == high  # unchanged
    with pytest.raises(OverflowError):
        getattr(e, f"add_{code}")(1)
    assert getattr(e, code) == high
    setattr(e, code, low)
    with pytest.raises(OverflowError):
        getattr(e, f"add_{code}")(-1)
    assert getattr(e, code) == low


@pytest.fixture(scope="module")
def edges(tmp_path_factory: pytest.TempPathFactory) -> ModuleType:
    """Every integer type code as an array and as a sharded counter."""
    fields = "".join(
        f"      {code}_items: {{type: {code}, length: 2}}\n      {code}_shards: {{type: {code}, shards: 2}}\n"
        for code in INT_RANGES
    )
    return build_schema(tmp_path_factory.mktemp("edges"), f"structs:\n  Edges:\n    fields:\n{fields}")


def _adds_stop_at_the_edges(add: Callable[[int], object], read: Callable[[], int], code: str, label: str) -> None:
    """From each end of the range: an add to the edge lands, one past it (or far past) raises and stores nothing."""
    low, high = INT_RANGES[code]
    for edge, step in ((high, 1), (low, -1)):
        add(edge - read())
        assert read() == edge
        for delta in (step, step * 2**70):
            with pytest.raises(
                OverflowError, match=re.escape(f"{label} + {delta} would leave the range [{low}, {high}]")
            ):
                add(delta)
            assert read() == edge


@pytest.mark.parametrize("code", sorted(INT_RANGES))
def test_adds_stop_at_the_edges_of_every_int_type(e: Any, edges: ModuleType, code: str) -> None:
    """Integer adds store through a memoryview in the C type's format, which refuses a sum out of range."""
    _adds_stop_at_the_edges(getattr(e, f"add_{code}"), lambda: getattr(e, code), code, f"Everything.{code}")
    shared = edges.Edges()
    add_item = getattr(shared, f"add_{code}_items")
    _adds_stop_at_the_edges(
        lambda d: add_item(1, d), lambda: getattr(shared, f"{code}_items")[1], code, f"Edges.{code}_items"
    )
    assert getattr(shared, f"{code}_items")[0] == 0
    add_shard = getattr(shared, f"add_{code}_shards")
    _adds_stop_at_the_edges(add_shard, lambda: getattr(shared, f"{code}_shards"), code, f"Edges.{code}_shards")


def _adds_to_the_last_shard_stop_at_the_edges(shared: Any, code: str) -> None:
    _adds_stop_at_the_edges(
        getattr(shared, f"add_{code}_shards"), lambda: getattr(shared, f"{code}_shards"), code, f"Edges.{code}_shards"
    )


@pytest.mark.parametrize("code", sorted(INT_RANGES))
def test_adds_to_the_shared_last_shard_stop_at_the_edges(edges: ModuleType, code: str) -> None:
    """A process that finds every other shard taken adds to the last one under its lock, with the same checks."""
    shared = edges.Edges()
    getattr(shared, f"add_{code}_shards")(0)  # this process takes the first shard; a child gets the last
    child = multiprocessing.get_context("fork").Process(
        target=_adds_to_the_last_shard_stop_at_the_edges, args=(shared, code)
    )
    child.start()
    child.join()
    assert child.exitcode == 0
    assert getattr(shared, f"{code}_shards") == INT_RANGES[code][0]  # where the child's walk ended


@pytest.mark.parametrize("code", sorted(INT_RANGES))
@pytest.mark.parametrize("bad", [1.0, 2.5, "3", b"4", None, [1]])
def test_int_fields_reject_other_types_without_truncating(e: Any, code: str, bad: object) -> None:
    before = getattr(e, code)
    for write in (
        lambda: setattr(e, code, bad),
        lambda: getattr(e, f"add_{code}")(bad),
        lambda: getattr(e, f"exchange_{code}")(bad),
        lambda: getattr(e, f"compare_and_set_{code}")(before, bad),
    ):
        with pytest.raises(TypeError, match="must be an int"):
            write()
        assert getattr(e, code) == before


def test_add_exchange_compare_and_set(e: Any) -> None:
    e.i = 10
    assert e.add_i() == 11
    assert e.add_i(5) == 16
    assert e.add_i(-20) == -4
    assert e.exchange_i(3) == -4
    assert e.i == 3
    assert e.compare_and_set_i(4, 9) is False and e.i == 3
    assert e.compare_and_set_i(3, 9) is True and e.i == 9
    assert e.add_d(0.5) == -1.75
    assert e.compare_and_set_c(b"x", b"y") and e.c == b"y"
    assert e.exchange_u("z") == "é" and e.u == "z"
    assert e.exchange_flag(False) is True and e.flag is False


def test_float_fields(e: Any) -> None:
    e.d = 3
    assert e.d == 3.0 and isinstance(e.d, float)
    e.f = 0.1
    assert e.f == ctypes.c_float(0.1).value  # stored as a C float
    for bad in ("1.0", None, b"1"):
        with pytest.raises(TypeError):
            e.d = bad
    assert e.d == 3.0
    with pytest.raises(OverflowError):
        e.f = 1e39
    # An int too large for any float is refused with the field's name, however it is given.
    for give in (
        lambda: setattr(e, "d", 10**400),
        lambda: e.add_d(10**400),
        lambda: e.update_default(d=-(10**400)),
        lambda: e.exchange_d(10**400),
        lambda: type(e)(d=10**400),
    ):
        with pytest.raises(OverflowError, match=r"Everything\.d = -?an int of 40[01] digits is out of range"):
            give()
        assert e.d == 3.0
    with pytest.raises(OverflowError, match=r"Everything\.q = an int of 5000 digits is out of range"):
        e.q = 10**4999  # more digits than Python prints (sys.get_int_max_str_digits)
    with pytest.raises(OverflowError, match=r"Everything\.q \+ an int of 5000 digits would leave"):
        e.add_q(10**4999)
    e.f = 3.4e38
    with pytest.raises(OverflowError):
        e.add_f(3.4e38)
    assert e.f == pytest.approx(3.4e38)
    e.d = 1.7e308
    with pytest.raises(OverflowError):
        e.add_d(1.7e308)
    assert e.d == 1.7e308
    e.d = float("inf")  # representable, so allowed; only finite overflow raises
    assert e.add_d(1.0) == float("inf")


def test_bool_and_char_fields(e: Any) -> None:
    for bad in (1, 0, "yes", None):
        with pytest.raises(TypeError):
            e.flag = bad
    for bad, error in (("x", TypeError), (b"xy", ValueError), (b"", ValueError), (120, TypeError)):
        with pytest.raises(error):
            e.c = bad
    for bad, error in ((b"x", TypeError), ("xy", ValueError), ("", ValueError)):
        with pytest.raises(error):
            e.u = bad
    assert (e.flag, e.c, e.u) == (True, b"x", "é")
    e.u = "😀"
    assert e.u == "😀"


def test_fixed_capacity_strings_never_truncate(e: Any) -> None:
    e.label = b"12345678"
    assert e.label == b"12345678"
    with pytest.raises(ValueError, match="at most 8 bytes"):
        e.label = b"123456789"
    with pytest.raises(ValueError, match="NUL"):
        e.label = b"a\0b"
    with pytest.raises(TypeError):
        e.label = "text"
    assert e.label == b"12345678"
    e.title = "ünïcødé!"
    with pytest.raises(ValueError, match="at most 8 characters"):
        e.title = "ünïcødé!!"
    with pytest.raises(TypeError):
        e.title = b"bytes"
    assert e.title == "ünïcødé!"
    assert e.exchange_title("short") == "ünïcødé!"
    assert e.title == "short"  # a shorter value ends at its NUL
    assert e.compare_and_set_label(b"12345678", b"") and e.label == b""


def test_arrays(e: Any) -> None:
    assert e.ints == [1, 2, 3]
    copy = e.ints
    copy[0] = 99
    assert e.ints == [1, 2, 3]  # a copy, not a view
    e.ints = (7, 8, 9)
    assert e.ints == [7, 8, 9]
    assert e.add_ints(0) == 8
    assert e.add_ints(-1, 10) == 19
    assert e.add_reals(1, 0.25) == 0.25
    for bad, error in (([1, 2], ValueError), ([1, 2, 3, 4], ValueError), ([1, 2, 2.5], TypeError), (5, TypeError)):
        with pytest.raises(error):
            e.ints = bad
    with pytest.raises(OverflowError):
        e.ints = [1, 2, 2**31]
    for index in (3, -4, 100):
        with pytest.raises(IndexError):
            e.add_ints(index)
    with pytest.raises(TypeError):
        e.add_ints(1.0)
    e.ints = [0, 0, 2**31 - 1]
    with pytest.raises(OverflowError):
        e.add_ints(2)
    assert e.ints == [0, 0, 2**31 - 1]
    e.flags = [False, True]
    with pytest.raises(TypeError):
        e.flags = [0, 1]
    assert e.flags == [False, True]


def test_method_sets_follow_the_field(everything: ModuleType) -> None:
    cls = everything.Everything
    assert all(hasattr(cls, f"{m}_i") for m in ("add", "exchange", "compare_and_set"))
    assert not hasattr(cls, "add_flag") and hasattr(cls, "exchange_flag")
    assert not hasattr(cls, "add_label") and hasattr(cls, "compare_and_set_label")
    assert hasattr(cls, "add_ints") and not hasattr(cls, "exchange_ints")
    assert not hasattr(cls, "add_flags")
    for unlocked in ("stop", "note"):  # lock: false: read and write only
        assert not any(hasattr(cls, f"{m}_{unlocked}") for m in ("add", "exchange", "compare_and_set"))
    assert {n for n in dir(cls) if n.startswith(("update_", "locked_"))} == {
        "update_default",
        "locked_default",
        "update_arrays",
        "locked_arrays",
        "update_text",
        "locked_text",
    }


def test_unlocked_fields_read_and_write(e: Any) -> None:
    e.stop = True
    e.note = "done"
    assert (e.stop, e.note) == (True, "done")
    with pytest.raises(ValueError):
        e.note = "too long"
    assert e.snapshot().stop is True


def test_update_sets_all_or_nothing(e: Any) -> None:
    e.update_arrays(ints=[4, 5, 6], reals=[1.0, 2.0])
    assert (e.ints, e.reals) == ([4, 5, 6], [1.0, 2.0])
    with pytest.raises(TypeError):
        e.update_arrays(ints=[7, 8, 9], reals=["x", 2.0])
    assert (e.ints, e.reals) == ([4, 5, 6], [1.0, 2.0])  # the valid ints were not written either
    e.update_text(title="x")
    assert (e.title, e.label) == ("x", b"abc")
    before = e.snapshot()
    with pytest.raises(OverflowError, match="Everything.b"):
        e.update_default(i=5, b=128)
    with pytest.raises(TypeError, match="Everything.q must be an int"):
        e.update_default(i=5, q=1.5)
    assert e.snapshot() == before  # i was valid, and not written either
    e.update_default(i=5, d=1, b=True)  # an int into a float field, a bool into an int one
    assert (e.i, e.d, e.b) == (5, 1.0, 1) and type(e.d) is float and type(e.b) is int


def test_locked_group_is_one_critical_section_and_reentrant(e: Any) -> None:
    lock = e.get_lock("arrays")
    with e.locked_arrays() as group:
        group.ints[0] += 1  # a working copy: lists can be changed in place
        group.reals = [0.5, 0.5]
        assert e.ints == [1, 2, 3]  # a read inside the block takes the same (re-entrant) lock
        assert lock.acquire(timeout=0)  # held by this thread: re-entrant
        lock.release()
        assert not _acquired_elsewhere(lock)  # but no other thread can take it meanwhile
        with pytest.raises(AttributeError):
            group.i = 1  # only the group's own fields
    assert _acquired_elsewhere(lock)
    assert (e.ints, e.reals) == ([2, 2, 3], [0.5, 0.5])


def test_locked_group_is_all_or_nothing(e: Any) -> None:
    with pytest.raises(KeyError):
        with e.locked_arrays() as group:
            group.ints = [7, 7, 7]
            raise KeyError("the block fails half-way")
    assert e.ints == [1, 2, 3]  # nothing written
    with pytest.raises(OverflowError):
        with e.locked_arrays() as group:
            group.reals = [1.0, 1.0]
            group.ints[2] = 2**31  # checked when the block ends
    assert (e.ints, e.reals) == ([1, 2, 3], [0.0, 0.0])
    assert _acquired_elsewhere(e.get_lock("arrays"))  # released after the failures


def _acquired_elsewhere(lock: Any) -> bool:
    result: list[bool] = []

    def attempt() -> None:
        got = lock.acquire(timeout=0.05)
        result.append(got)
        if got:
            lock.release()

    thread = threading.Thread(target=attempt)
    thread.start()
    thread.join()
    return result[0]


def test_snapshot_is_an_immutable_named_tuple(everything: ModuleType, e: Any) -> None:
    snap = e.snapshot()
    assert isinstance(snap, everything.EverythingSnapshot) and isinstance(snap, tuple)
    assert snap._fields[:3] == ("c", "u", "b") == tuple(snap.as_dict())[:3]
    assert snap == tuple(snap.as_dict().values()) and snap[2] == snap.b
    with pytest.raises(AttributeError):
        snap.i = 1
    assert snap._replace(i=1).i == 1 and e.snapshot().i == snap.i  # a copy; the struct is untouched


@pytest.mark.parametrize("struct", ["Everything", "Guarded", "Pair", "Hits", "Ledger", "Labels"])
def test_a_snapshot_holds_what_each_field_reads(everything: ModuleType, struct: str) -> None:
    """Differential: one unpack decoded (C strings cut at their NUL, wide strings decoded, arrays,
    shards summed) against the fields read one by one, after shorter strings overwrote longer ones."""
    s = getattr(everything, struct)()
    shorter = {"c": [b"abcdefgh", b"xy"], "u": ["\u00e9t\u00e9!", "\u00fc"]}
    for name, spec in s.__sharedgen_fields__.items():
        if spec["type"] in shorter and spec["length"]:
            for value in shorter[spec["type"]]:
                setattr(s, name, value[: spec["length"]])
    if struct == "Labels":
        s.update_default(total=-7, letter="\u00df")
    reads = [getattr(s, name) for name in s.__sharedgen_fields__]
    snap = s.snapshot()
    assert list(snap) == [tuple(value) if isinstance(value, list) else value for value in reads]
    if struct == "Labels":
        assert snap == (b"xy", -7, b"xy", "\u00fc", "\u00df")


def test_get_lock(everything: ModuleType, e: Any) -> None:
    assert e.get_lock() is e.get_lock("default")
    assert e.get_lock("arrays") is not e.get_lock("text")
    with pytest.raises(ValueError, match="no lock group 'nope'"):
        e.get_lock("nope")
    with pytest.raises(ValueError, match="no lock group 'default'"):
        everything.Guarded().get_lock("default")
    with pytest.raises(TypeError):
        everything.Guarded().get_lock()  # no default group, so the group must be named


def test_injected_locks_are_shared(everything: ModuleType) -> None:
    shared = multiprocessing.RLock()
    one = everything.Pair(locks={"pair": shared})
    two = everything.Guarded(locks={"left": shared, "right": shared})
    assert one.get_lock("pair") is shared and two.get_lock("right") is shared
    assert one.get_lock("other") is not shared
    two.snapshot()  # one lock for two groups is taken once per group, re-entrantly
    with pytest.raises(ValueError, match="no lock group 'middle'"):
        everything.Guarded(locks={"middle": shared})


def test_lock_timeout_names_struct_and_group(everything: ModuleType) -> None:
    guarded = everything.Guarded()
    ready, done = threading.Event(), threading.Event()
    holder = threading.Thread(target=_hold, args=(guarded.get_lock("left"), ready, done))
    holder.start()
    ready.wait()
    try:
        with pytest.raises(TimeoutError, match=r"Guarded: lock group 'left' not acquired within 0.5 s"):
            guarded.add_a()
        with pytest.raises(TimeoutError, match="'left'"):
            guarded.snapshot()
        assert guarded.add_b() == 1  # the other group keeps working
        with pytest.raises(TimeoutError):
            with guarded.locked_left():
                pass
    finally:
        done.set()
        holder.join()
    assert guarded.add_a() == 1


def _hold(lock: Any, ready: threading.Event, done: threading.Event) -> None:
    with lock:
        ready.set()
        done.wait()


def test_pickling_outside_process_start_raises(everything: ModuleType, e: Any) -> None:
    with pytest.raises(RuntimeError, match="only be shared between processes through inheritance"):
        pickle.dumps(e)
    queue = multiprocessing.SimpleQueue()
    with pytest.raises(RuntimeError, match="Everything objects should only be shared"):
        queue.put(e)


def test_bad_constructor_arguments_raise(everything: ModuleType) -> None:
    with pytest.raises(OverflowError):
        everything.Everything(b=128)
    with pytest.raises(TypeError):
        everything.Everything(i=1.5)
    with pytest.raises(TypeError):
        everything.Everything(nonexistent=1)
    with pytest.raises(TypeError):
        everything.Everything(1)  # keyword-only


def test_sharded_counters(everything: ModuleType) -> None:
    hits = everything.Hits()
    assert (hits.hits, hits.seconds, hits.small) == (0, 1.5, 0)
    assert hits.add_hits() is None  # no total: reading it would take every shard's lock
    hits.add_hits(41)
    hits.add_seconds(0.5)
    assert (hits.hits, hits.seconds) == (42, 2.0)
    hits.hits = 7
    assert hits.hits == 7
    assert hits.snapshot().hits == 7 and hits.snapshot().seconds == 2.0
    for method in ("exchange_hits", "compare_and_set_hits", "batch"):
        assert not hasattr(hits, method)
    assert list(inspect.signature(hits.update_default).parameters) == ["label"]  # shards have locks of their own
    with pytest.raises(TypeError):
        hits.add_hits(1.5)
    with pytest.raises(OverflowError):
        hits.add_small(128)  # one shard holds a C signed char
    with pytest.raises(OverflowError):
        hits.small = 200
    assert hits.small == 0 and hits.hits == 7
    big = 1.7e308
    hits.add_seconds(big)
    with pytest.raises(OverflowError):
        hits.add_seconds(big)  # finite terms whose sum leaves a C double's range: refused, nothing stored
    assert hits.seconds == 2.0 + big
    hits.add_seconds(float("inf"))  # an infinite term is no overflow, as in float arithmetic
    hits.add_seconds(1.0)
    assert hits.seconds == float("inf")


def test_a_batch_applies_on_flush_and_at_the_end_even_after_an_exception(everything: ModuleType) -> None:
    pair = everything.Pair()
    with pytest.raises(RuntimeError, match="stop"):
        with pair.batch() as batch:
            batch.add_a(5)
            batch.add_moves(2)
            batch.flush()
            assert (pair.a, pair.moves) == (505, 2)
            batch.add_b(-5)
            assert pair.b == 500  # collected, not yet applied
            raise RuntimeError("stop")
    assert (pair.a, pair.b, pair.moves) == (505, 495, 2)  # adds made before the exception are applied


def test_a_batch_group_that_would_overflow_changes_nothing_and_keeps_its_adds(everything: ModuleType) -> None:
    pair = everything.Pair()
    with pair.batch() as batch:
        batch.add_a(1)
        batch.add_moves(2**31)
        with pytest.raises(OverflowError, match="Pair.moves"):
            batch.flush()
        assert (pair.a, pair.moves) == (501, 0)  # each group lands alone: pair did, other did not
        pair.moves = -10
        batch.flush()  # the pending add now fits
        assert pair.moves == 2**31 - 10
    assert (pair.a, pair.moves) == (501, 2**31 - 10)  # nothing applied twice


def test_introspection_repr_and_dict(everything: ModuleType) -> None:
    pair = everything.Pair()
    assert repr(pair) == "Pair(a=500, b=500, moves=0)"
    assert pair.snapshot().as_dict() == {"a": 500, "b": 500, "moves": 0}
    fields = everything.Everything.__sharedgen_fields__
    assert fields["ints"] == {"type": "i", "length": 3, "lock": "arrays", "shards": None, "shape": (3,)}
    assert fields["stop"]["lock"] is False
    assert everything.Hits.__sharedgen_fields__["hits"] == {
        "type": "q",
        "length": None,
        "lock": "shards",
        "shards": 2,
        "shape": None,
    }


def test_no_class_of_a_struct_defines_getattr(everything: ModuleType) -> None:
    """With __getattr__ (or __getattribute__) anywhere in its classes, CPython reads none of a struct's
    attributes by its specialized path: every hot path lost about 20 % once that way. (The classes'
    own type has one, which serves reads from the class before its members are made.)"""
    for name in ("Everything", "Pair", "Hits", "Ledger"):
        kind = getattr(everything, name)
        assert kind.__getattribute__ is object.__getattribute__
        assert not any("__getattr__" in base.__dict__ for base in kind.__mro__)


# Names a hand-written class could give its attributes: tuple's methods (the snapshot is a NamedTuple),
# the builtin `type`, the soft keywords, `cls` (create()'s first parameter is then `_cls`); as scalars, arrays, strings, shards and without a lock.
NAMES_SCHEMA = """\
structs:
  Names:
    redis: true
    fields:
      count: {type: q, lock: tally}
      index: {type: i, lock: tally}
      type: {type: u, length: 8, default: t, lock: tally}
      match: {type: d}
      case: {type: "?"}
      cls: {type: q, lock: tally}
  Kinds:
    fields:
      count: {type: q, length: 2, lock: type}
      index: {type: d, shards: 2}
      type: {type: c, lock: false}
"""


def exercise_names(names: Any, kinds: Any) -> None:
    s = names(count=3, index=4, type="x", match=0.5, cls=1)
    assert s.cls == 1 and s.add_cls(1) == 2
    assert (s.count, s.index, s.type, s.match, s.case) == (3, 4, "x", 0.5, False)
    s.count, s.index, s.type, s.case = 5, 6, "yy", True
    assert (s.add_count(2), s.add_index(), s.add_match(1.0)) == (7, 7, 1.5)
    assert s.exchange_type("z") == "yy" and s.exchange_count(8) == 7
    assert s.compare_and_set_index(7, 9) and not s.compare_and_set_index(7, 10)
    s.update_tally(count=1, index=2, type="t")
    with s.locked_tally() as g:
        g.count += 1
        g.index += 1
        g.type = "u"
    snap = s.snapshot()
    assert (snap.count, snap.index, snap.type, snap.match, snap.case) == (2, 3, "u", 1.5, True)
    assert snap == (2, 3, "u", 1.5, True, 2) and snap[0] == snap.count
    assert snap.as_dict() == {"count": 2, "index": 3, "type": "u", "match": 1.5, "case": True, "cls": 2}
    assert s.get_lock("tally") is not s.get_lock("default")
    k = kinds(count=[1, 2], type=b"k")
    assert k.add_count(1, 5) == 7 and k.count == [1, 7]
    k.add_index(2.5)
    assert k.snapshot() == ((1, 7), 2.5, b"k") and k.snapshot().index == 2.5


def test_fields_may_have_the_names_of_tuple_methods_builtins_and_soft_keywords(tmp_path: Path) -> None:
    module = build_schema(tmp_path, NAMES_SCHEMA)
    exercise_names(module.Names, module.Kinds)
    name = f"sharedgen-test-names-{uuid.uuid4().hex[:12]}"
    created = module.Names.create(name, count=9, type="q", cls=4)
    try:
        with module.Names.attach(name) as attached:
            assert attached.snapshot().count == 9 and attached.type == "q" and attached.add_index(5) == 5
            assert attached.cls == 4 and module.Names.open(name).cls == 4
        assert created.index == 5
        assert pickle.loads(pickle.dumps(created)).snapshot().index == 5
    finally:
        created.unlink()
        created.close()


def test_fields_named_like_tuple_methods_on_redis(tmp_path: Path, redis_port: int) -> None:
    redis = pytest.importorskip("redis", reason="redis-py is not installed (pip install 'sharedgen[redis]')")
    module = build_schema(tmp_path, NAMES_SCHEMA)
    client = redis.Redis(port=redis_port)
    try:
        twin = module.Names.on_redis(client, f"test:{uuid.uuid4().hex}")
        assert (twin.count, twin.index, twin.type) == (0, 0, "t")
        twin.count, twin.type = 4, "r"
        assert twin.add_index(3) == 3 and twin.exchange_type("s") == "r" and twin.compare_and_set_count(4, 5)
        twin.update_tally(index=7)
        with twin.locked_tally() as g:
            g.count += 1
        assert twin.add_cls(2) == 2
        assert twin.snapshot() == (6, 7, "s", 0.0, False, 2) and twin.snapshot().count == 6
    finally:
        client.close()


NAMES_USE = """\
from typing import assert_type

from out.names import Kinds, Names, NamesSnapshot

s = Names(count=1, index=2, type="t", match=0.5, case=True)
snap: NamesSnapshot = s.snapshot()
assert_type(snap.count, int)
assert_type(snap.index, int)
assert_type(snap.type, str)
assert_type(snap.match, float)
assert_type(s.count, int)
assert_type(s.add_count(), int)
s.update_tally(count=1, index=2, type="x")
with s.locked_tally() as g:
    g.index += 1
assert_type(Kinds().snapshot().count, tuple[int, ...])
assert_type(Kinds().snapshot().index, float)
assert_type(Names.on_redis(None, "k").snapshot().count, int)
assert_type(Names.create("n", cls=2).cls, int)
"""


def test_fields_named_like_tuple_methods_type_check(tmp_path: Path) -> None:
    """The snapshot declares those fields as the overrides they are: mypy --strict and pyright strict
    pass, and read them as the fields' types (not tuple's methods)."""
    pytest.importorskip("mypy", reason="the type checkers are in the main test run's venv only")
    (tmp_path / "schemas").mkdir()
    (tmp_path / "schemas" / "names.yaml").write_text(NAMES_SCHEMA, encoding="utf-8")
    assert main(["build", str(tmp_path / "schemas"), "-o", str(tmp_path / "out"), "-q"]) == 0
    (tmp_path / "use.py").write_text(NAMES_USE, encoding="utf-8")
    mypy = [sys.executable, "-m", "mypy", "--strict", "--no-incremental", "--python-version", "3.11"]
    result = subprocess.run(
        # The runtime is type-checked on its own (tests/test_typing_and_examples.py): only its use here.
        [*mypy, "--explicit-package-bases", "--follow-imports=silent", "out/names.py", "use.py"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout
    (tmp_path / "pyrightconfig.json").write_text(json.dumps({"typeCheckingMode": "strict", "pythonVersion": "3.11"}))
    pyright = Path(sys.executable).with_name("pyright")
    result = subprocess.run(
        [str(pyright), "--project", str(tmp_path / "pyrightconfig.json"), "out/names.py", "use.py"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=600,
    )
    assert result.returncode == 0 and "0 errors, 0 warnings" in result.stdout, result.stdout
