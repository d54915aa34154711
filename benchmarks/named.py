"""Benchmarks of named structs: against the Value idiom, the anonymous struct and prometheus_client's multiprocess mode.

    python benchmarks/named.py            # full run (about 2 minutes)
    python benchmarks/named.py --quick    # under a minute

Needs prometheus_client (pip install prometheus_client), which runs in multiprocess mode here: each
process writes its own file in PROMETHEUS_MULTIPROC_DIR, set to a fresh temporary folder before the
import, and a collection reads them all. Three parts:

1. One process: named add_value() against the Value idiom, the anonymous struct's add_value() and
   prometheus_client's Counter.inc(), and a named update of a group against the anonymous one; each
   way alternates with its baseline in chunks, as in run.py.
2. Two processes (fork) adding to one counter at once, round by round against the Value idiom's run.
3. Worker churn: short-lived workers (fork) that each add to a counter and exit; then the time to
   collect the total (prometheus: MultiProcessCollector + generate_latest; sharedgen: snapshot() of
   the named struct) and the files left behind, both in the same run, totals asserted exact.

Every figure is a ratio to a baseline measured in the same run (median of the rounds, min-max beside
it): absolute times depend on the machine, ratios much less. Every named struct and folder made here
is removed at the end, whatever happened.
"""

from __future__ import annotations

import argparse
import atexit
import importlib
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from common import (
    CHUNKS,
    CTX,
    Way,
    cell,
    contended_seconds,
    generated_add,
    load_bench_module,
    median_seconds,
    paired,
    seed_add,
    seed_make,
    spread,
)

SHM = Path("/dev/shm")
PREFIX = "sharedgen-"  # of a named struct's file in /dev/shm
ROOT = Path(tempfile.mkdtemp(prefix="sharedgen-bench-named-"))  # every folder made here, removed at the end
atexit.register(shutil.rmtree, ROOT, True)  # even when an import below fails (forked children skip atexit)
RUN_ID = f"bench-{os.getpid()}-{uuid.uuid4().hex[:8]}"  # every named struct made here starts with this
METRIC = "sharedgen_bench_hits"


def load_prometheus() -> tuple[ModuleType, ModuleType, Any]:
    """prometheus_client in multiprocess mode: PROMETHEUS_MULTIPROC_DIR is set before the import, as its docs ask."""
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(fresh_folder("prometheus-"))
    try:
        client = importlib.import_module("prometheus_client")
    except ImportError:
        raise SystemExit("benchmarks/named.py needs prometheus_client: pip install prometheus_client") from None
    multiprocess = importlib.import_module("prometheus_client.multiprocess")
    # One counter for the whole run, made before any fork (as an app preloaded by gunicorn makes it).
    return client, multiprocess, client.Counter(METRIC, "Adds made by the benchmark's workers.")


def fresh_folder(prefix: str) -> Path:
    return Path(tempfile.mkdtemp(prefix=prefix, dir=ROOT))


bench = load_bench_module(ROOT / "module")
prometheus, multiprocess, COUNTER = load_prometheus()
_names = 0


def new_name() -> str:
    global _names
    _names += 1
    return f"{RUN_ID}-{_names}"


def our_files() -> list[Path]:
    """The files in /dev/shm of the named structs this run made and has not removed."""
    return sorted(SHM.glob(f"{PREFIX}{RUN_ID}-*"))


def set_prometheus_folder() -> Path:
    """A fresh PROMETHEUS_MULTIPROC_DIR for the processes forked from now on.

    prometheus_client reads the variable when a process first writes after a fork (its pid changed),
    so children write there; this process keeps the file it opened at its own first write.
    """
    folder = fresh_folder("prometheus-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(folder)
    return folder


def collect(folder: Path) -> bytes:
    """What a scrape of prometheus multiprocess mode does: every process's file read and summed."""
    registry = prometheus.CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=str(folder))
    text: bytes = prometheus.generate_latest(registry)
    return text


def collected_total(folder: Path) -> float:
    """The counter's total, from the text exposition of a collection."""
    for line in collect(folder).decode().splitlines():
        if line.startswith(f"{METRIC}_total "):
            return float(line.split()[1])
    raise AssertionError(f"no {METRIC}_total in the collection of {folder}")


# Each way: make its shared object, run `n` operations on it, then let it go (named structs: unlinked).
def anonymous_make() -> Any:
    return bench.BenchCounter(ctx=CTX)


def named_make() -> Any:
    return bench.BenchCounter.create(new_name())


def named_sharded_make() -> Any:
    return bench.BenchSharded.create(new_name())


def anonymous_group_make() -> Any:
    return bench.BenchGroup(ctx=CTX)


def named_group_make() -> Any:
    return bench.BenchGroup.create(new_name())


def update_group(struct: Any, n: int) -> None:
    """update_g() of all four fields of a group (a named struct's goes through its journal)."""
    update = struct.update_g
    for i in range(n):
        update(a=i, b=i, c=i, d=i)


def named_done(struct: Any) -> None:
    struct.unlink()
    struct.close()


def attached_anew(struct: Any) -> Any:
    """A named struct attached by name in this process, as a worker that did not inherit it."""
    return type(struct).attach(struct.name)


def with_own_file(counter: Any) -> Any:
    """The counter, after the write that opens this process's own file (outside the timing)."""
    counter.inc(0)
    return counter


def prometheus_make() -> Any:
    return COUNTER


def prometheus_inc(counter: Any, n: int) -> None:
    inc = counter.inc
    for _ in range(n):
        inc()


def lock_pair(struct: Any, n: int) -> None:
    """The struct's lock alone, taken and released by the calls add_value() makes (its first try
    never fails here): a SemLock's methods for an anonymous struct, ctypes calls for a named one."""
    acquire, release = struct._acquire_default, struct._release_default
    for _ in range(n):
        acquire(False)
        release()


SEED = Way("Value idiom: with v.get_lock(): v.value += 1", seed_make, seed_add, 40_000)
ANONYMOUS = Way("anonymous struct add_value()", anonymous_make, generated_add, 100_000)
NAMED = Way("named struct add_value()", named_make, generated_add, 100_000, done=named_done, in_child=attached_anew)
NAMED_SHARDED = Way(
    "named sharded add_value() (shards: 8)",
    named_sharded_make,
    generated_add,
    100_000,
    done=named_done,
    in_child=attached_anew,
)
PROMETHEUS = Way(
    "prometheus_client multiprocess Counter.inc()", prometheus_make, prometheus_inc, 40_000, in_child=with_own_file
)
ANONYMOUS_LOCK = Way(
    "anonymous struct's lock alone, as add_value() takes it", anonymous_make, lock_pair, 100_000, contended=False
)
NAMED_LOCK = Way(
    "named struct's lock alone, as add_value() takes it",
    named_make,
    lock_pair,
    100_000,
    contended=False,
    done=named_done,
)
ANONYMOUS_UPDATE = Way(
    "anonymous struct update_g() of 4 fields", anonymous_group_make, update_group, 50_000, contended=False
)
NAMED_UPDATE = Way(
    "named struct update_g() of 4 fields", named_group_make, update_group, 50_000, contended=False, done=named_done
)
WAYS = [SEED, ANONYMOUS, NAMED, NAMED_SHARDED, PROMETHEUS, ANONYMOUS_LOCK, NAMED_LOCK, ANONYMOUS_UPDATE, NAMED_UPDATE]
# Ways compared with each other besides the Value idiom: (the baseline of the comparison, the other).
COMPARED = [(ANONYMOUS, NAMED), (PROMETHEUS, NAMED), (ANONYMOUS_LOCK, NAMED_LOCK), (ANONYMOUS_UPDATE, NAMED_UPDATE)]


def contended(way: Way, n: int, processes: int) -> float:
    """Nanoseconds per operation of the whole system, ``processes`` forked children adding at once.
    The total is asserted exact."""
    folder = set_prometheus_folder() if way is PROMETHEUS else None
    shared = way.make()
    try:
        seconds = contended_seconds(way, shared, n, processes)
        if folder is not None:
            total = collected_total(folder)
            shutil.rmtree(folder)
        elif way is SEED:
            total = shared.value
        else:
            total = shared.snapshot().value
        assert total == n * processes, f"{way.name}: {total} counted, {n * processes} added"
        return seconds * 1e9 / (n * processes)
    finally:
        if way.done:
            way.done(shared)


@dataclass
class Results:
    ns: dict[tuple[str, int], list[float]]  # ns/op per (way, processes), one per round
    paired: dict[tuple[str, str], list[tuple[float, float]]]  # ns/op of two ways measured alternately, per round

    def ratios(self, baseline: Way, measured: Way) -> tuple[float, float, float]:
        """How many times faster ``measured`` ran than ``baseline`` in one process: median, min, max."""
        return spread([b / m for b, m in self.paired[(baseline.name, measured.name)]])

    def contended_ratios(self, way: Way, processes: int) -> tuple[float, float, float]:
        baseline, measured = self.ns[(SEED.name, processes)], self.ns[(way.name, processes)]
        return spread([b / m for b, m in zip(baseline, measured, strict=True)])


def measure(rounds: int, scale: float, processes: int) -> Results:
    results = Results({}, {})
    for round_index in range(rounds):
        order = WAYS[round_index % len(WAYS) :] + WAYS[: round_index % len(WAYS)]  # interleave
        for first, second in [(SEED, way) for way in order] + COMPARED:
            pair = paired(first, second, scale)
            results.paired.setdefault((first.name, second.name), []).append(pair)
            if first is SEED:
                results.ns.setdefault((second.name, 1), []).append(pair[1])
        for way in order:
            if way.contended:
                n = max(100, int(way.ops * scale) // processes)
                results.ns.setdefault((way.name, processes), []).append(contended(way, n, processes))
        print(f"  round {round_index + 1}/{rounds} done", file=sys.stderr)
    return results


def report(results: Results, processes: int) -> str:
    lines = [
        f"| way | ns/op, 1 process | x Value, 1 proc. | x Value, {processes} proc. |",
        "|---|---|---|---|",
    ]
    for way in WAYS:
        many = cell(results.contended_ratios(way, processes)) if way.contended else "-"
        ns = statistics.median(results.ns[(way.name, 1)])
        lines.append(f"| {way.name} | {ns:,.0f} | {cell(results.ratios(SEED, way))} | {many} |")
    lines.append("")
    lines.append(f"named add_value() against the anonymous struct's: {cell(results.ratios(ANONYMOUS, NAMED))}")
    lines.append(f"named add_value() against prometheus Counter.inc(): {cell(results.ratios(PROMETHEUS, NAMED))}")
    lines.append(
        "named struct's lock (robust pthread mutex through ctypes) against the anonymous struct's "
        f"(multiprocessing RLock): {cell(results.ratios(ANONYMOUS_LOCK, NAMED_LOCK))}"
    )
    lines.append(
        "named update_g() of 4 fields (journaled: a SIGKILL never leaves the group half written) against "
        f"the anonymous struct's: {cell(results.ratios(ANONYMOUS_UPDATE, NAMED_UPDATE))}"
    )
    one, many = results.ratios(SEED, NAMED)[0], results.contended_ratios(NAMED, processes)[0]
    verdict = "met" if min(one, many) >= 1.5 else "NOT met"
    lines.append(
        f"target, named add at least 1.5x the Value idiom: {one:.2f}x (1 proc.), {many:.2f}x ({processes} proc.): {verdict}"
    )
    lines.append(
        f"\nOne process: each way alternates with its baseline in {CHUNKS} chunks per round, each chunk on a fresh "
        f"object (a new named struct, unlinked after it). {processes} processes: forked children add at once, "
        "the classic Value and the anonymous struct inherited through fork, the named structs attached by name in "
        "each child (outside the timing), the prometheus counter made before the fork (each child writes its own "
        "file); the ratio is to the Value idiom's run of the same round, and every total is asserted exact."
    )
    return "\n".join(lines)


# Worker churn: short-lived workers that each add to one counter, then exit.
def prometheus_worker(adds: int) -> None:
    inc = COUNTER.inc
    for _ in range(adds):
        inc()


def sharedgen_worker(kind: type, name: str, adds: int) -> None:
    struct = kind.attach(name)
    add = struct.add_value
    for _ in range(adds):
        add()
    struct.close()


def churn(
    target: Callable[..., None], args: tuple[Any, ...], workers: int, alive: int, on_exit: Callable[[int], None]
) -> float:
    """Seconds to run ``workers`` forked workers, at most ``alive`` at once (a pool that recycles its
    workers); ``on_exit(pid)`` after each, as gunicorn's child_exit hook."""
    start = time.perf_counter()
    running: list[Any] = []
    for _ in range(workers):
        if len(running) == alive:
            oldest = running.pop(0)
            oldest.join()
            assert oldest.exitcode == 0, f"a worker exited with {oldest.exitcode}"
            on_exit(oldest.pid)
        worker = CTX.Process(target=target, args=args)
        worker.start()
        running.append(worker)
    for worker in running:
        worker.join()
        assert worker.exitcode == 0, f"a worker exited with {worker.exitcode}"
        on_exit(worker.pid)
    return time.perf_counter() - start


def file_sizes(paths: list[Path]) -> tuple[int, int]:
    """Bytes the files say they hold, and bytes they take (allocated blocks)."""
    stats = [path.stat() for path in paths]
    return sum(s.st_size for s in stats), sum(s.st_blocks * 512 for s in stats)


@dataclass
class Churn:
    seconds: list[float]  # the churn's wall time, per round
    collect: list[float]  # one collection of the total afterwards, median of repeats, per round
    files: list[int]  # files left once every worker is gone, per round
    sizes: list[tuple[int, int]]


def churn_prometheus(workers: int, adds: int, repeat: int) -> tuple[float, float, int, tuple[int, int]]:
    folder = set_prometheus_folder()
    seconds = churn(prometheus_worker, (adds,), workers, ALIVE, lambda pid: multiprocess.mark_process_dead(pid))
    collection = median_seconds(lambda: collect(folder), repeat)
    total = collected_total(folder)
    assert total == workers * adds, f"prometheus: {total} collected, {workers * adds} added"
    files = sorted(folder.iterdir())
    result = seconds, collection, len(files), file_sizes(files)
    shutil.rmtree(folder)
    return result


def churn_sharedgen(kind: type, workers: int, adds: int, repeat: int) -> tuple[float, float, int, tuple[int, int]]:
    struct = kind.create(new_name())
    try:
        seconds = churn(sharedgen_worker, (kind, struct.name, adds), workers, ALIVE, lambda pid: None)
        snapshot = struct.snapshot
        collection = median_seconds(snapshot, repeat)
        total = snapshot().value
        assert total == workers * adds, f"{kind.__name__}: {total} in the snapshot, {workers * adds} added"
        files = our_files()
        assert len(files) == 1 and files[0].name == PREFIX + struct.name, files
        return seconds, collection, len(files), file_sizes(files)
    finally:
        named_done(struct)


ALIVE = 4  # workers alive at once during churn
CHURNERS = ["prometheus multiprocess Counter", "sharedgen named BenchCounter", "sharedgen named sharded (shards: 8)"]


def measure_churn(rounds: int, workers: int, adds: int) -> dict[str, Churn]:
    runs: dict[str, Callable[[], tuple[float, float, int, tuple[int, int]]]] = {
        CHURNERS[0]: lambda: churn_prometheus(workers, adds, 20),
        CHURNERS[1]: lambda: churn_sharedgen(bench.BenchCounter, workers, adds, 2000),
        CHURNERS[2]: lambda: churn_sharedgen(bench.BenchSharded, workers, adds, 2000),
    }
    results = {name: Churn([], [], [], []) for name in CHURNERS}
    for round_index in range(rounds):
        order = CHURNERS[round_index % len(CHURNERS) :] + CHURNERS[: round_index % len(CHURNERS)]
        for name in order:
            seconds, collection, files, sizes = runs[name]()
            entry = results[name]
            entry.seconds.append(seconds)
            entry.collect.append(collection)
            entry.files.append(files)
            entry.sizes.append(sizes)
        print(f"  churn round {round_index + 1}/{rounds} done", file=sys.stderr)
    return results


def report_churn(results: dict[str, Churn], workers: int, adds: int) -> str:
    base = results[CHURNERS[0]]

    def times(values: list[float], unit: float, digits: int) -> str:
        middle, low, high = spread(values)
        return f"{middle * unit:,.{digits}f} ({low * unit:,.{digits}f}-{high * unit:,.{digits}f})"

    def ratio(mine: list[float], theirs: list[float]) -> str:
        return cell(spread([t / m for t, m in zip(theirs, mine, strict=True)]))

    lines = [
        f"{workers:,} workers (fork, {ALIVE} alive at once), {adds} adds each, total {workers * adds:,} asserted exact:",
        "",
        "| | " + " | ".join(CHURNERS) + " |",
        "|---|" + "---|" * len(CHURNERS),
        "| collection | MultiProcessCollector + generate_latest | snapshot() | snapshot() |",
        "| collection time, us | " + " | ".join(times(results[n].collect, 1e6, 1) for n in CHURNERS) + " |",
        "| collection x prometheus | " + " | ".join(ratio(results[n].collect, base.collect) for n in CHURNERS) + " |",
        "| files left | "
        + " | ".join("/".join(str(f) for f in sorted(set(results[n].files))) for n in CHURNERS)
        + " |",
        "| their size / allocated, KiB | "
        + " | ".join(f"{results[n].sizes[-1][0] / 1024:,.0f} / {results[n].sizes[-1][1] / 1024:,.0f}" for n in CHURNERS)
        + " |",
        "| churn wall time, s | " + " | ".join(times(results[n].seconds, 1, 2) for n in CHURNERS) + " |",
        "",
        "prometheus: each worker writes counter_<pid>.db in PROMETHEUS_MULTIPROC_DIR; after each worker exits "
        "multiprocess.mark_process_dead(pid) runs, as gunicorn's child_exit hook in its docs, and removes only the "
        "files of live gauges (gauge_live*_<pid>.db): a counter's file stays, so that its adds keep counting, and "
        "every later collection reads all of them. sharedgen: each worker attaches the named struct by name, adds "
        "and closes; the struct's one file in /dev/shm stays until unlinked. Collection: prometheus median of 20, "
        "snapshot() median of 2000, per round; ratios per round.",
    ]
    return "\n".join(lines)


def cleanup() -> list[Path]:
    """Remove every named struct and folder this run made; the named structs that were still there."""
    left = our_files()
    for path in left:
        path.unlink(missing_ok=True)
    shutil.rmtree(ROOT, ignore_errors=True)
    return left


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds and operations: under a minute")
    parser.add_argument("--rounds", type=int, default=None, help="rounds of parts 1 and 2")
    parser.add_argument("--churn-rounds", type=int, default=None)
    parser.add_argument("--workers", type=int, default=None, help="short-lived workers per churn (default 1000)")
    args = parser.parse_args()
    rounds = args.rounds or (3 if args.quick else 15)
    churn_rounds = args.churn_rounds or (1 if args.quick else 5)
    workers = args.workers or 1000
    scale = 0.15 if args.quick else 1.0
    adds = 100
    try:
        print(f"# sharedgen named structs against the Value idiom and prometheus_client, {time.strftime('%Y-%m-%d')}")
        print(
            f"Python {platform.python_version()} ({platform.python_implementation()}), {platform.machine()}, "
            f"{os.cpu_count()} cores, {platform.platform()}; prometheus_client {version('prometheus_client')}; "
            f"{rounds} rounds, {churn_rounds} churn rounds{', quick' if args.quick else ''}; "
            f"load average at start {load()}\n"
        )
        results = measure(rounds, scale, 2)
        print(report(results, 2))
        print()
        print(report_churn(measure_churn(churn_rounds, workers, adds), workers, adds))
        print(f"\nload average at the end {load()}")
    finally:
        left = cleanup()
        if left:
            print(f"removed named structs left by an interrupted measurement: {left}", file=sys.stderr)
    return 0


def version(package: str) -> str:
    metadata = importlib.import_module("importlib.metadata")
    try:
        found: str = metadata.version(package)
        return found
    except metadata.PackageNotFoundError:
        return "unknown"


def load() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


if __name__ == "__main__":
    raise SystemExit(main())
