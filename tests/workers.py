"""Functions run in child processes by the multi-process tests (importable under spawn)."""

from __future__ import annotations

import os
import time
from typing import Any

from generated.counter import Counter
from generated.worker_stats import WorkerStats

_inherited: Any = None


def add_many(counter: Counter, times: int) -> None:
    for _ in range(times):
        counter.add_value()


def add_in_locked_block(stats: WorkerStats, times: int) -> None:
    """The classic compound update, done right: two fields, one acquisition."""
    for _ in range(times):
        with stats.locked_progress() as group:
            group.processed += 1
            group.failed += 1
        stats.add_elapsed(0.5)


def move_between(shared: Any, times: int) -> None:
    """Move one unit from ``a`` to ``b`` and back, keeping a + b constant."""
    for index in range(times):
        with shared.locked_pair() as pair:
            if index % 2:
                pair.a += 1
                pair.b -= 1
            else:
                pair.a -= 1
                pair.b += 1


def watch_sum(shared: Any, times: int, bad: Any) -> None:
    """Take snapshots while others move units; count any snapshot whose sum is off."""
    for _ in range(times):
        snap = shared.snapshot()
        if snap.a + snap.b != 1000:
            bad.add_value()


def remember(shared: Any) -> None:
    """Pool initializer: keep the inherited struct for the tasks of this worker."""
    global _inherited
    _inherited = shared


def add_to_inherited(times: int) -> int:
    for _ in range(times):
        _inherited.add_value()
    return os.getpid()


def touch(shared: Any) -> int:
    """A Pool task that receives a struct as an argument (which must fail)."""
    return int(shared.value)


def hold_lock(shared: Any, group: str, seconds: float, ready: Any) -> None:
    """Take a group's lock and keep it, as a worker stuck (or dead) inside it would."""
    with getattr(shared, f"locked_{group}")():
        ready.set()
        time.sleep(seconds)


def read_value(counter: Counter, out: Any) -> None:
    out.add_value(counter.value)


def add_in_batches(counter: Counter, batches: int, per_batch: int) -> None:
    for _ in range(batches):
        with counter.batch() as batch:
            for _ in range(per_batch):
                batch.add_value()


def add_hits(hits: Any, times: int) -> None:
    for _ in range(times):
        hits.add_hits()
        hits.add_seconds(0.5)


def add_hits_in_threads(hits: Any, threads: int, times: int) -> None:
    """Threads of one process share its shard: switch threads as often as the interpreter allows."""
    import sys
    import threading

    sys.setswitchinterval(1e-6)
    started = [threading.Thread(target=add_hits, args=(hits, times)) for _ in range(threads)]
    for thread in started:
        thread.start()
    for thread in started:
        thread.join()


def add_hits_and_spawn(hits: Any, times: int, method: str) -> None:
    """Add, then start a grandchild that adds too (processes started from other processes)."""
    import multiprocessing

    add_hits(hits, times)
    ctx = multiprocessing.get_context(method)
    child = ctx.Process(target=add_hits, args=(hits, times))
    child.start()
    child.join()
    assert child.exitcode == 0


def die_holding_lock(shared: Any, group: str, ready: Any) -> None:
    """Enter a locked block and get SIGKILLed there, as an OOM-killed worker would."""
    import signal

    with getattr(shared, f"locked_{group}")():
        ready.set()
        os.kill(os.getpid(), signal.SIGKILL)


def die_holding_shard_lock(shared: Any, field: str, ready: Any) -> None:
    """Get SIGKILLed holding the lock of a sharded field's shards (held briefly by sums and claims)."""
    import signal

    getattr(shared, f"_shardlock_{field}").acquire()
    ready.set()
    os.kill(os.getpid(), signal.SIGKILL)


class SoakShared:
    """Everything the soak workers share, passed as one Process argument."""

    def __init__(self, **shared: Any) -> None:
        self.__dict__.update(shared)


def soak(shared: SoakShared, index: int, seconds: float) -> None:
    """Mixed operations until the deadline; what was done is counted in done[index * 4 + kind]."""
    deadline = time.monotonic() + seconds
    step = 0
    while time.monotonic() < deadline:
        step += 1
        kind = (step + index) % 6
        if kind == 0:
            shared.counter.add_value()
            shared.done[index * 4] += 1
        elif kind == 1:
            with shared.counter.batch() as batch:
                for _ in range(10):
                    batch.add_value()
            shared.done[index * 4 + 1] += 10
        elif kind == 2:
            with shared.everything.locked_arrays() as group:
                group.ints[step % 3] += 1
            shared.everything.add_i()  # i counts array adds, in its own group
            shared.done[index * 4 + 2] += 1
        elif kind == 3:
            shared.hits.add_hits()
            shared.done[index * 4 + 3] += 1
        elif kind == 4:
            with shared.pair.locked_pair() as pair:
                pair.a -= 1
                pair.b += 1
            shared.pair.add_moves()
            while not shared.pair.compare_and_set_moves(shared.pair.moves, shared.pair.moves):
                pass
            with shared.pair.locked_pair() as pair:
                pair.a += 1
                pair.b -= 1
        else:
            snap = shared.pair.snapshot()
            if snap.a + snap.b != 1000:
                shared.bad.add_value()
            shared.everything.snapshot()


def die_mid_commit(shared: Any, write: str) -> None:
    """Start a write and get SIGKILLed once half the bytes of the first field it changes are
    copied, the rest not yet."""
    import signal

    def copy_half_a_field_then_die(staged: Any) -> None:
        _, target, saved, *_ = staged[0]
        half = len(target) // 2
        target[:half] = saved[:half]
        os.kill(os.getpid(), signal.SIGKILL)

    pair = [group.name for group in shared.__sharedgen_layout__.groups].index("pair")
    type(shared._journals[pair])._copy = staticmethod(copy_half_a_field_then_die)
    if write == "group":
        shared.update_pair(a=1, b=999, last=[7, -7], note=b"7")
    else:  # one array field by itself: several stores, so it goes through the journal too
        shared.last = [7, -7]


def die_mid_staging(shared: Any) -> None:
    """Start a write of a and b to group pair and get SIGKILLed once a is staged in the journal."""
    import signal

    def die(value: Any) -> None:
        os.kill(os.getpid(), signal.SIGKILL)

    pair = [group.name for group in shared.__sharedgen_layout__.groups].index("pair")
    slots = shared._journals[pair]._slots
    mark, target, saved, _, partial = slots[1]  # b's
    slots[1] = (mark, target, saved, die, partial)
    shared.update_pair(a=1, b=999)


def take_pair_when_set(shared: Any, go: Any) -> None:
    """Once go is set, take group pair's lock (taking it over if its holder died)."""
    assert go.wait(60)
    shared.add_a(0)


def check_pair_whole(shared: Any) -> None:
    snap = shared.snapshot()
    assert snap.a + snap.b == 1000, snap


def hold_pair(shared: Any, held: Any, done: Any) -> None:
    with shared.locked_pair():
        held.set()
        done.wait(60)


def churn_ledger(shared: Any, seed: int) -> None:
    """Group writes of every kind, forever, each keeping a + b == 1000, last summing to 0, note == last[0]."""
    import random

    rng = random.Random(seed)
    while True:
        k = rng.randint(1, 9)
        choice = rng.randrange(4)
        if choice == 0:
            with shared.locked_pair() as pair:
                pair.a -= k
                pair.b += k
                pair.last = [k, -k]
                pair.note = str(k).encode()
        elif choice == 1:
            a = rng.randint(0, 1000)
            shared.update_pair(a=a, b=1000 - a, last=[-k, k], note=str(-k).encode())
        elif choice == 2:
            with shared.batch() as batch:
                batch.add_a(-k)
                batch.add_b(k)
        else:
            shared.add_moves()


def add_and_read(task: tuple[Any, int]) -> int:
    """Pool.map task: add to a struct that came as the task's argument."""
    shared, times = task
    for _ in range(times):
        shared.add_value()
    return int(shared.value)


def copy_a_into_b(shared: Any, times: int, go: Any) -> None:
    """A block of group gb that reads a field of group ga: takes the locks against the fixed order."""
    go.wait()
    for _ in range(times):
        with shared.locked_gb() as group:
            group.b = shared.a


def add_to_a(shared: Any, times: int, go: Any) -> None:
    go.wait()
    for _ in range(times):
        shared.add_a()


def check_b_never_ahead(shared: Any, times: int, bad: Any, go: Any) -> None:
    """b only ever copies a, and a only grows: a consistent snapshot never shows b > a."""
    go.wait()
    for _ in range(times):
        snap = shared.snapshot()
        if snap.b > snap.a:
            bad.add_value()


def add_done_then_hits(shared: Any, times: int, go: Any) -> None:
    go.wait()
    for _ in range(times):
        shared.add_done()
        shared.add_hits()


def check_hits_never_ahead(shared: Any, times: int, bad: Any, go: Any) -> None:
    """hits only follows done: a consistent snapshot never shows hits > done."""
    go.wait()
    for _ in range(times):
        snap = shared.snapshot()
        if snap.hits > snap.done:
            bad.add_value()


def snapshot_inside_block(shared: Any, group: str, times: int, bad: Any, go: Any) -> None:
    """Add one to the block's field through the copy, with snapshot() and repr() taken inside."""
    field = group[1:]
    go.wait()
    for _ in range(times):
        with getattr(shared, f"locked_{group}")() as copy:
            before = getattr(copy, field)
            setattr(copy, field, before + 1)
            if getattr(shared.snapshot(), field) != before or f"{field}={before}," not in repr(shared)[:-1] + ",":
                bad.add_value()  # the group this block holds must read as it was before the block


def add_in_blocks_calling_methods(shared: Any, times: int, go: Any) -> None:
    """Locked blocks (over an injected plain Lock) that call the struct's own methods inside."""
    go.wait()
    for _ in range(times):
        with shared.locked_ga() as group:
            group.m += 1
            shared.add_n()
            shared.snapshot()


def set_stop(shared: Any, go: Any) -> None:
    go.wait()
    assert shared.ratio == 0.5
    shared.stop = True


def snapshot_in_block_of_ga(shared: Any) -> None:
    with shared.locked_ga():
        shared.snapshot()


def snapshot_after_parent_block(shared: Any) -> None:
    """In a fork child of a process inside locked_ga(): the snapshot sees a and b after the block."""
    snap = shared.snapshot()
    assert (snap.a, snap.b) == (1, 1), snap
