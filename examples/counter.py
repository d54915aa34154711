"""The classic two-process counter, with the generated ``Counter`` instead of ``multiprocessing.Value``.

    python examples/counter.py [--start-method fork|spawn|forkserver] [--redis URL]

``counter.add_value()`` is one atomic increment: one lock acquisition, no lost updates.
With ``--redis redis://host:6379/0`` the same program keeps the counter in a Redis hash instead
(one line differs; schemas/counter.yaml asks for the twin with ``redis: true``; needs redis-py:
pip install 'sharedgen[redis]').
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # import generated/ from a checkout

from generated.counter import Counter, CounterOnRedis  # noqa: E402


def say(line: str) -> None:
    """Print a whole line in one write, so that lines of concurrent processes never interleave."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def increment_worker(shared_counter: Counter | CounterOnRedis, count: int) -> None:
    """Increment the shared counter ``count`` times."""
    pid = os.getpid()
    say(f"[Process-{pid}] Started")
    for _ in range(count):
        shared_counter.add_value()  # the critical section, in one call
        time.sleep(0.001)  # simulate work
    say(f"[Process-{pid}] Finished")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--start-method", choices=multiprocessing.get_all_start_methods(), default=None)
    parser.add_argument("--redis", metavar="URL", help="keep the counter in Redis, e.g. redis://localhost:6379/0")
    args = parser.parse_args()
    ctx = multiprocessing.get_context(args.start_method)

    counter: Counter | CounterOnRedis
    if args.redis:
        import redis

        counter = Counter.on_redis(redis.Redis.from_url(args.redis), "examples:counter")
        counter.value = 0
    else:
        counter = Counter(value=0, ctx=ctx)
    num_processes = 2
    loops_per_process = 50
    say(f"--- Processing Started (Initial Value: {counter.value}) ---")
    processes = [ctx.Process(target=increment_worker, args=(counter, loops_per_process)) for _ in range(num_processes)]
    for process in processes:
        process.start()
    for process in processes:
        process.join()
    print("--- All Processes Finished ---")

    expected_value = num_processes * loops_per_process
    print(f"Final Counter Value: {counter.value}")
    print(f"Expected Value: {expected_value}")
    if counter.value == expected_value:
        print(">> Success: Data was updated without conflicts.")
        return 0
    print(">> Failure: Data race condition occurred.")
    return 1


if __name__ == "__main__":
    raise SystemExit(main())
