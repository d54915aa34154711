"""What benchmarks/run.py and benchmarks/named.py both measure with: the benchmark structs, the
seed idiom they are compared with, and how a figure is written."""

from __future__ import annotations

import importlib
import multiprocessing
import statistics
import sys
from pathlib import Path
from typing import Any

from sharedgen.pipeline import generate, runtime_module

HERE = Path(__file__).resolve().parent
CTX = multiprocessing.get_context("fork")  # children start fast; every start method is tested elsewhere


def load_bench_module(folder: Path) -> Any:
    """benchmarks/schemas/bench.yaml built into ``folder`` as an output folder, imported as a package."""
    (folder / "benchgen").mkdir(parents=True)
    (module,) = generate([str(HERE / "schemas" / "bench.yaml")])
    (folder / "benchgen" / "bench.py").write_text(module.source)
    runtime = runtime_module()
    (folder / "benchgen" / f"{runtime.module_name}.py").write_text(runtime.source)
    sys.path.insert(0, str(folder))
    return importlib.import_module("benchgen.bench")


# The baseline of every figure: the seed article's idiom, which takes the lock three times an add.
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


def spread(values: list[float]) -> tuple[float, float, float]:
    """Median, min and max of one figure's rounds."""
    return statistics.median(values), min(values), max(values)


def cell(figure: tuple[float, float, float]) -> str:
    """A figure as a table shows it: the median, then the min-max of the rounds."""
    digits = 0 if figure[0] >= 100 else 2
    return f"{figure[0]:,.{digits}f} ({figure[1]:,.{digits}f}-{figure[2]:,.{digits}f})"
