# ruff: noqa: B023  (each round's closures are called within the round)
"""Array fields against the numpy people hand-roll over shared memory, in the same run, as ratios.

    python benchmarks/arrays.py [--rounds 5]

Shapes measured: 1,000,000 doubles (`d`, shape (1000000,)) and a 640x480x3 frame of bytes (`B`,
shape (480, 640, 3)). Ways: sharedgen's `s.x = array` and `s.copy_x()` / `s.copy_x(out)`; the
hand-rolled `np.frombuffer(Array(lock=False))` (write `a[:] = x`, copy-out `a.copy()` /
`np.copyto(out, a)`); `SharedMemory` + `np.ndarray(buffer=shm.buf)`; SharedArray if it installs.
Then a view's enter and exit against the Value idiom's add, a 1 GiB named struct's create and
attach, and a big `length` field read as a list against `memoryview.tolist()`. Each figure is the
median of the rounds; ratios divide by the hand-rolled frombuffer way measured in the same round.
"""

from __future__ import annotations

import argparse
import importlib
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
import uuid
from multiprocessing import shared_memory
from pathlib import Path
from typing import Any

import numpy as np
from common import median_seconds

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

SCHEMA = """
structs:
  Doubles:
    max_shared_bytes: 8000008
    fields:
      data: {type: d, length: 1000000}
  Frame:
    max_shared_bytes: 921608
    fields:
      frame: {type: B, shape: [480, 640, 3]}
  Big:
    max_shared_bytes: 1073741832
    fields:
      data: {type: B, shape: [1024, 1024, 1024]}
  Counter:
    fields:
      value: {type: q}
"""


def build(folder: Path) -> Any:
    from sharedgen.pipeline import generate, runtime_files

    (folder / "schemas").mkdir()
    (folder / "schemas" / "bencharrays.yaml").write_text(SCHEMA)
    package = folder / "bencharrays_out"
    package.mkdir()
    for module in (*generate([str(folder / "schemas" / "bencharrays.yaml")]), *runtime_files()):
        path = package / (module.module_name.replace(".", "/") + ".py")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(module.source)
    sys.path.insert(0, str(folder))
    return importlib.import_module("bencharrays_out.bencharrays")


def best(call: Any, repeat: int) -> float:
    """Seconds per call, the median of `repeat` timed calls (after one warm-up)."""
    call()
    return median_seconds(call, repeat)


def per_call(call: Any, n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        call()
    return (time.perf_counter() - start) / n


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    ctx = multiprocessing.get_context("fork")
    rows: dict[str, list[float]] = {}

    def note(key: str, value: float) -> None:
        rows.setdefault(key, []).append(value)

    with tempfile.TemporaryDirectory() as tmp:
        module = build(Path(tmp))
        cases = [
            ("1,000,000 doubles", module.Doubles(), "data", np.random.default_rng(1).standard_normal(1_000_000), "d"),
            (
                "640x480x3 frame",
                module.Frame(),
                "frame",
                np.random.default_rng(2).integers(0, 256, (480, 640, 3), np.uint8),
                "B",
            ),
        ]
        try:
            import SharedArray  # type: ignore[import-not-found]
        except ImportError:
            SharedArray = None
        for _ in range(args.rounds):
            for label, struct, field, source, code in cases:
                hand = np.frombuffer(ctx.Array(code, source.size, lock=False), dtype=source.dtype).reshape(source.shape)
                shm = shared_memory.SharedMemory(create=True, size=source.nbytes)
                by_shm = None
                try:
                    by_shm = np.ndarray(source.shape, source.dtype, buffer=shm.buf)
                    out = np.empty_like(source)
                    copy_into = getattr(struct, f"copy_{field}")
                    ways = {
                        "write: sharedgen s.x = array": lambda: setattr(struct, field, source),
                        "write: np.frombuffer(Array(lock=False))[:] = array": lambda: hand.__setitem__(
                            Ellipsis, source
                        ),
                        "write: SharedMemory + numpy": lambda: by_shm.__setitem__(Ellipsis, source),
                        "copy-out: sharedgen s.copy_x()": lambda: copy_into(),
                        "copy-out: frombuffer .copy()": lambda: hand.copy(),
                        "copy-out: SharedMemory .copy()": lambda: by_shm.copy(),
                        "copy-out into out: sharedgen s.copy_x(out)": lambda: copy_into(out),
                        "copy-out into out: np.copyto(out, frombuffer)": lambda: np.copyto(out, hand),
                    }
                    if SharedArray is not None:
                        sa_name = f"shm://bench-{uuid.uuid4().hex[:8]}"
                        by_sa = SharedArray.create(sa_name, source.shape, source.dtype)
                        ways["write: SharedArray"] = lambda: by_sa.__setitem__(Ellipsis, source)
                        ways["copy-out: SharedArray .copy()"] = lambda: by_sa.copy()
                    times = {way: best(call, 15) for way, call in ways.items()}
                    if SharedArray is not None:
                        SharedArray.delete(sa_name)
                    for way, seconds in times.items():
                        base = (
                            "copy-out into out: np.copyto(out, frombuffer)"
                            if "into out" in way
                            else (
                                "write: np.frombuffer(Array(lock=False))[:] = array"
                                if way.startswith("write")
                                else "copy-out: frombuffer .copy()"
                            )
                        )
                        note(f"{label} | {way} | ms", seconds * 1e3)
                        note(f"{label} | {way} | ratio to hand-rolled", seconds / times[base])
                finally:
                    by_shm = None
                    shm.close()
                    shm.unlink()
            # A view's enter and exit against the Value idiom's add, whatever the array's size.
            value = ctx.Value("q", 0)

            def idiom() -> None:
                with value.get_lock():
                    value.value += 1

            seed = per_call(idiom, 100_000)
            for label, struct, field, _, _ in cases:
                view = getattr(struct, f"view_{field}")

                def enter_exit() -> None:
                    with view():
                        pass

                note(f"view enter+exit, {label} | ratio to the Value idiom's add", per_call(enter_exit, 100_000) / seed)
            note("the Value idiom's add | us", seed * 1e6)
            # A 1 GiB named struct: create, attach, close, unlink.
            name = f"bench-big-{uuid.uuid4().hex[:8]}"
            start = time.perf_counter()
            made = module.Big.create(name)
            created = time.perf_counter()
            attached = module.Big.attach(name)
            done = time.perf_counter()
            note("1 GiB named struct | create ms", (created - start) * 1e3)
            note("1 GiB named struct | attach ms", (done - created) * 1e3)
            attached.close()
            made.unlink()
            made.close()
            # A big length field read as a list, against memoryview.tolist() of the same items.
            doubles = cases[0][1]
            raw = memoryview(bytearray(8_000_000)).cast("d")
            as_list = best(lambda: doubles.data, 9)
            tolist = best(raw.tolist, 9)
            note("1,000,000 doubles | read s.data as a list | ratio to memoryview.tolist()", as_list / tolist)
    print(f"numpy {np.__version__}, Python {sys.version.split()[0]}, {os.cpu_count()} cores, {args.rounds} rounds")
    print(f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS')!r} (memcpy does not use BLAS)")
    for key, values in rows.items():
        print(f"{key}: {statistics.median(values):.3f} ({min(values):.3f}-{max(values):.3f})")


if __name__ == "__main__":
    main()
