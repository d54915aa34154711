"""snapshot() of real structs (several lock groups, named or not, recover_locks) and update_<group>() of one field.

    python benchmarks/snapshots.py              # this checkout's sharedgen
    OLD/.venv/bin/python benchmarks/snapshots.py   # another version's, for a before/after in one run

It builds benchmarks/schemas/bench.yaml with the sharedgen of the interpreter running it (through
its command line, which every version has), so the same script measures any version. Every figure
is a ratio to the Value idiom (`with v.get_lock(): v.value += 1`) measured alternately with it in the
same run: the median over rounds, min-max beside it.
"""

from __future__ import annotations

import argparse
import importlib
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


def build() -> Any:
    folder = Path(tempfile.mkdtemp(prefix="sharedgen-snapshots-"))
    command = [sys.executable, "-m", "sharedgen", "build", str(HERE / "schemas" / "bench.yaml"), "-o", "benchgen"]
    subprocess.run(command, cwd=folder, check=True, capture_output=True)
    sys.path.insert(0, str(folder))
    return importlib.import_module("benchgen.bench")


def per_op(operation: Callable[[], object], n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        operation()
    return (time.perf_counter() - start) * 1e9 / n


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("-n", type=int, default=20_000, help="operations per measurement")
    args = parser.parse_args()
    bench = build()
    version = subprocess.run(
        [sys.executable, "-m", "sharedgen", "--version"], check=True, capture_output=True, text=True
    ).stdout.strip()
    ctx = multiprocessing.get_context("fork")
    value = ctx.Value("q", 0)

    def value_idiom() -> None:
        with value.get_lock():
            value.value += 1

    named: list[Any] = []

    def create(kind: Any) -> Any:
        struct = kind.create(f"sharedgen-bench-{os.getpid()}-{len(named)}")
        named.append(struct)
        return struct

    kinds = [(1, bench.BenchWide), (2, getattr(bench, "BenchWide2", None)), (4, getattr(bench, "BenchWide4", None))]
    group = bench.BenchGroup(ctx=ctx)
    ways: dict[str, Callable[[], object]] = {}
    for groups, kind in kinds:
        if kind is None:
            continue
        label = f"{groups} lock group{'s' if groups > 1 else ''}"
        ways[f"snapshot() of 20 fields, {label}"] = kind(ctx=ctx).snapshot
        ways[f"named snapshot() of 20 fields, {label}"] = create(kind).snapshot
    recovering = getattr(bench, "BenchWide4Recovering", None)
    if recovering is not None:  # a named struct's locks (robust mutexes), made by the constructor
        label = "20 fields, 4 lock groups, recover_locks"
        ways[f"snapshot() of {label}"] = recovering(ctx=ctx).snapshot
        ways[f"add_f05() of {label}"] = recovering(ctx=ctx).add_f05
        ways[f"named add_f05() of {label}"] = create(recovering).add_f05
    ways["update_g() of all 4 fields"] = lambda: group.update_g(a=1, b=2, c=3, d=4)
    ways["update_g(a=...): one field of 4"] = lambda: group.update_g(a=1)
    ratios: dict[str, list[float]] = {name: [] for name in ways}
    ns: dict[str, list[float]] = {name: [] for name in ways}
    try:
        for _ in range(args.rounds):
            for name, way in ways.items():
                baseline, measured = per_op(value_idiom, args.n), per_op(way, args.n)
                ratios[name].append(baseline / measured)
                ns[name].append(measured)
    finally:
        for struct in named:
            struct.unlink()
            struct.close()
    print(f"# {version}, Python {sys.version.split()[0]}, {args.rounds} rounds of {args.n:,}")
    print("| way | ns/op | x Value idiom |")
    print("|---|---|---|")
    for name in ways:
        median = statistics.median(ratios[name])
        print(
            f"| {name} | {statistics.median(ns[name]):,.0f} | "
            f"{median:.2f} ({min(ratios[name]):.2f}-{max(ratios[name]):.2f}) |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
