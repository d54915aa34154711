"""Code that type-checks against the generated modules (mypy --strict): correct use."""

import multiprocessing

from generated.arrays import Histogram
from generated.strings import JobInfo
from generated.worker_stats import WorkerStats, WorkerStatsSnapshot

ctx = multiprocessing.get_context("spawn")
stats = WorkerStats(processed=1, ctx=ctx)
total: int = stats.add_processed(2)
elapsed: float = stats.add_elapsed(0.5)
stats.state = b"R"
stats.update_progress(processed=3, failed=1)
with stats.locked_progress() as group:
    group.processed += 1
snapshot: WorkerStatsSnapshot = stats.snapshot()
counts: dict[str, object] = snapshot.as_dict()
lock = stats.get_lock("timing")
with stats.batch() as batch:
    batch.add_failed(1)
job = JobInfo(label=b"abc", owner="me")
name: str = job.owner
buckets: list[int] = Histogram().buckets


def on_redis(client: object) -> WorkerStatsSnapshot:
    """The Redis twin: the same API, checked the same way."""
    shared = WorkerStats.on_redis(client, "stats:job-42", lease=10.0)
    done: int = shared.add_processed()
    shared.update_progress(processed=done, failed=0)
    with shared.locked_progress() as group:
        group.failed += 1
    with shared.get_lock("timing"):
        shared.elapsed = 1.5
    return shared.snapshot()
