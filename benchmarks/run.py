"""Benchmarks: generated structs against the Value idiom, hand-tuned code and Manager proxies.

    python benchmarks/run.py            # full run (several minutes), writes benchmarks/throughput.png
    python benchmarks/run.py --quick    # under a minute

Every figure is a ratio to a baseline measured in the same run (median of the rounds, min-max beside
it): absolute times depend on the machine, ratios much less. In one process each way alternates with
its baseline in chunks; contended ways run round by round, interleaved with the baseline's runs.
"""

from __future__ import annotations

import argparse
import ast
import ctypes
import dataclasses
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from common import (
    CHUNKS,
    CTX,
    HERE,
    Way,
    cell,
    contended_seconds,
    generated_add,
    load_bench_module,
    paired,
    seed_add,
    seed_make,
    spread,
)

bench = load_bench_module(Path(tempfile.mkdtemp(prefix="sharedgen-bench-")))
_manager: Any = None


def manager() -> Any:
    global _manager
    if _manager is None:
        _manager = CTX.Manager()
    return _manager


# Each way: build its shared object once per measurement, then run `n` operations on it.
def synchronized_get(v: Any, n: int) -> None:
    for _ in range(n):
        _ = v.value


def hand_make() -> Any:
    return CTX.RawValue(ctypes.c_longlong, 0), CTX.Lock()


def hand_add(shared: Any, n: int) -> None:
    value, lock = shared
    acquire, release = lock.acquire, lock.release
    for _ in range(n):
        acquire()
        value.value += 1
        release()


def manager_make() -> Any:
    return manager().Value("q", 0), manager().Lock()


def manager_add(shared: Any, n: int) -> None:
    value, lock = shared
    for _ in range(n):
        with lock:
            value.value += 1


def counter_make() -> Any:
    return bench.BenchCounter(ctx=CTX)


def generated_get(c: Any, n: int) -> None:
    for _ in range(n):
        _ = c.value


def generated_set(c: Any, n: int) -> None:
    for i in range(n):
        c.value = i


def generated_compare_and_set(c: Any, n: int) -> None:
    cas = c.compare_and_set_value
    for i in range(n):
        cas(i, i + 1)  # from a fresh counter (0) every call succeeds


def generated_update4(g: Any, n: int) -> None:
    update = g.update_g
    for i in range(n):
        update(a=i, b=i, c=i, d=i)


def generated_update1(g: Any, n: int) -> None:
    update = g.update_g
    for i in range(n):
        update(a=i)


def named(kind: Any) -> Callable[[], Any]:
    """A named struct of ``kind`` under a fresh name (unlinked by the Way's done)."""
    return lambda: kind.create(f"sharedgen-bench-{os.getpid()}-{time.monotonic_ns()}")


def unlink(struct: Any) -> None:
    struct.unlink()
    struct.close()


def generated_snapshot20(w: Any, n: int) -> None:
    snapshot = w.snapshot
    for _ in range(n):
        snapshot()


# BenchWide's fields as the code before 2026-11-29 held them: a RawValue or RawArray each, read one
# by one under the lock into a frozen dataclass (what snapshot() did then, written out).
WIDE_TYPES = [(f.name, f.ctype, f.length) for f in bench.BenchWide.__sharedgen_layout__.fields]
WideDataclass = dataclasses.make_dataclass(
    "WideDataclass", [name for name, _, _ in WIDE_TYPES], frozen=True, slots=True
)


def field_by_field_make() -> Any:
    fields = [CTX.RawArray(ctypes.c_char, length) if length else CTX.RawValue(ctype) for _, ctype, length in WIDE_TYPES]
    return fields, CTX.RLock()


def field_by_field_snapshot(shared: Any, n: int) -> None:
    fields, lock = shared
    acquire, release = lock.acquire, lock.release
    for _ in range(n):
        acquire()
        try:
            WideDataclass(*[field.value for field in fields])
        finally:
            release()


def unpacked_into_dataclass(w: Any, n: int) -> None:
    """The new snapshot's one unpack under the lock, into the frozen dataclass instead of the NamedTuple."""
    lock, read = w.get_lock(), w._read_raw
    cut = w.__sharedgen_layout__.decoding[1]  # the C string's index, as snapshot() cuts it
    for _ in range(n):
        if not lock.acquire(False):
            lock.acquire()
        try:
            raw = read()
        finally:
            lock.release()
        values = list(raw)
        values[cut] = values[cut].partition(b"\0")[0]
        WideDataclass(*values)


def generated_array_add(h: Any, n: int) -> None:
    add = h.add_slots
    for i in range(n):
        add(i & 15)


def generated_batched_add(c: Any, n: int) -> None:
    """The classic advice built in: 1000 adds collected locally per critical section."""
    for _ in range(max(1, n // 1000)):
        with c.batch() as batch:
            add = batch.add_value
            for _ in range(1000):
                add()


WAYS = [
    Way("Value idiom: with v.get_lock(): v.value += 1", seed_make, seed_add, 40_000),
    Way("hand-tuned RawValue + Lock, bound methods", hand_make, hand_add, 100_000),
    Way("Manager().Value + Manager().Lock", manager_make, manager_add, 300, contended=False),
    Way("synchronized Value: read v.value", seed_make, synchronized_get, 100_000, contended=False),
    Way("generated add_value()", counter_make, generated_add, 100_000),
    Way("generated read .value", counter_make, generated_get, 100_000),
    Way("generated write .value = i", counter_make, generated_set, 100_000),
    Way("generated compare_and_set_value()", counter_make, generated_compare_and_set, 100_000, contended=False),
    Way("generated update_g() of 4 fields", lambda: bench.BenchGroup(ctx=CTX), generated_update4, 50_000),
    Way("generated update_g(a=i): one field of 4", lambda: bench.BenchGroup(ctx=CTX), generated_update1, 50_000),
    Way("generated snapshot() of 20 fields", lambda: bench.BenchWide(ctx=CTX), generated_snapshot20, 20_000),
    Way("snapshot() of 20 fields in 2 lock groups", lambda: bench.BenchWide2(ctx=CTX), generated_snapshot20, 20_000),
    Way("snapshot() of 20 fields in 4 lock groups", lambda: bench.BenchWide4(ctx=CTX), generated_snapshot20, 20_000),
    *(
        Way(
            f"named snapshot() of 20 fields in {groups} lock group{'s' if groups > 1 else ''}",
            named(kind),
            generated_snapshot20,
            20_000,
            contended=False,
            done=unlink,
        )
        for groups, kind in ((1, bench.BenchWide), (2, bench.BenchWide2), (4, bench.BenchWide4))
    ),
    Way(
        "snapshot() of 20 fields before: field by field into a frozen dataclass",
        field_by_field_make,
        field_by_field_snapshot,
        20_000,
        contended=False,
    ),
    Way(
        "snapshot() of 20 fields, one unpack, into a frozen dataclass",
        lambda: bench.BenchWide(ctx=CTX),
        unpacked_into_dataclass,
        20_000,
        contended=False,
    ),
    Way("generated add_slots(i) (array)", lambda: bench.BenchArray(ctx=CTX), generated_array_add, 100_000),
    Way("generated sharded add_value() (shards: 8)", lambda: bench.BenchSharded(ctx=CTX), generated_add, 100_000),
    Way(
        "generated batch(): 1000 adds per flush",
        counter_make,
        generated_batched_add,
        200_000,
        counted=lambda n: max(1, n // 1000) * 1000,  # whole flushes
    ),
]
BASELINE, HAND = WAYS[0], WAYS[1]


def contended(way: Way, n: int, processes: int) -> float:
    """Nanoseconds per operation of the whole system, ``processes`` running at once."""
    return contended_seconds(way, way.make(), n, processes) * 1e9 / (way.counted(n) * processes)


def ratios(baseline: list[float], measured: list[float]) -> tuple[float, float, float]:
    """Speed-up against the baseline of the same round: median, min, max."""
    return spread([b / m for b, m in zip(baseline, measured, strict=True)])


@dataclass
class Results:
    ns: dict[tuple[str, int], list[float]]  # ns/op per (way, processes), one per round
    paired: dict[tuple[str, str], list[tuple[float, float]]]  # ns/op of two ways measured alternately, per round

    def ratios(self, baseline: str, measured: str) -> tuple[float, float, float]:
        """How many times faster ``measured`` ran than ``baseline`` in one process: median, min, max."""
        return spread([b / m for b, m in self.paired[(baseline, measured)]])


# Ways compared with each other besides the baseline: (the baseline of the comparison, the other).
COMPARED = [
    ("synchronized Value: read v.value", "generated read .value"),
    (HAND.name, "generated add_value()"),
    ("snapshot() of 20 fields before: field by field into a frozen dataclass", "generated snapshot() of 20 fields"),
    # A named struct's snapshot against the same anonymous struct's (measured alternately).
    ("named snapshot() of 20 fields in 1 lock group", "generated snapshot() of 20 fields"),
    ("named snapshot() of 20 fields in 2 lock groups", "snapshot() of 20 fields in 2 lock groups"),
    ("named snapshot() of 20 fields in 4 lock groups", "snapshot() of 20 fields in 4 lock groups"),
]


def measure(rounds: int, scale: float, process_counts: list[int]) -> Results:
    results = Results({}, {})
    by_name = {way.name: way for way in WAYS}
    for round_index in range(rounds):
        order = WAYS[round_index % len(WAYS) :] + WAYS[: round_index % len(WAYS)]  # interleave
        pairs = [(BASELINE, way) for way in order] + [(by_name[a], by_name[b]) for a, b in COMPARED]
        for first, second in pairs:
            pair = paired(first, second, scale)
            results.paired.setdefault((first.name, second.name), []).append(pair)
            if first is BASELINE:
                results.ns.setdefault((second.name, 1), []).append(pair[1])
        for way in order:
            for count in process_counts:
                if way.contended:
                    n = max(100, int(way.ops * scale) // count)
                    results.ns.setdefault((way.name, count), []).append(contended(way, n, count))
        print(f"  round {round_index + 1}/{rounds} done", file=sys.stderr)
    return results


def report(results: Results, process_counts: list[int]) -> str:
    counts = [1, *process_counts]
    header = "| way | ns/op, 1 process | " + " | ".join(f"x Value, {c} proc." for c in counts) + " |"
    lines = [header, "|" + "---|" * (len(counts) + 2)]

    for way in WAYS:
        cells = [
            way.name,
            f"{statistics.median(results.ns[(way.name, 1)]):,.0f}",
            cell(results.ratios(BASELINE.name, way.name)),
        ]
        for count in process_counts:
            measured = results.ns.get((way.name, count))
            cells.append(cell(ratios(results.ns[(BASELINE.name, count)], measured)) if measured else "-")
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    lines.append(f"generated read against a synchronized Value's .value: {cell(results.ratios(*COMPARED[0]))}")
    hand_over_add = spread([add / hand for hand, add in results.paired[COMPARED[1]]])
    lines.append(f"hand-tuned RawValue + Lock against generated add: {cell(hand_over_add)} (1.0 = as fast)")
    lines.append(
        f"snapshot() of 20 fields against the code before (field by field): {cell(results.ratios(*COMPARED[2]))}"
    )
    for named_way, anonymous in COMPARED[3:]:
        taken = cell(results.ratios(named_way, anonymous))  # the named one's time over the other's
        lines.append(f"{named_way}: {taken} x the time of the same anonymous struct's")
    lines.append(
        f"\nOne process: each way alternates with its baseline in {CHUNKS} chunks per round. Several processes: each "
        "way's processes run on their own, and the ratio is to the Value idiom's run of the same round."
    )
    return "\n".join(lines)


def plot(results: Results, process_counts: list[int], path: Path) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("(matplotlib is not installed: no plot; pip install -e '.[bench]')", file=sys.stderr)
        return
    counts = [1, *process_counts]
    figure, axes = plt.subplots(figsize=(9, 5.5))
    for way in WAYS:
        if not way.contended:
            continue
        throughput = [1e3 / statistics.median(results.ns[(way.name, c)]) for c in counts]
        axes.plot(counts, throughput, marker="o", label=way.name)
    axes.set_xlabel("processes contending on one shared object")
    axes.set_ylabel("million operations per second (whole system)")
    axes.set_xticks(counts)
    axes.set_yscale("log")
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(fontsize=8)
    axes.set_title("sharedgen: throughput against the number of processes")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    print(f"plot saved to {path}", file=sys.stderr)


def build_speed(files: int, fields: int) -> str:
    """Cold build, no-change rebuild and import time, through the real command line."""
    folder = Path(tempfile.mkdtemp(prefix="sharedgen-build-"))
    (folder / "pyproject.toml").write_text("")
    (folder / "schemas").mkdir()
    for index in range(files):
        body = "".join(f"      f{j}: {{type: q, lock: g{j % 3}}}\n" for j in range(fields))
        (folder / "schemas" / f"s{index:03}.yaml").write_text(f"structs:\n  S{index}:\n    fields:\n{body}")
    command = [sys.executable, "-m", "sharedgen", "build"]
    start = time.perf_counter()
    subprocess.run(command, cwd=folder, check=True, capture_output=True)
    cold = time.perf_counter() - start
    start = time.perf_counter()
    subprocess.run(command, cwd=folder, check=True, capture_output=True)
    warm = time.perf_counter() - start
    wide = "".join(
        f"  W{i}:\n    fields:\n" + "".join(f"      f{j}: {{type: i}}\n" for j in range(10)) for i in range(50)
    )
    (folder / "schemas" / "wide.yaml").write_text(f"structs:\n{wide}")
    subprocess.run(command, cwd=folder, check=True, capture_output=True)
    # The standard library the module imports, which a program using multiprocessing has mostly loaded.
    tree = ast.parse((folder / "generated" / "wide.py").read_text())
    stdlib = sorted({a.name for n in tree.body if isinstance(n, ast.Import) for a in n.names})
    stdlib += sorted({n.module for n in tree.body if isinstance(n, ast.ImportFrom) and n.module and not n.level})

    def import_time(before: str, bytecode: bool = True, then: str = "") -> float:
        """Median of 5 imports (module and runtime), each in a new interpreter: from cached bytecode as
        users import it, or (bytecode=False) compiled every time, as where bytecode is never written;
        ``then``: code timed with the import (the module is `wide`)."""
        timed = "; ".join(["import generated.wide as wide", *([then] if then else [])])
        probe = f"{before}import time; t = time.perf_counter(); {timed}; print(time.perf_counter() - t)"
        env = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}
        if not bytecode:
            env["PYTHONDONTWRITEBYTECODE"] = "1"
            for cache in (folder / "generated").rglob("__pycache__"):  # the runtime package's too
                shutil.rmtree(cache)
        command = [sys.executable, "-c", probe]
        runs = [
            float(subprocess.run(command, cwd=folder, check=True, capture_output=True, text=True, env=env).stdout)
            for _ in range(6)
        ]
        return statistics.median(runs[1:]) * 1e3  # the first run writes the bytecode (when it may)

    after_stdlib_uncached = import_time(f"import {', '.join(stdlib)}; ", bytecode=False)
    fresh, after_stdlib = import_time(""), import_time(f"import {', '.join(stdlib)}; ")
    # A struct class is finished when first used (sharedgen 0.1.0 since 2026-12-02): the import and
    # one instance of every struct, against the import and one instance of the first alone.
    everything = "[getattr(wide, f'W{i}')() for i in range(50)]"
    used_all = import_time(f"import {', '.join(stdlib)}; ", then=everything)
    used_one = import_time(f"import {', '.join(stdlib)}; ", then="wide.W0()")
    return "\n".join(
        [
            f"cold build of {files} schema files x {fields} fields: {cold:.1f} s",
            f"no-change rebuild: {warm:.2f} s",
            f"import of a module of 50 structs x 10 fields: {fresh:.1f} ms"
            f" ({after_stdlib:.1f} ms after the standard library it imports;"
            f" {after_stdlib_uncached:.1f} ms after it without bytecode)",
            f"the same import and one instance of every struct: {used_all:.1f} ms (of the first only: {used_one:.1f} ms)",
        ]
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds and operations: under a minute")
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--plot", type=Path, default=HERE / "throughput.png")
    parser.add_argument("--no-build", action="store_true", help="skip the build-speed measurement")
    parser.add_argument("--build-only", action="store_true", help="only the build-speed measurement")
    parser.add_argument("--named", action="store_true", help="then the named structs' benchmarks (benchmarks/named.py)")
    args = parser.parse_args()
    rounds = args.rounds or (3 if args.quick else 7)
    scale = 0.15 if args.quick else 1.0
    process_counts = [2, 4]
    print(f"# sharedgen benchmarks, {time.strftime('%Y-%m-%d')}")
    print(
        f"Python {platform.python_version()} ({platform.python_implementation()}), {platform.machine()}, "
        f"{os.cpu_count()} cores, {platform.platform()}; {rounds} rounds{', quick' if args.quick else ''}\n"
    )
    if not args.build_only:
        results = measure(rounds, scale, process_counts)
        print(report(results, process_counts))
        plot(results, process_counts, args.plot)
    if not args.no_build:
        print()
        print(build_speed(*((20, 20) if args.quick else (200, 20))))
    if args.named:
        print(flush=True)
        named = [sys.executable, str(HERE / "named.py"), *(["--quick"] if args.quick else [])]
        return subprocess.run(named, check=False).returncode
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
