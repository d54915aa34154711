"""Deliberate misuse: every line marked `# error` must be reported by mypy --strict and by pyright (strict), and no other."""

from generated.arrays import Histogram
from generated.strings import JobInfo
from generated.worker_stats import WorkerStats

stats = WorkerStats()
stats.add_processed(1.5)  # error
stats.processed = "3"  # error
stats.state = "R"  # error
stats.add_stop()  # error
stats.nonexistent = 1  # error
stats.get_lock("nope")  # error
stats.update_progress(elapsed=1.0)  # error
stats.update_progress(3)  # error
WorkerStats(processed=1.0)  # error
WorkerStats(unknown=1)  # error
snapshot = stats.snapshot()
snapshot.processed = 2  # error
label: str = JobInfo().label  # error
JobInfo().owner = b"bytes"  # error
Histogram().add_buckets("0")  # error
Histogram.on_redis(object(), "key")  # error
with stats.locked_progress() as group:
    group.elapsed = 1.0  # error
twin = WorkerStats.on_redis(object(), "key")
twin.add_processed(1.5)  # error
twin.add_stop()  # error
WorkerStats.on_redis(object(), 42)  # error
