"""Locks that cannot deadlock or lose updates: snapshots against blocks that take locks out of order,
injected plain Locks, methods called inside locked blocks, batches whose groups land alone."""

from __future__ import annotations

import multiprocessing
import os
import pickle
import signal
import threading
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import workers
from conftest import build_schema, import_generated

from generated.counter import Counter

pytestmark = pytest.mark.interpreters

SCHEMA = """\
structs:
  Crossed:
    doc: Two groups; blocks of one read the other.
    fields:
      a: {type: q, lock: ga}
      b: {type: q, lock: gb}
  Several:
    doc: A group of several fields beside another group, for injected locks.
    fields:
      a: {type: q, lock: ga}
      m: {type: q, lock: ga}
      n: {type: q, lock: ga}
      items: {type: q, length: 3, lock: ga}
      ratio: {type: d, lock: ga}
      flags: {type: "?", length: 2, lock: ga}
      b: {type: q, lock: gb}
  TimedSeveral:
    doc: Several, with a lock_timeout (group waits go through the timed path).
    lock_timeout: 5
    fields:
      a: {type: q, lock: ga}
      m: {type: q, lock: ga}
      n: {type: q, lock: ga}
      items: {type: q, length: 3, lock: ga}
      b: {type: q, lock: gb}
  Progress:
    doc: A worker adds to done, then to its own shard of hits, so hits never passes done.
    fields:
      done: {type: q, lock: work}
      failed: {type: q, lock: errors}
      hits: {type: q, shards: 4}
  OneGroupProgress:
    doc: Progress with one lock group.
    fields:
      done: {type: q, lock: work}
      hits: {type: q, shards: 4}
  Journaled:
    recover_locks: true
    lock_timeout: 5
    fields:
      items: {type: q, length: 2, lock: g}
      text: {type: c, length: 8, lock: g}
      n: {type: q, lock: g}
  Recovering:
    recover_locks: true
    lock_timeout: 10
    fields:
      a: {type: q, lock: ga}
      b: {type: q, lock: gb}
  ViewNames:
    doc: Fields named like what a locked block's copy could have called its own members.
    fields:
      changed: {type: q, lock: g}
      assigned: {type: q, length: 2, lock: g}
      changes: {type: q, lock: g}
  Unlocked:
    fields:
      stop: {type: "?", lock: false}
      ratio: {type: d, lock: false}
"""
ROUNDS = 2000


@pytest.fixture(scope="module")
def m(tmp_path_factory: pytest.TempPathFactory) -> ModuleType:
    folder = tmp_path_factory.mktemp("lock_safety")
    schema = folder / "lock_safety.yaml"
    schema.write_text(SCHEMA, encoding="utf-8")
    return import_generated(schema, "lock_safety", folder / "generated")


def run_bounded(ctx: Any, jobs: list[tuple[Any, tuple[Any, ...]]], seconds: float = 60) -> None:
    """Run the jobs in processes, started together (each gets an Event to wait for as its last
    argument); any still running after ``seconds`` is killed and fails the test."""
    go = ctx.Event()
    processes = [ctx.Process(target=target, args=(*args, go), daemon=True) for target, args in jobs]
    for process in processes:
        process.start()
    go.set()
    for process in processes:
        process.join(timeout=seconds)
    hung = [process for process in processes if process.is_alive()]
    for process in hung:
        process.kill()
    assert not hung, f"{len(hung)} of {len(processes)} processes hung"
    assert [p.exitcode for p in processes] == [0] * len(processes)


def test_snapshots_never_deadlock_with_a_block_that_reads_another_group(ctx: Any, m: ModuleType) -> None:
    crossed = m.Crossed(ctx=ctx)
    bad = Counter(ctx=ctx)
    run_bounded(
        ctx,
        [
            (workers.copy_a_into_b, (crossed, ROUNDS)),
            (workers.add_to_a, (crossed, ROUNDS)),
            (workers.check_b_never_ahead, (crossed, ROUNDS, bad)),
            (workers.check_b_never_ahead, (crossed, ROUNDS, bad)),
        ],
    )
    assert bad.value == 0
    assert crossed.a == ROUNDS and crossed.b <= ROUNDS


@pytest.mark.parametrize("struct", ["Progress", "OneGroupProgress"])
def test_a_snapshot_is_one_instant_for_sharded_fields_too(ctx: Any, m: ModuleType, struct: str) -> None:
    """Workers add to done, then to hits (sharded, no lock): at every instant hits <= done, and
    so in every snapshot (the shards are summed while the groups' locks are held)."""
    progress = getattr(m, struct)(ctx=ctx)
    bad = Counter(ctx=ctx)
    run_bounded(
        ctx,
        [
            (workers.add_done_then_hits, (progress, ROUNDS)),
            (workers.add_done_then_hits, (progress, ROUNDS)),
            (workers.check_hits_never_ahead, (progress, ROUNDS, bad)),
        ],
    )
    assert bad.value == 0
    assert progress.snapshot()[:1] + (progress.hits,) == (2 * ROUNDS, 2 * ROUNDS)


def test_snapshots_inside_blocks_of_different_groups_never_deadlock(ctx: Any, m: ModuleType) -> None:
    crossed = m.Crossed(ctx=ctx)
    bad = Counter(ctx=ctx)
    jobs = [(workers.snapshot_inside_block, (crossed, group, ROUNDS, bad)) for group in ("ga", "gb", "ga", "gb")]
    run_bounded(ctx, jobs)
    assert bad.value == 0
    assert (crossed.a, crossed.b) == (2 * ROUNDS, 2 * ROUNDS)


def test_a_snapshot_inside_a_block_sees_its_own_group_as_before_the_block(m: ModuleType) -> None:
    crossed = m.Crossed(a=1, b=2)
    with crossed.locked_ga() as group:
        group.a = 10
        assert crossed.snapshot().as_dict() == {"a": 1, "b": 2}
    assert repr(crossed) == "Crossed(a=10, b=2)"


@pytest.mark.parametrize("name", ["Several", "TimedSeveral"])
def test_an_injected_plain_lock_is_reentrant_within_the_process(m: ModuleType, name: str) -> None:
    lock = multiprocessing.Lock()
    several = getattr(m, name)(locks={"ga": lock})
    with several.locked_ga() as group:
        group.a += 1
        several.add_n(2)  # a method inside the block takes the same lock again
        group.m = several.n + 1
        assert several.snapshot().a == 0 and repr(several).startswith(f"{name}(a=0,")
        several.items = [1, 2, 3]
    assert (several.a, several.m, several.n, several.items) == (1, 3, 2, [1, 2, 3])
    assert lock.acquire(False)  # released at the end, as often as taken
    lock.release()
    with pytest.raises(RuntimeError, match="does not hold"):
        several.get_lock("ga").release()


def test_blocks_over_an_injected_plain_lock_lose_nothing(ctx: Any, m: ModuleType) -> None:
    several = m.Several(ctx=ctx, locks={"ga": ctx.Lock(), "gb": ctx.Lock()})
    run_bounded(ctx, [(workers.add_in_blocks_calling_methods, (several, ROUNDS))] * 3)
    assert (several.m, several.n) == (3 * ROUNDS, 3 * ROUNDS)


def test_a_recoverable_struct_writes_arrays_and_strings_without_taking_its_lock_twice(m: ModuleType) -> None:
    journaled = m.Journaled(locks={"g": multiprocessing.Lock()})
    journaled.items = [1, 2]
    journaled.text = b"abc"
    assert journaled.exchange_text(b"x") == b"abc"
    with journaled.locked_g() as group:
        group.items = [3, 4]
        journaled.text = b"inner"
    assert (journaled.items, journaled.text) == ([3, 4], b"inner")


def test_only_fields_changed_through_the_copy_are_written_back(m: ModuleType) -> None:
    several = m.Several()
    with several.locked_ga() as group:
        group.m = 4
        several.add_n(3)
        several.add_a(5)
        group.items[1] += 7  # an array changed in place counts as changed
    assert (several.m, several.n, several.a, several.items) == (4, 3, 5, [0, 7, 0])
    with several.locked_ga() as group:
        group.n = group.n  # assigned: written back, even unchanged
        several.add_n(1)
    assert several.n == 3


@pytest.mark.parametrize("bad", [None, 1.5, "1"])
def test_a_bad_value_assigned_in_a_block_raises_and_writes_nothing(m: ModuleType, bad: object) -> None:
    several = m.Several(a=1, m=2)
    with pytest.raises(TypeError, match="Several.a must be an int"):
        with several.locked_ga() as group:
            group.m = 3
            group.a = bad
    assert (several.a, several.m) == (1, 2)
    with pytest.raises(TypeError, match="Several.ratio must be a float, not NoneType"):
        with several.locked_ga() as group:
            group.ratio = None
    assert several.ratio == 0.0


@pytest.mark.parametrize("overflowing_first", [True, False])
def test_a_batch_applies_every_group_that_fits_and_raises_once(m: ModuleType, overflowing_first: bool) -> None:
    crossed = m.Crossed()
    with crossed.batch() as batch:
        if overflowing_first:
            batch.add_a(2**63)
            batch.add_b(1)
        else:
            batch.add_b(1)
            batch.add_a(2**63)
        with pytest.raises(OverflowError, match=r"Crossed: the batched adds of group 'ga' did not land") as raised:
            batch.flush()
        assert "Crossed.a + 9223372036854775808" in str(raised.value)
        assert (crossed.a, crossed.b) == (0, 1)
        crossed.a = -5
        batch.flush()  # the pending add now fits, and b's is not applied twice
    assert (crossed.a, crossed.b) == (2**63 - 5, 1)


def test_structs_without_any_lock_refuse_pickling_by_name(m: ModuleType) -> None:
    unlocked = m.Unlocked()
    with pytest.raises(RuntimeError, match="Unlocked objects should only be shared between processes"):
        pickle.dumps(unlocked)
    queue = multiprocessing.SimpleQueue()
    with pytest.raises(RuntimeError, match="Unlocked objects should only be shared"):
        queue.put(unlocked)


def test_structs_without_any_lock_travel_to_children(ctx: Any, m: ModuleType) -> None:
    unlocked = m.Unlocked(ctx=ctx)
    unlocked.ratio = 0.5
    run_bounded(ctx, [(workers.set_stop, (unlocked,))])
    assert unlocked.stop is True


def test_sequences_of_any_kind_fill_arrays_and_errors_name_types_exactly(m: ModuleType) -> None:
    numpy = pytest.importorskip("numpy")
    several = m.Several()
    several.items = numpy.array([1, 2, 3], dtype=numpy.int64)
    assert several.items == [1, 2, 3] and all(type(item) is int for item in several.items)
    several.update_ga(items=range(3))
    assert several.items == [0, 1, 2]
    several.flags = numpy.array([True, False])  # numpy's bools, recognised without importing numpy
    several.flags = [numpy.True_, True]
    assert several.flags == [True, True]
    with pytest.raises(TypeError, match="must be a bool, not numpy.int64"):
        several.flags = numpy.array([1, 0])
    for bad in (numpy.array([1.5, 2.0, 3.0]), {1: 1, 2: 2, 3: 3}, {1, 2, 3}, "123", numpy.array(5)):
        with pytest.raises(TypeError) as raised:
            several.items = bad
        assert "Several.items" in str(raised.value)
    with pytest.raises(TypeError, match="must be an int, not numpy.float64"):
        several.items = numpy.array([1.5, 2.0, 3.0])
    with pytest.raises(TypeError, match="must be a sequence, not numpy.ndarray"):
        several.items = numpy.array(5)
    assert several.items == [0, 1, 2]
    several.flags = numpy.array([True, False])  # numpy's bools, recognised without importing numpy
    several.flags = [numpy.True_, True]
    assert several.flags == [True, True]
    with pytest.raises(TypeError, match="must be a bool, not numpy.int64"):
        several.flags = numpy.array([1, 0])


def test_a_process_killed_while_parked_leaves_no_parked_mark_behind(ctx: Any, m: ModuleType) -> None:
    recovering = m.Recovering(ctx=ctx)
    other = recovering.get_lock("gb")
    assert other.acquire()
    try:
        parker = ctx.Process(target=workers.snapshot_in_block_of_ga, args=(recovering,), daemon=True)
        parker.start()
        deadline = time.monotonic() + 60
        while recovering._parked[0] % 2 == 0:  # the child's snapshot waits for gb, its block's ga parked
            assert time.monotonic() < deadline and parker.is_alive()
            time.sleep(0.01)
        os.kill(parker.pid, signal.SIGKILL)
        parker.join(60)
    finally:
        other.release()
    assert recovering.add_a(5) == 5  # takes the dead holder's lock over
    assert recovering._parked[0] % 2 == 0  # a parked mark no holder stands behind would let readers tear
    assert recovering.snapshot().as_dict() == {"a": 5, "b": 0}


def test_a_numpy_array_assigned_in_a_block_is_written_back(m: ModuleType) -> None:
    numpy = pytest.importorskip("numpy")
    several = m.Several()
    with several.locked_ga() as group:
        group.items = numpy.array([5, 6, 7])
    assert several.items == [5, 6, 7]


def test_fields_may_be_named_like_the_copy_s_own_members(m: ModuleType) -> None:
    names = m.ViewNames()
    with names.locked_g() as group:
        group.changed = 1
        group.assigned = [2, 3]
    with names.locked_g() as group:
        group.changes += 4
    assert names.snapshot().as_dict() == {"changed": 1, "assigned": (2, 3), "changes": 4}


def test_a_fork_child_started_inside_a_block_does_not_hold_the_block_s_group(m: ModuleType) -> None:
    ctx = multiprocessing.get_context("fork")
    crossed = m.Crossed(ctx=ctx)
    with crossed.locked_ga() as group:
        group.a = 1
        child = ctx.Process(target=workers.snapshot_after_parent_block, args=(crossed,), daemon=True)
        child.start()
        time.sleep(0.5)  # the child's snapshot must wait for this block, not read a as it is now
        crossed.add_b(1)
    child.join(60)
    assert child.exitcode == 0


def test_a_snapshot_of_more_lock_groups_than_one_function_nests(tmp_path: Path) -> None:
    """snapshot()'s first try holds its locks in nested blocks, 16 a function: 18 groups take two."""
    fields = "".join(f"      f{i}: {{type: q, lock: g{i}, default: {i}}}\n" for i in range(18))
    module = build_schema(tmp_path, f"structs:\n  Wide:\n    fields:\n{fields}")
    wide = module.Wide()
    assert wide.snapshot() == tuple(range(18))
    with wide.locked_g17() as group:  # re-entrant: the snapshot takes g17 again, and reads it as before
        group.f17 = 170
        assert wide.snapshot()[17] == 17
    assert wide.snapshot()[17] == 170
    held, done = threading.Event(), threading.Event()

    def hold_g16() -> None:  # a lock of the second function busy: the slow way, then the value
        with wide.locked_g16() as group:
            group.f16 = 160
            held.set()
            done.wait(10)

    holder = threading.Thread(target=hold_g16)
    holder.start()
    held.wait(10)
    readings: list[Any] = []
    reader = threading.Thread(target=lambda: readings.append(wide.snapshot()))
    reader.start()
    time.sleep(0.2)
    assert reader.is_alive()  # it waits for g16, holding none of the others
    wide.update_g0(f0=100)
    done.set()
    reader.join(10)
    holder.join(10)
    assert readings and (readings[0][0], readings[0][16]) == (100, 160)
