"""Locks that survive their holder (`recover_locks: true`): processes killed inside group writes."""

from __future__ import annotations

import random
import signal
import sys
import time
from types import ModuleType
from typing import Any

import pytest
import workers

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="robust mutexes are a Linux feature")
pytestmark = [pytestmark, pytest.mark.interpreters]


def assert_whole(ledger: Any) -> Any:
    """Every invariant the writers keep, on one consistent snapshot."""
    snap = ledger.snapshot()
    assert snap.a + snap.b == 1000, snap
    assert snap.last[0] + snap.last[1] == 0, snap
    assert snap.note == str(snap.last[0]).encode(), snap
    return snap


def test_a_waiter_takes_over_the_lock_of_a_holder_that_died(ctx: Any, everything: ModuleType) -> None:
    ledger = everything.Ledger(ctx=ctx)
    ready = ctx.Event()  # kept referenced: start() drops the arguments before a spawned child reads them
    victim = ctx.Process(target=workers.die_holding_lock, args=(ledger, "pair", ready))
    victim.start()
    victim.join(timeout=60)
    assert victim.exitcode == -signal.SIGKILL
    assert ledger.add_a(1) == 501  # no timeout: the lock passed to this process
    assert ledger.snapshot().b == 500
    movers = [ctx.Process(target=workers.move_between, args=(ledger, 500)) for _ in range(2)]
    for process in movers:
        process.start()
    for process in movers:
        process.join(timeout=120)
        assert process.exitcode == 0
    assert (ledger.a, ledger.b) == (501, 500)


def test_the_shard_lock_of_a_holder_that_died_is_taken_over(ctx: Any, everything: ModuleType) -> None:
    ledger = everything.Ledger(ctx=ctx)
    ledger.add_hits(2)
    ready = ctx.Event()  # kept referenced, as above
    victim = ctx.Process(target=workers.die_holding_shard_lock, args=(ledger, "hits", ready))
    victim.start()
    victim.join(timeout=60)
    assert victim.exitcode == -signal.SIGKILL
    assert ledger.hits == 2  # summing takes the shard lock: taken over, not a TimeoutError after lock_timeout
    ledger.hits = 5
    assert ledger.snapshot().hits == 5


def test_a_group_write_cut_short_by_death_is_finished_by_the_next_holder(ctx: Any, everything: ModuleType) -> None:
    ledger = everything.Ledger(ctx=ctx, last=[3, -3], note=b"3")
    victim = ctx.Process(target=workers.die_mid_commit, args=(ledger, "group"))
    victim.start()
    victim.join(timeout=60)
    assert victim.exitcode == -signal.SIGKILL
    assert (ledger._raw_a.value, ledger._raw_b.value) == (1, 500)  # the victim died between two fields
    snap = ledger.snapshot()  # takes the lock over, finishing the write first
    assert (snap.a, snap.b, snap.last, snap.note) == (1, 999, (7, -7), b"7")
    assert ledger.update_pair(a=2) is None and ledger.snapshot().b == 999


def test_structs_sharing_a_lock_are_all_finished_though_the_taker_knows_only_one(
    ctx: Any, everything: ModuleType
) -> None:
    first = everything.Ledger(ctx=ctx)
    go = ctx.Event()
    # Started before `second` exists, so that (under fork too) it knows only `first`'s journal.
    taker = ctx.Process(target=workers.take_pair_when_set, args=(first, go))
    taker.start()
    second = everything.Ledger(ctx=ctx, last=[3, -3], note=b"3", locks={"pair": first.get_lock("pair")})
    assert first.add_a(0) == 500  # this process has held the lock before the death
    victim = ctx.Process(target=workers.die_mid_commit, args=(second, "group"))
    victim.start()
    victim.join(timeout=60)
    assert victim.exitcode == -signal.SIGKILL
    assert (second._raw_a.value, second._raw_b.value) == (1, 500)  # the victim died between two fields
    go.set()
    taker.join(timeout=60)
    assert taker.exitcode == 0  # it took the lock over and could not reach `second`'s write
    snap = second.snapshot()
    assert (snap.a, snap.b, snap.last, snap.note) == (1, 999, (7, -7), b"7")
    checker = ctx.Process(target=workers.check_pair_whole, args=(second,))  # a process that knows only `second`
    checker.start()
    checker.join(timeout=60)
    assert checker.exitcode == 0


def test_an_array_assignment_cut_short_by_death_is_finished_too(ctx: Any, everything: ModuleType) -> None:
    ledger = everything.Ledger(ctx=ctx, last=[3, -3], note=b"3")
    victim = ctx.Process(target=workers.die_mid_commit, args=(ledger, "array"))
    victim.start()
    victim.join(timeout=60)
    assert victim.exitcode == -signal.SIGKILL
    assert list(ledger._raw_last) == [7, -3]  # died with the array half written
    assert ledger.last == [7, -7]  # the next holder finished the write


def test_a_write_that_died_while_staging_changes_nothing_then_or_later(ctx: Any, everything: ModuleType) -> None:
    ledger = everything.Ledger(ctx=ctx, last=[3, -3], note=b"3")
    victim = ctx.Process(target=workers.die_mid_staging, args=(ledger,))
    victim.start()
    victim.join(timeout=60)
    assert victim.exitcode == -signal.SIGKILL
    assert (ledger.a, ledger.b) == (500, 500)  # taken over: a, staged, was not written
    # A later write cut short is finished alone, without the field the first one had staged.
    victim = ctx.Process(target=workers.die_mid_commit, args=(ledger, "array"))
    victim.start()
    victim.join(timeout=60)
    assert victim.exitcode == -signal.SIGKILL
    snap = ledger.snapshot()
    assert (snap.a, snap.b, snap.last, snap.note) == (500, 500, (7, -7), b"3")


def test_an_interrupt_part_way_through_a_group_write_completes_it(
    everything: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger = everything.Ledger(last=[3, -3], note=b"3")
    journal = type(ledger._journals[0])
    copy = journal._copy
    interrupted = []

    def copy_half_then_interrupt(staged: Any) -> None:
        if interrupted:
            return copy(staged)
        _, target, saved, *_ = staged[0]
        target[: len(target) // 2] = saved[: len(target) // 2]
        interrupted.append(True)
        raise KeyboardInterrupt

    monkeypatch.setattr(journal, "_copy", staticmethod(copy_half_then_interrupt))
    with pytest.raises(KeyboardInterrupt):
        ledger.update_pair(a=1, b=999, last=[7, -7])
    assert interrupted
    snap = ledger.snapshot()  # the lock was let go
    assert (snap.a, snap.b, snap.last, snap.note) == (1, 999, (7, -7), b"3")


def test_killing_workers_at_random_points_leaves_every_group_whole(ctx: Any, everything: ModuleType) -> None:
    ledger = everything.Ledger(ctx=ctx, note=b"0")
    rng = random.Random(2026)
    seeds = iter(range(10_000))

    def start() -> Any:
        process = ctx.Process(target=workers.churn_ledger, args=(ledger, next(seeds)), daemon=True)
        process.start()
        return process

    running = [start() for _ in range(3)]
    kills = 0
    deadline = time.monotonic() + 4
    while time.monotonic() < deadline:
        time.sleep(rng.uniform(0.01, 0.15))
        victim = running.pop(rng.randrange(len(running)))
        victim.kill()
        victim.join(timeout=60)
        kills += 1
        assert_whole(ledger)
        running.append(start())
    for process in running:
        process.kill()
        process.join(timeout=60)
    snap = assert_whole(ledger)
    assert ledger.add_moves() == snap.moves + 1
    print(f"{kills} workers killed at random points; after them: {snap}")


def test_a_live_holder_is_waited_for_not_taken_over(ctx: Any, everything: ModuleType) -> None:
    ledger = everything.Ledger(ctx=ctx)
    held, done = ctx.Event(), ctx.Event()
    holder = ctx.Process(target=workers.hold_pair, args=(ledger, held, done))
    holder.start()
    try:
        assert held.wait(60)
        assert ledger.get_lock("pair").acquire(True, 0.2) is False
        assert ledger.get_lock("pair").acquire(False) is False
        assert ledger.add_moves() == 1  # the other group is free
    finally:
        done.set()
        holder.join(timeout=60)
    assert ledger.add_a(1) == 501


def test_the_recoverable_lock_is_reentrant_and_owned(everything: ModuleType) -> None:
    ledger = everything.Ledger()
    lock = ledger.get_lock("pair")
    with lock, ledger.locked_pair() as pair:
        pair.a += 1
        assert ledger.a == 500  # a method inside the held lock does not deadlock; the copy lands at the end
    assert (ledger.a, ledger.b) == (501, 500)
    with pytest.raises(RuntimeError, match="does not hold"):
        lock.release()


def test_without_robust_mutexes_the_lock_is_an_ordinary_one(
    everything: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib

    robust = importlib.import_module(f"{everything._runtime.__name__}._robust")
    monkeypatch.setattr(robust, "pthread", None)  # as on a platform without robust mutexes
    ledger = everything.Ledger()
    assert type(ledger.get_lock("pair")).__name__ == "RLock"
    assert ledger.add_a(1) == 501
