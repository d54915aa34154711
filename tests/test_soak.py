"""Soak: 8 processes on 2 cores doing every kind of operation at once for a bounded time."""

from __future__ import annotations

import multiprocessing
from types import ModuleType

import workers

from generated.counter import Counter

PROCESSES = 8
SECONDS = 20.0


def test_mixed_operations_lose_nothing_and_keep_every_invariant(everything: ModuleType) -> None:
    ctx = multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn")
    shared = workers.SoakShared(
        counter=Counter(ctx=ctx),
        pair=everything.Pair(ctx=ctx),
        everything=everything.Everything(i=0, ints=[0, 0, 0], ctx=ctx),
        hits=everything.Hits(ctx=ctx),
        bad=Counter(ctx=ctx),
        done=ctx.Array("q", PROCESSES * 4),
    )
    processes = [ctx.Process(target=workers.soak, args=(shared, index, SECONDS)) for index in range(PROCESSES)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=SECONDS + 120)
    assert [p.exitcode for p in processes] == [0] * PROCESSES  # nobody deadlocked or crashed

    done = list(shared.done)
    adds, batched, array_adds, sharded = (sum(done[kind::4]) for kind in range(4))
    snap = shared.everything.snapshot()
    print(
        f"\nsoak: {adds} adds, {batched} batched adds, {array_adds} array adds, {sharded} sharded adds; "
        f"pair moves {shared.pair.moves}, bad snapshots {shared.bad.value}"
    )
    assert shared.counter.value == adds + batched
    assert sum(snap.ints) == array_adds and snap.i == array_adds  # each array add also added to i in one block
    assert shared.hits.hits == sharded
    assert shared.bad.value == 0
    assert shared.pair.a + shared.pair.b == 1000
    assert min(adds, batched, array_adds, sharded) > 0
