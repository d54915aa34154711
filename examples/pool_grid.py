"""A ``multiprocessing.Pool`` fills a shared 2-D array row by row: each task computes its row
outside the lock and writes it through ``view_cells()`` (numpy over the live block, no copy).

    python examples/pool_grid.py [--start-method fork|spawn|forkserver] [--workers 4]

The struct travels to the workers through the pool's initializer (as multiprocessing's own
shared objects do). Prints the grid's checksum against the one computed in this process.
Needs numpy.
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # import generated/ from a checkout

from generated.frames import Grid  # noqa: E402

ROWS, COLUMNS = 500, 1000
grid: Grid | None = None  # each worker's, set by the initializer


def share(shared: Grid) -> None:
    global grid
    grid = shared


def row_values(row: int) -> np.ndarray:
    return np.sin(np.arange(COLUMNS) * 0.001 + row)  # the work, done outside the lock


def fill_row(row: int) -> None:
    assert grid is not None
    values = row_values(row)
    with grid.view_cells() as cells:  # the group's lock held around a live view of the block
        np.asarray(cells)[row] = values
    grid.add_rows_done()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--start-method", default=None, choices=["fork", "spawn", "forkserver"])
    parser.add_argument("--workers", type=int, default=4)
    args = parser.parse_args()
    ctx = multiprocessing.get_context(args.start_method)
    shared = Grid(ctx=ctx)
    with ctx.Pool(args.workers, initializer=share, initargs=(shared,)) as pool:
        pool.map(fill_row, range(ROWS), chunksize=10)
    result = np.asarray(shared.copy_cells())
    expected = np.stack([row_values(row) for row in range(ROWS)])
    print(f"rows done: {shared.rows_done}")
    print(f"checksum: {result.sum():.6f} (expected {expected.sum():.6f})")
    if shared.rows_done != ROWS or not np.array_equal(result, expected):
        raise SystemExit("the grid is not what the workers wrote")


if __name__ == "__main__":
    main()
