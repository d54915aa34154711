"""What benchmarks/run.py and benchmarks/named.py both measure with: the benchmark structs, the
Value idiom they are compared with, and how a figure is written."""

from __future__ import annotations

import ctypes
import importlib
import multiprocessing
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sharedgen.pipeline import generate, runtime_files

HERE = Path(__file__).resolve().parent
CTX = multiprocessing.get_context("fork")  # children start fast; every start method is tested elsewhere


def load_bench_module(folder: Path) -> Any:
    """benchmarks/schemas/bench.yaml built into ``folder`` as an output folder, imported as a package."""
    (folder / "benchgen").mkdir(parents=True)
    (module,) = generate([str(HERE / "schemas" / "bench.yaml")])
    (folder / "benchgen" / "bench.py").write_text(module.source)
    for file in runtime_files():
        path = folder / "benchgen" / file.relative_path
        path.parent.mkdir(exist_ok=True)
        path.write_text(file.source)
    sys.path.insert(0, str(folder))
    return importlib.import_module("benchgen.bench")


# The baseline of every figure: the classic Value idiom, which takes the lock three times an add.
def seed_make() -> Any:
    return CTX.Value("q", 0)


def seed_add(v: Any, n: int) -> None:
    for _ in range(n):
        with v.get_lock():
            v.value += 1


def generated_add(c: Any, n: int) -> None:
    add = c.add_value
    for _ in range(n):
        add()


def _as_run(n: int) -> int:
    return n


@dataclass(frozen=True)
class Way:
    """One way of doing what is measured: make its shared object, run ``n`` operations on it."""

    name: str
    make: Callable[[], Any]
    run: Callable[[Any, int], None]
    ops: int  # operations per round in one process (before --quick scaling)
    contended: bool = True  # also measured with several processes
    done: Callable[[Any], None] | None = None  # lets the shared object go (a named struct: unlinked)
    # What a contender does first, outside the timing, to the object it inherited through fork; it
    # returns what to run on (a named struct: attached anew by name). None: run on it as it is.
    in_child: Callable[[Any], Any] | None = None
    counted: Callable[[int], int] = _as_run  # the operations a run of n really does


CHUNKS = 10  # one-process ways are measured in this many chunks, alternating with their baseline


def timed(way: Way, n: int) -> float:
    """Seconds for ``n`` operations on a fresh shared object, made (and let go) outside the timing."""
    shared = way.make()
    try:
        start = time.perf_counter()
        way.run(shared, n)
        return time.perf_counter() - start
    finally:
        if way.done:
            way.done(shared)


def paired(first: Way, second: Way, scale: float) -> tuple[float, float]:
    """Nanoseconds per operation of two ways in this process, measured in alternating chunks.

    The machine's slow moments then fall on both alike, which a ratio of two runs made seconds
    apart does not ensure; which of the two goes first alternates too.
    """
    spent, done = [0.0, 0.0], [0, 0]
    for chunk in range(CHUNKS):
        for index in (0, 1) if chunk % 2 == 0 else (1, 0):
            way = (first, second)[index]
            n = max(100, int(way.ops * scale) // CHUNKS)
            spent[index] += timed(way, n)
            done[index] += way.counted(n)
    return spent[0] * 1e9 / done[0], spent[1] * 1e9 / done[1]


def _contender(way: Way, shared: Any, n: int, go: Any, elapsed: Any, slot: int) -> None:
    if way.in_child:
        shared = way.in_child(shared)
    go.wait()
    start = time.perf_counter()
    way.run(shared, n)
    elapsed[slot] = time.perf_counter() - start


def contended_seconds(way: Way, shared: Any, n: int, processes: int) -> float:
    """Seconds until the last of ``processes`` forked children, started at once, ran ``n`` operations."""
    go = CTX.Event()
    elapsed = CTX.RawArray(ctypes.c_double, processes)
    workers = [CTX.Process(target=_contender, args=(way, shared, n, go, elapsed, i)) for i in range(processes)]
    for worker in workers:
        worker.start()
    time.sleep(0.05)
    go.set()
    for worker in workers:
        worker.join()
        assert worker.exitcode == 0, f"{way.name}: a contender exited with {worker.exitcode}"
    return max(elapsed)


def median_seconds(call: Callable[[], Any], repeat: int) -> float:
    """Seconds per call: the median of ``repeat`` timed calls."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def spread(values: list[float]) -> tuple[float, float, float]:
    """Median, min and max of one figure's rounds."""
    return statistics.median(values), min(values), max(values)


def cell(figure: tuple[float, float, float]) -> str:
    """A figure as a table shows it: the median, then the min-max of the rounds."""
    digits = 0 if figure[0] >= 100 else 2
    return f"{figure[0]:,.{digits}f} ({figure[1]:,.{digits}f}-{figure[2]:,.{digits}f})"
