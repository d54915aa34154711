"""Benchmark: the Redis twins against hand-written redis-py code doing the same job.

    python benchmarks/redis_twin.py            # starts its own redis-server on a free port
    python benchmarks/redis_twin.py --quick    # under a minute
    python benchmarks/redis_twin.py --port 6379  # an existing server (its keys bench:* are overwritten)

Each figure is twin ops/s divided by hand-written ops/s, measured in the same run and interleaved
(single process: alternating every 50 operations; contended: round by round), median of the rounds
with min-max beside it: above 1.00 the twin is faster.
Needs redis-py (pip install 'sharedgen[bench]') and redis-server on PATH (unless --port).
"""

from __future__ import annotations

import argparse
import multiprocessing
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import redis

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from generated.counter import Counter  # noqa: E402
from generated.worker_stats import WorkerStats  # noqa: E402

CTX = multiprocessing.get_context("fork")
INT_MIN, INT_MAX = -(2**31), 2**31 - 1


@contextmanager
def redis_server(port: int | None) -> Iterator[int]:
    if port is not None:
        yield port
        return
    server = shutil.which("redis-server")
    if server is None:
        sys.exit("redis-server is not on PATH (apt-get install redis-server), or pass --port")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    folder = tempfile.mkdtemp(prefix="sharedgen-redis-")
    command = [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", folder]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    try:
        while redis.Redis(port=port).ping() is not True:
            time.sleep(0.05)
    except redis.ConnectionError:
        time.sleep(0.2)
    try:
        yield port
    finally:
        process.terminate()
        process.wait()


# Each job, done by hand with redis-py and by the twin: given a client, a function doing n operations.
Job = Callable[[Any], Callable[[int], None]]


def hand_add(r: Any) -> Callable[[int], None]:
    """HINCRBY: what most code does; no range check (a C int can pass 2**31 unnoticed)."""

    def run(n: int) -> None:
        for _ in range(n):
            r.hincrby("bench:hand", "value", 1)

    return run


def hand_checked_add(r: Any) -> Callable[[int], None]:
    """The same add with the C int's range checked: WATCH, read, check, MULTI/HSET/EXEC, retry."""

    def add(pipe: Any) -> None:
        value = int(pipe.hget("bench:hand", "value") or 0) + 1
        if not INT_MIN <= value <= INT_MAX:
            raise OverflowError(value)
        pipe.multi()
        pipe.hset("bench:hand", "value", value)

    def run(n: int) -> None:
        for _ in range(n):
            r.transaction(add, "bench:hand")

    return run


def twin_add(r: Any) -> Callable[[int], None]:
    counter = Counter.on_redis(r, "bench:twin")

    def run(n: int) -> None:
        for _ in range(n):
            counter.add_value()

    return run


def hand_get(r: Any) -> Callable[[int], None]:
    def run(n: int) -> None:
        for _ in range(n):
            int(r.hget("bench:hand", "value") or 0)

    return run


def twin_get(r: Any) -> Callable[[int], None]:
    counter = Counter.on_redis(r, "bench:twin")

    def run(n: int) -> None:
        for _ in range(n):
            _ = counter.value

    return run


def hand_update(r: Any) -> Callable[[int], None]:
    def run(n: int) -> None:
        for i in range(n):
            r.hset("bench:hand", mapping={"processed": i, "failed": i})

    return run


def twin_update(r: Any) -> Callable[[int], None]:
    stats = WorkerStats.on_redis(r, "bench:twin")

    def run(n: int) -> None:
        for i in range(n):
            stats.update_progress(processed=i, failed=i)

    return run


def hand_locked(r: Any) -> Callable[[int], None]:
    """A compound read-modify-write of two fields: an optimistic WATCH/MULTI transaction."""

    def move(pipe: Any) -> None:
        processed, failed = (int(v or 0) for v in pipe.hmget("bench:hand", "processed", "failed"))
        pipe.multi()
        pipe.hset("bench:hand", mapping={"processed": processed + 1, "failed": failed + 1})

    def run(n: int) -> None:
        for _ in range(n):
            r.transaction(move, "bench:hand")

    return run


def twin_locked(r: Any) -> Callable[[int], None]:
    stats = WorkerStats.on_redis(r, "bench:twin")

    def run(n: int) -> None:
        for _ in range(n):
            with stats.locked_progress() as group:
                group.processed += 1
                group.failed += 1

    return run


def hand_snapshot(r: Any) -> Callable[[int], None]:
    def run(n: int) -> None:
        for _ in range(n):
            stored = r.hgetall("bench:hand")
            {key.decode(): value for key, value in stored.items()}

    return run


def twin_snapshot(r: Any) -> Callable[[int], None]:
    stats = WorkerStats.on_redis(r, "bench:twin")

    def run(n: int) -> None:
        for _ in range(n):
            stats.snapshot()

    return run


def hand_batch(r: Any) -> Callable[[int], None]:
    """1000 adds counted locally, then one HINCRBY."""

    def run(n: int) -> None:
        for _ in range(n):
            total = 0
            for _ in range(1000):
                total += 1
            r.hincrby("bench:hand", "value", total)

    return run


def twin_batch(r: Any) -> Callable[[int], None]:
    counter = Counter.on_redis(r, "bench:twin")

    def run(n: int) -> None:
        for _ in range(n):
            with counter.batch() as batch:
                for _ in range(1000):
                    batch.add_value()

    return run


JOBS: dict[str, tuple[Job, Job, int]] = {
    # job: (hand-written, twin, operations per measurement)
    "add (vs HINCRBY, unchecked)": (hand_add, twin_add, 2000),
    "add (vs WATCH/MULTI, range-checked)": (hand_checked_add, twin_add, 1000),
    "get": (hand_get, twin_get, 2000),
    "update 2 fields (vs HSET)": (hand_update, twin_update, 2000),
    "locked 2-field update (vs WATCH/MULTI)": (hand_locked, twin_locked, 1000),
    "snapshot (vs HGETALL)": (hand_snapshot, twin_snapshot, 2000),
    "batch of 1000 adds": (hand_batch, twin_batch, 400),
}
CONTENDED = ["add (vs WATCH/MULTI, range-checked)", "locked 2-field update (vs WATCH/MULTI)"]
CHUNK = 50  # single process: the two ways alternate every CHUNK operations, so both see the same machine


def single(hand: Job, twin: Job, port: int, n: int) -> tuple[float, float]:
    """ops/s of the two ways in one process, alternating in short chunks."""
    client = redis.Redis(port=port)
    client.delete("bench:hand", "bench:twin")
    runs = (hand(client), twin(client))
    spent = [0.0, 0.0]
    for run in runs:
        run(10)  # connect, load scripts
    for _ in range(max(1, n // CHUNK)):
        for way, run in enumerate(runs):
            started = time.perf_counter()
            run(CHUNK)
            spent[way] += time.perf_counter() - started
    done = max(1, n // CHUNK) * CHUNK
    return done / spent[0], done / spent[1]


def _worker(job: Job, port: int, n: int, go: Any) -> None:
    run = job(redis.Redis(port=port))
    run(1)
    go.wait()
    run(n)


def contended(job: Job, port: int, n: int, processes: int) -> float:
    """Total ops/s of ``processes`` processes, each with its own connection, doing ``n`` operations."""
    redis.Redis(port=port).delete("bench:hand", "bench:twin")
    go = CTX.Event()
    workers = [CTX.Process(target=_worker, args=(job, port, n, go)) for _ in range(processes)]
    for worker in workers:
        worker.start()
    time.sleep(0.3)  # let every worker connect
    started = time.perf_counter()
    go.set()
    for worker in workers:
        worker.join()
    return processes * n / (time.perf_counter() - started)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds and operations: under a minute")
    parser.add_argument("--port", type=int, default=None, help="use the redis-server on this port")
    args = parser.parse_args()
    rounds, scale = (3, 0.25) if args.quick else (7, 1.0)
    cases = [(job, 1) for job in JOBS] + [(job, p) for job in CONTENDED for p in (2, 4)]
    with redis_server(args.port) as port:
        info = redis.Redis(port=port).info("server")
        print(
            f"# Redis twin vs hand-written redis-py: {platform.machine()}, {platform.python_version()}, "
            f"redis-server {info['redis_version']}, redis-py {redis.__version__}, {time.strftime('%Y-%m-%d')}"
        )
        print("# ratio = twin ops/s / hand-written ops/s; median of the rounds (min-max)\n")
        print("| job | processes | hand-written ops/s | twin ops/s | ratio |\n|---|---|---|---|---|")
        for job, processes in cases:
            hand, twin, n = JOBS[job]
            n = max(10, int(n * scale))
            hands, twins = [], []
            for _ in range(rounds):  # interleaved: both ways see the same machine state
                if processes == 1:
                    pair = single(hand, twin, port, n)
                else:
                    pair = contended(hand, port, n, processes), contended(twin, port, n, processes)
                hands.append(pair[0])
                twins.append(pair[1])
            ratios = sorted(t / h for t, h in zip(twins, hands, strict=True))
            print(
                f"| {job} | {processes} | {statistics.median(hands):,.0f} | {statistics.median(twins):,.0f} | "
                f"{statistics.median(ratios):.2f} ({ratios[0]:.2f}-{ratios[-1]:.2f}) |",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
