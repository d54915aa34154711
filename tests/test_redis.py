"""The Redis twin against a real redis-server: the same API and answers as shared memory,
atomicity from the server, leases that free themselves, several processes with their own connections."""

from __future__ import annotations

import functools
import multiprocessing
import pickle
import random
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import workers
from conftest import REPO, START_METHODS, build_schema, run_all, run_together

from generated.counter import Counter
from generated.worker_stats import WorkerStats

redis = pytest.importorskip("redis", reason="redis-py is not installed (pip install 'sharedgen[redis]')")

PROCESSES = 4


@pytest.fixture
def client(redis_port: int) -> Iterator[Any]:
    connection = redis.Redis(port=redis_port)
    yield connection
    connection.close()


@pytest.fixture
def key() -> str:
    return f"test:{uuid.uuid4().hex}"


# Values of every kind, in and out of every C range, and of wrong types.
INTS = [0, 1, -1, 7, 127, 128, -128, -129, 255, 256, 2**15 - 1, 2**15, -(2**15), -(2**15) - 1, 2**16 - 1, 2**16]
INTS += [2**31 - 1, 2**31, -(2**31), -(2**31) - 1, 2**32 - 1, 2**32, 2**53 + 1, 2**63 - 1, 2**63, -(2**63)]
INTS += [-(2**63) - 1, 2**64 - 1, 2**64, -(2**64), 10**30, True, 3.0, 2.5, "3", None]
FLOATS = [0.0, -0.0, 0.1, 1.5, -2.25, 1e-45, 3.4028234663852886e38, 3.5e38, -3.5e38, 1e308, -1e308]
FLOATS += [float("inf"), float("-inf"), float("nan"), 1, 2**70, 10**400, True, "x", None]
BOOLS = [True, False, 0, 1, 1.0, 2, None, "yes"]
BYTES = [b"", b"x", b"I", b"\0", b"ab", b"abcdefgh", b"abcdefghi", b"a\0b", "x", 1, None]
TEXTS = ["", "x", "é", "\udc80", "ab", "ünïcødé", "abcdefghi", "a\0", b"x", 1, None]
POOLS = {"c": BYTES, "u": TEXTS, "?": BOOLS, "f": FLOATS, "d": FLOATS}


def pool(code: str) -> list[Any]:
    return POOLS.get(code, INTS)


def outcome(action: Callable[[], Any]) -> tuple[str, Any]:
    """What an operation did: its result, or its exception and message."""
    try:
        return ("returned", action())
    except Exception as error:
        return (type(error).__name__, str(error))


def same(a: Any, b: Any) -> bool:
    """Equal, NaN counting as equal to NaN (0.0 and -0.0 are equal: a sum of shards drops the sign)."""
    if isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)):
        return type(a) is type(b) and len(a) == len(b) and all(map(same, a, b))
    return type(a) is type(b) and (a == b or (a != a and b != b))


def random_operation(rng: random.Random, struct: Any, fields: dict[str, dict[str, Any]]) -> Callable[[Any], Any]:
    """One operation of the public API, on a random field with a random (often bad) value."""
    name = rng.choice(list(fields))
    meta = fields[name]
    length = meta["length"] if meta["type"] not in ("c", "u") else None
    value = rng.choice(pool(meta["type"]))
    choices = ["get", "set"]
    choices += [m for m in ("add", "exchange", "compare_and_set") if hasattr(struct, f"{m}_{name}")]
    choices += ["update", "locked", "locked_raises"] if meta["lock"] and not meta["shards"] else []
    choices += ["batch"] if hasattr(struct, "batch") and hasattr(struct, f"add_{name}") else []
    choice = rng.choice(choices)
    if choice == "get":
        return lambda s: getattr(s, name)
    if length is not None and choice in ("set", "update", "locked"):
        value = [rng.choice(pool(meta["type"])) for _ in range(length + rng.choice([0, 0, 0, 1, -1]))]
    if choice == "set":
        return lambda s: setattr(s, name, value)
    if choice == "add":
        delta = rng.choice(pool(meta["type"])[:-3] if rng.random() < 0.9 else pool(meta["type"]))
        index = rng.choice([0, 1, -1, length or 0, "0"])
        if length is not None:
            return lambda s: getattr(s, f"add_{name}")(index, delta)
        return lambda s: getattr(s, f"add_{name}")(delta)
    if choice == "exchange":
        return lambda s: getattr(s, f"exchange_{name}")(value)
    if choice == "compare_and_set":
        current = rng.random() < 0.5
        expected = rng.choice(pool(meta["type"]))
        return lambda s: getattr(s, f"compare_and_set_{name}")(getattr(s, name) if current else expected, value)
    if choice == "update":
        return lambda s: getattr(s, f"update_{meta['lock']}")(**{name: value})
    if choice == "batch":
        delta = rng.choice(pool(meta["type"])[:-3])

        def batched(s: Any) -> None:
            with s.batch() as batch:
                for _ in range(3):
                    getattr(batch, f"add_{name}")(*([0] if length is not None else []), delta)

        return batched

    def locked(s: Any) -> None:
        with getattr(s, f"locked_{meta['lock']}")() as group:
            setattr(group, name, value)
            if choice == "locked_raises":
                raise LookupError("the block failed")

    return locked


@pytest.mark.parametrize("struct_name", ["Everything", "Hits", "Guarded"])
def test_the_twin_answers_every_operation_as_shared_memory_does(
    everything: ModuleType, client: Any, key: str, struct_name: str
) -> None:
    cls = getattr(everything, struct_name)
    shared, twin = cls(), cls.on_redis(client, key)
    assert same(twin.snapshot().as_dict(), shared.snapshot().as_dict())
    rng = random.Random(struct_name)
    compared: dict[str, int] = {}
    for step in range(1500):
        operation = random_operation(rng, shared, cls.__sharedgen_fields__)
        expected, got = outcome(functools.partial(operation, shared)), outcome(functools.partial(operation, twin))
        assert same(got, expected), f"step {step}: {got} != {expected}"
        assert same(list(twin.snapshot().as_dict().items()), list(shared.snapshot().as_dict().items())), f"step {step}"
        compared[expected[0]] = compared.get(expected[0], 0) + 1
    # The walk reached results and every kind of refusal.
    assert {"returned", "TypeError", "OverflowError"} <= set(compared), compared
    if struct_name == "Everything":
        assert {"ValueError", "IndexError", "LookupError"} <= set(compared), compared


def test_64_bit_adds_are_exact_at_the_edges(everything: ModuleType, client: Any, key: str) -> None:
    twin = everything.Everything.on_redis(client, key)
    twin.Q = 2**64 - 2
    assert twin.add_Q(1) == 2**64 - 1
    with pytest.raises(OverflowError):
        twin.add_Q(1)
    assert twin.add_Q(-(2**64 - 1)) == 0
    twin.q = -(2**63)
    assert twin.add_q(2**64 - 1) == 2**63 - 1
    with pytest.raises(OverflowError):
        twin.add_q(1)
    twin.q = 2**53 + 1
    assert [twin.add_q(1) for _ in range(3)] == [2**53 + 2, 2**53 + 3, 2**53 + 4]
    assert client.hget(key, "q") == b"9007199254740996"
    assert twin.add_q(-(10**9) - 5) == 2**53 + 4 - 10**9 - 5


def test_the_hash_is_readable_by_other_redis_code(everything: ModuleType, client: Any, key: str) -> None:
    twin = everything.Everything.on_redis(client, key)
    twin.add_ints(1, 5)
    twin.title = "ünï"
    stored = client.hgetall(key)
    assert stored[b"ints[1]"] == b"7" and stored[b"title"] == "ünï".encode() and stored[b"flag"] == b"1"
    client.hincrby(key, "i", 3)  # hand-written code beside the twin
    assert twin.i == -(2**31) + 3


def test_attaching_keeps_existing_values_and_fills_in_missing_fields(client: Any, key: str) -> None:
    client.hset(key, "processed", 41)
    stats = WorkerStats.on_redis(client, key)
    assert (stats.processed, stats.state, stats.elapsed) == (41, b"I", 0.0)
    client.hdel(key, "failed", "state")
    assert (stats.failed, stats.state) == (0, b"\0")  # a field gone from the hash reads as zeroed memory
    assert WorkerStats.on_redis(client, key).state == b"I"  # attaching fills it in again


def zeroed(fields: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Every field's value in zeroed shared memory: a one-character field holds NUL, a string is empty."""
    values: dict[str, Any] = {}
    for name, meta in fields.items():
        code, length = meta["type"], meta["length"]
        if code in ("c", "u"):
            values[name] = (b"" if code == "c" else "") if length else (b"\0" if code == "c" else "\0")
        else:
            zero = {"?": False, "f": 0.0, "d": 0.0}.get(code, 0)
            values[name] = [zero] * length if length else zero
    return values


def test_a_deleted_key_reads_and_writes_back_as_zeroed_shared_memory(
    everything: ModuleType, client: Any, key: str
) -> None:
    cls = everything.Everything
    fields = cls.__sharedgen_fields__
    shared, twin = cls(**zeroed(fields)), cls.on_redis(client, key)
    groups = dict.fromkeys(meta["lock"] for meta in fields.values() if meta["lock"])
    client.delete(key)
    assert same(twin.snapshot().as_dict(), shared.snapshot().as_dict())
    for name in fields:
        assert same(getattr(twin, name), getattr(shared, name)), name
    for group in groups:  # the block writes its copy back: every zero must pass the checks
        for struct in (shared, twin):
            with getattr(struct, f"locked_{group}")():
                pass
    assert same(twin.snapshot().as_dict(), shared.snapshot().as_dict())
    client.delete(key)
    for name, zero in zeroed(fields).items():  # a missing field compares equal to its zero
        if hasattr(shared, f"compare_and_set_{name}"):
            for struct in (shared, twin):
                assert getattr(struct, f"compare_and_set_{name}")(zero, zero) is True, name
    client.delete(key)
    for name, zero in zeroed(fields).items():
        if hasattr(shared, f"exchange_{name}"):
            assert same(getattr(twin, f"exchange_{name}")(zero), getattr(shared, f"exchange_{name}")(zero)), name


# Values a float field is set to, and compared with: ints beyond 2**53 and beyond every float among them.
FLOAT_COMPARISONS = [0.0, -0.0, 0, 1.5, 2**53, 2**53 + 1, 2**53 + 2, 2.0**53, 2**64 + 1, 10**30, 1e30, 10**400]
FLOAT_COMPARISONS += [2**24 + 1, 16777216.0, 0.1, 3.4028234663852886e38, float("inf"), float("-inf"), float("nan")]


@pytest.mark.parametrize("field", ["f", "d"])
def test_float_compare_and_set_follows_python_equality(
    everything: ModuleType, client: Any, key: str, field: str
) -> None:
    shared, twin = everything.Everything(), everything.Everything.on_redis(client, key)
    compare_and_set = f"compare_and_set_{field}"
    for stored in FLOAT_COMPARISONS:
        for expected in FLOAT_COMPARISONS:
            results = []
            for struct in (shared, twin):
                try:
                    setattr(struct, field, stored)
                except OverflowError:  # beyond the C type: nothing to compare with
                    break
                results.append((getattr(struct, field) == expected, getattr(struct, compare_and_set)(expected, 2.0)))
            if results:  # Python's == between the stored float and expected decides, on both
                assert results == [(results[0][0], results[0][0])] * 2, (stored, expected, results)


def test_generated_modules_import_no_redis() -> None:
    code = "import sys, generated.worker_stats, generated.arrays; print('redis' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO)
    assert result.stdout.strip() == "False"


def test_a_client_that_decodes_responses_is_refused(redis_port: int, key: str) -> None:
    with pytest.raises(ValueError, match="decode_responses=False"):
        WorkerStats.on_redis(redis.Redis(port=redis_port, decode_responses=True), key)


def test_locks_are_reentrant_and_group_methods_work_inside_them(client: Any, key: str) -> None:
    stats = WorkerStats.on_redis(client, key)
    with stats.get_lock("progress"):
        stats.add_processed(2)
        with stats.locked_progress() as group:
            group.failed += 1
            stats.update_progress(processed=10)  # lands: the block writes back only what it assigned
        assert client.exists(f"{key}:lease:progress")
    assert not client.exists(f"{key}:lease:progress")
    assert (stats.processed, stats.failed) == (10, 1)


def test_a_holder_whose_lease_ran_out_writes_nothing(everything: ModuleType, client: Any, key: str) -> None:
    guarded = everything.Guarded.on_redis(client, key, lease=0.2)
    with pytest.raises(TimeoutError, match="ran out"):
        with guarded.locked_left() as group:
            group.a = 5
            time.sleep(0.4)
            everything.Guarded.on_redis(client, key).add_total(1)  # another client takes the group meanwhile
    assert (guarded.a, guarded.total) == (0, 1)


def test_a_waiter_times_out_naming_struct_and_group(everything: ModuleType, client: Any, key: str) -> None:
    holder, waiter = (everything.Guarded.on_redis(client, key, lease=30) for _ in range(2))
    with holder.locked_left():
        with pytest.raises(TimeoutError, match="Guarded: lock group 'left' not acquired within 0.5 s"):
            waiter.add_a(1)
        waiter.add_b(1)  # another group is free
    assert waiter.add_a(1) == 1


def test_the_twin_travels_by_pickle_as_its_key(client: Any, key: str) -> None:
    stats = WorkerStats.on_redis(client, key)
    stats.add_processed(3)
    copy = pickle.loads(pickle.dumps(stats))
    assert type(copy) is type(stats) and copy.processed == 3


def test_adds_from_several_processes_are_exact(ctx: Any, client: Any, key: str) -> None:
    counter = Counter.on_redis(client, key)
    run_all(ctx, workers.add_many, [(counter, 300)] * PROCESSES)
    assert counter.value == PROCESSES * 300


def test_locked_blocks_and_batches_from_several_processes_lose_nothing(ctx: Any, client: Any, key: str) -> None:
    stats = WorkerStats.on_redis(client, key)
    run_all(ctx, workers.add_in_locked_block, [(stats, 60)] * PROCESSES)
    counter = Counter.on_redis(client, key + ":counter")
    run_all(ctx, workers.add_in_batches, [(counter, 20, 50)] * PROCESSES)
    snap = stats.snapshot()
    assert (snap.processed, snap.failed, snap.elapsed) == (PROCESSES * 60, PROCESSES * 60, PROCESSES * 30.0)
    assert counter.value == PROCESSES * 20 * 50


def test_invariant_holds_in_every_snapshot_taken_while_others_move(
    ctx: Any, everything: ModuleType, client: Any, key: str
) -> None:
    pair = everything.Pair.on_redis(client, key)
    bad = Counter(ctx=ctx)
    run_together(ctx, [(workers.move_between, (pair, 150))] * 2 + [(workers.watch_sum, (pair, 600, bad))] * 2)
    assert bad.value == 0
    assert (pair.a, pair.b) == (500, 500)


@pytest.mark.parametrize("method", START_METHODS)
def test_a_client_killed_inside_a_locked_block_frees_the_group_when_its_lease_runs_out(
    method: str, everything: ModuleType, client: Any, key: str
) -> None:
    ctx = multiprocessing.get_context(method)
    guarded = everything.Guarded.on_redis(client, key)  # lease = lock_timeout = 0.5 s
    ready = ctx.Event()
    holder = ctx.Process(target=workers.die_holding_lock, args=(guarded, "left", ready))
    holder.start()
    assert ready.wait(60)
    holder.join()
    assert holder.exitcode == -signal.SIGKILL
    assert client.exists(f"{key}:lease:left")  # the dead client's lease is still there
    guarded.add_b(1)  # other groups never waited
    assert guarded.add_a(1) == 1  # waits out the lease (a wait of up to lock_timeout), then proceeds
    assert not client.exists(f"{key}:lease:left")


@pytest.mark.parametrize("field", ["q", "Q", "b", "L"])
def test_random_adds_match_python_integers(everything: ModuleType, client: Any, key: str, field: str) -> None:
    twin = everything.Everything.on_redis(client, key)
    shared = everything.Everything()
    rng = random.Random(field)
    low, high = -(2**63), 2**64 - 1  # wide enough for every field
    for _ in range(300):
        start = rng.choice([rng.randint(low, high), rng.randint(-(10**12), 10**12), 0])
        delta = rng.choice([rng.randint(-(2**65), 2**65), rng.randint(-(10**10), 10**10), rng.randint(-3, 3)])
        try:
            setattr(shared, field, start)
        except OverflowError:
            continue
        setattr(twin, field, start)
        expected = outcome(functools.partial(getattr(shared, f"add_{field}"), delta))
        assert outcome(functools.partial(getattr(twin, f"add_{field}"), delta)) == expected
        assert getattr(twin, field) == getattr(shared, field)


def test_a_group_larger_than_one_script_call_of_lua_is_written_and_read_whole(
    tmp_path: Path, client: Any, key: str
) -> None:
    module = build_schema(
        tmp_path,
        """
        structs:
          Wide:
            redis: true
            fields:
              cells: {type: H, length: 5000, lock: grid}
              moves: {type: i, lock: grid}
        """,
    )
    wide = module.Wide.on_redis(client, key)
    with wide.locked_grid() as grid:
        grid.cells = list(range(5000))
        grid.moves = 1
    assert wide.cells == list(range(5000)) and wide.snapshot().cells[-1] == 4999
    with wide.batch() as batch:
        for index in range(0, 5000, 2):
            batch.add_cells(index, 1)
    assert sum(wide.cells) == sum(range(5000)) + 2500


def test_the_twin_travels_through_a_queue_and_pool_map(ctx: Any, client: Any, key: str) -> None:
    counter = Counter.on_redis(client, key)
    with ctx.Pool(2) as pool:
        assert len(pool.map(workers.add_and_read, [(counter, 10)] * 4)) == 4
    queue = ctx.Queue()
    queue.put(counter)
    assert queue.get(timeout=30).value == 40


def test_a_batch_flushes_every_group_in_one_script_call_all_or_none(client: Any, key: str) -> None:
    stats = WorkerStats.on_redis(client, key)

    def script_calls() -> int:
        return int(client.info("commandstats").get("cmdstat_evalsha", {}).get("calls", 0))

    before = script_calls()
    with stats.batch() as batch:
        for _ in range(100):
            batch.add_processed()
            batch.add_elapsed(0.5)
    assert script_calls() - before == 1
    assert (stats.processed, stats.elapsed) == (100, 50.0)
    with stats.batch() as batch:
        batch.add_processed(1)
        batch.add_elapsed(1.0)
        batch.add_failed(2**31)
        with pytest.raises(OverflowError, match="WorkerStats.failed"):
            batch.flush()
        assert (stats.processed, stats.failed, stats.elapsed) == (100, 0, 50.0)  # no group changed
        stats.failed = -10
        batch.flush()  # every add stayed pending, and now fits
        assert (stats.processed, stats.failed, stats.elapsed) == (101, 2**31 - 10, 51.0)
    assert (stats.processed, stats.failed, stats.elapsed) == (101, 2**31 - 10, 51.0)  # nothing applied twice


def test_a_locked_block_writes_back_only_what_it_assigned(client: Any, key: str) -> None:
    stats = WorkerStats.on_redis(client, key)
    with stats.locked_progress() as group:
        group.failed = 4
        stats.add_processed(3)  # the same client holds the lease: this lands, and is not overwritten
    assert (stats.processed, stats.failed) == (3, 4)
    with pytest.raises(TypeError, match="WorkerStats.processed must be an int, not NoneType"):
        with stats.locked_progress() as group:
            group.failed = 5
            group.processed = None  # type: ignore[assignment]
    assert (stats.processed, stats.failed) == (3, 4)
    assert not client.exists(f"{key}:lease:progress")
