"""Real processes under every start method: exact totals, invariants, the routes that work and those that raise."""

from __future__ import annotations

import multiprocessing
import threading
from types import ModuleType
from typing import Any

import pytest
import workers
from conftest import START_METHODS, run_all, run_together

from generated.counter import Counter
from generated.worker_stats import WorkerStats

pytestmark = pytest.mark.interpreters

PROCESSES = 4
ADDS = 2000


def test_n_processes_times_m_adds_is_exact(ctx: Any) -> None:
    counter = Counter(ctx=ctx)
    run_all(ctx, workers.add_many, [(counter, ADDS)] * PROCESSES)
    assert counter.value == PROCESSES * ADDS


def test_compound_updates_in_locked_blocks_lose_nothing(ctx: Any) -> None:
    stats = WorkerStats(ctx=ctx)
    run_all(ctx, workers.add_in_locked_block, [(stats, 500)] * PROCESSES)
    snap = stats.snapshot()
    assert (snap.processed, snap.failed, snap.elapsed) == (PROCESSES * 500, PROCESSES * 500, PROCESSES * 250.0)


def test_invariant_holds_in_every_concurrent_snapshot(ctx: Any, everything: ModuleType) -> None:
    pair = everything.Pair(ctx=ctx)
    bad = Counter(ctx=ctx)
    run_together(ctx, [(workers.move_between, (pair, 3000))] * 2 + [(workers.watch_sum, (pair, 3000, bad))] * 2)
    assert bad.value == 0
    assert pair.a + pair.b == 1000 and (pair.a, pair.b) == (500, 500)


def test_pool_initializer_route(ctx: Any) -> None:
    counter = Counter(ctx=ctx)
    with ctx.Pool(2, initializer=workers.remember, initargs=(counter,)) as pool:
        pids = pool.map(workers.add_to_inherited, [100] * 8)
    assert counter.value == 800
    assert len(set(pids)) >= 1


def test_pool_task_arguments_raise(ctx: Any) -> None:
    counter = Counter(ctx=ctx)
    with ctx.Pool(1) as pool:
        with pytest.raises(
            RuntimeError, match="Counter objects should only be shared between processes through inheritance"
        ):
            pool.map(workers.touch, [counter])


def test_queue_route_raises(ctx: Any) -> None:
    queue = ctx.SimpleQueue()
    with pytest.raises(RuntimeError, match="through inheritance") as refused:
        queue.put(Counter(ctx=ctx))
    # ... and says which struct travels by any route.
    assert "a named struct (Counter.create(name) or .attach(name)) travels by any route" in str(refused.value)


@pytest.mark.parametrize("child_method", [m for m in START_METHODS if m != "fork"])
def test_fork_struct_sent_to_another_start_method_says_so(child_method: str) -> None:
    counter = Counter(ctx=multiprocessing.get_context("fork"))
    child_ctx = multiprocessing.get_context(child_method)
    process = child_ctx.Process(target=workers.add_many, args=(counter, 1))
    with pytest.raises(
        RuntimeError, match=f"created for the 'fork' start method but is passed to a '{child_method}' child"
    ):
        process.start()


def test_lock_timeout_across_processes(ctx: Any, everything: ModuleType) -> None:
    guarded = everything.Guarded(ctx=ctx)
    ready = ctx.Event()
    holder = ctx.Process(target=workers.hold_lock, args=(guarded, "left", 3.0, ready))
    holder.start()
    try:
        assert ready.wait(60)
        with pytest.raises(TimeoutError, match="Guarded: lock group 'left'"):
            guarded.add_total()
        assert guarded.add_b(2) == 2  # group 'right' is free
    finally:
        holder.join(timeout=60)
    assert guarded.add_total() == 1


def test_an_add_waits_for_a_lock_another_process_holds_then_lands(ctx: Any, everything: ModuleType) -> None:
    """Past its few quick retries, an add sleeps on the busy lock and goes on when it is released."""
    pair = everything.Pair(ctx=ctx)
    held, done = ctx.Event(), ctx.Event()
    holder = ctx.Process(target=workers.hold_pair, args=(pair, held, done))
    holder.start()
    try:
        assert held.wait(60)
        results: list[int] = []
        adder = threading.Thread(target=lambda: results.append(pair.add_a(1)))
        adder.start()
        adder.join(0.3)
        assert adder.is_alive() and pair.get_lock("other").acquire(False)  # waiting on 'pair' only
        pair.get_lock("other").release()
        done.set()
        adder.join(60)
        assert results == [501]
    finally:
        done.set()
        holder.join(timeout=60)
    assert holder.exitcode == 0


def test_batched_adds_from_several_processes_are_exact(ctx: Any) -> None:
    counter = Counter(ctx=ctx)
    run_all(ctx, workers.add_in_batches, [(counter, 20, 250)] * PROCESSES)
    assert counter.value == PROCESSES * 20 * 250


def test_sharded_counter_totals_are_exact_with_more_processes_than_shards(ctx: Any, everything: ModuleType) -> None:
    hits = everything.Hits(ctx=ctx)  # hits has 2 shards, seconds 3
    run_all(ctx, workers.add_hits, [(hits, 1000)] * 5)
    run_all(ctx, workers.add_hits_and_spawn, [(hits, 500, ctx.get_start_method())] * 2)
    assert hits.hits == 5 * 1000 + 2 * 2 * 500
    assert hits.seconds == 1.5 + 0.5 * (5 * 1000 + 2 * 2 * 500)


def test_threads_sharing_their_process_s_shard_lose_no_add(ctx: Any, everything: ModuleType) -> None:
    """Three processes (two own a shard of hits, the third shares the last under its lock), four threads each."""
    hits = everything.Hits(ctx=ctx)
    run_all(ctx, workers.add_hits_in_threads, [(hits, 4, 3000)] * 3)
    assert hits.hits == 3 * 4 * 3000
    assert hits.seconds == 1.5 + 0.5 * 3 * 4 * 3000
