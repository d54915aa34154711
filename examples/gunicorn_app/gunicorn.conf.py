"""gunicorn settings and server hooks for app.py: the life of its shared HttpStats struct.

    gunicorn -c examples/gunicorn_app/gunicorn.conf.py        (from the repository root)

The hooks, in the order gunicorn calls them (https://docs.gunicorn.org/en/stable/settings.html#server-hooks):

- when_ready (master, once the listening sockets are bound, before the first worker is forked):
  create the struct, named $HTTP_STATS_NAME (default gunicorn-http-stats). Not on_starting: that
  runs before the sockets are bound, and a bind failure exits without on_exit.
- pre_fork (master, before each fork): give the new worker a free slot of worker_in_flight.
- post_fork (worker, just after the fork): attach to the struct by name and hand it to app.py.
- worker_exit (worker, when it ends through Python: max_requests, SIGTERM, a timeout's SIGABRT):
  clear its pid from worker_pids, which tells child_exit that it ended in order.
- child_exit (master, after reaping a worker, however it died): settle the dead worker's share.
- on_exit (master, at shutdown, once the workers are gone): unlink the struct.

In-flight requests of a killed worker. A worker counts a request in in_flight when it starts and
takes it out when it ends. A worker SIGKILLed in between (by an operator, the OOM killer, or the
master after a timeout) never takes it out, so each worker also counts its in-flight requests in a
slot of its own, worker_in_flight[slot], in the same critical section as in_flight. When the worker
is gone, child_exit (in the master, after waitpid: the dead worker can no longer write) moves what
its slot still holds from in_flight to abandoned, in one critical section of the same lock group.
So in_flight always equals the requests being served, and started = answered + abandoned +
in_flight exactly, with any number of workers killed at any moment: a worker killed inside one of
its critical sections is no exception, as the struct's locks survive their holder and finish or
drop its write whole. The master hands out the slots (a free list kept on the arbiter, which
survives a HUP's reload of this file); more workers than slots (64) run without a slot, and a
slotless worker killed mid-request leaves its requests in in_flight.

A master killed with SIGKILL leaves the struct behind: the next start then refuses to create it
again; remove it with `sharedgen rm NAME`. A USR2 binary upgrade runs two masters at once: give
the new one another HTTP_STATS_NAME.
"""

from __future__ import annotations

import atexit
import contextlib
import os
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
STATS_NAME = os.environ.get("HTTP_STATS_NAME", "gunicorn-http-stats")

wsgi_app = "app:application"
pythonpath = f"{ROOT},{HERE}"  # generated.http_stats from the repository root; app from here
bind = os.environ.get("HTTP_STATS_BIND", "127.0.0.1:8000")
workers = 4
worker_class = "sync"  # one request at a time per worker
max_requests = 1000  # recycle each worker after about this many requests ...
max_requests_jitter = 100  # ... give or take, so that workers do not all restart at once
control_socket_disable = True  # gunicorn's control socket (a thread in the master, one path per user): not needed here


def when_ready(server: Any) -> None:
    """Master: create the struct before any worker exists."""
    from generated.http_stats import HttpStats

    try:
        stats = HttpStats.create(STATS_NAME)
    except FileExistsError:
        raise SystemExit(
            f"a named struct {STATS_NAME!r} exists: another server uses it, or one was killed without removing it "
            f"(see `sharedgen ls`; `sharedgen rm {STATS_NAME}`); or set HTTP_STATS_NAME to another name"
        ) from None
    server.http_stats = stats
    server.http_stats_free_slots = list(range(HttpStats.__sharedgen_fields__["worker_in_flight"]["length"]))
    # on_exit is the way out, but gunicorn's master exits without it after an unexpected error in its
    # loop: this removes the struct then. Forked workers inherit the registration: only the master acts.
    atexit.register(_remove, server, os.getpid())
    server.log.info("HttpStats %r created: sharedgen show %s", stats.name, stats.name)


def pre_fork(server: Any, worker: Any) -> None:
    """Master: the new worker's slot (the worker object, with it, is copied into the child)."""
    free = server.http_stats_free_slots
    slot = min(free) if free else None
    worker.http_stats_slot = slot
    with server.http_stats.locked_workers() as group:
        group.workers_started += 1
        if slot is not None:
            free.remove(slot)
            group.worker_pids[slot] = -1  # being forked: its pid is not known yet
    if slot is None:
        server.log.warning("HttpStats: no free slot; this worker's in-flight requests die with it")


def post_fork(server: Any, worker: Any) -> None:
    """Worker: attach to the struct by name and start counting."""
    import app

    from generated.http_stats import HttpStats

    inherited = server.http_stats  # the master's view, copied by fork: this process attaches its own
    stats = HttpStats.attach(inherited.name)
    inherited.close()  # unmaps this process's copy only; the master keeps its view
    server.http_stats = worker.http_stats = stats
    slot = worker.http_stats_slot
    if slot is not None:
        with stats.locked_workers() as group:
            group.worker_pids[slot] = os.getpid()
    app.start_worker(stats, slot)


def worker_exit(server: Any, worker: Any) -> None:
    """Worker ending through Python; gunicorn also calls this in the master for a worker it found
    already gone without reaping it, and then child_exit is not called: settle it here."""
    if os.getpid() != worker.pid:
        _settle(server, worker)
        return
    stats, slot = getattr(worker, "http_stats", None), worker.http_stats_slot
    if stats is not None and slot is not None:
        with stats.locked_workers() as group:
            group.worker_pids[slot] = 0  # ended in order: child_exit does not count it as lost


def child_exit(server: Any, worker: Any) -> None:
    """Master, after reaping a worker: whatever it was doing, it does no more."""
    _settle(server, worker)


def on_exit(server: Any) -> None:
    """Master, at shutdown: remove the struct (processes still attached keep their view)."""
    _remove(server, os.getpid())


def _settle(server: Any, worker: Any) -> None:
    """The dead worker's requests still in flight become abandoned; its slot is free again."""
    if getattr(worker, "http_stats_settled", False) or getattr(server, "http_stats", None) is None:
        return
    worker.http_stats_settled = True
    stats, slot, unfinished = server.http_stats, worker.http_stats_slot, 0
    if slot is not None:
        with stats.locked_requests() as group:
            unfinished = group.worker_in_flight[slot]
            if unfinished:
                group.worker_in_flight[slot] = 0
                group.in_flight -= unfinished
                group.abandoned += unfinished
    with stats.locked_workers() as group:
        group.workers_exited += 1
        if slot is not None:
            if group.worker_pids[slot] != 0:  # not cleared by worker_exit: SIGKILL, or a crash
                group.workers_lost += 1
            group.worker_pids[slot] = 0
    if slot is not None:
        server.http_stats_free_slots.append(slot)
    if unfinished:
        server.log.warning(
            "HttpStats: worker %s died serving %d request(s): counted as abandoned", worker.pid, unfinished
        )


def _remove(server: Any, master_pid: int) -> None:
    stats = getattr(server, "http_stats", None)
    if os.getpid() != master_pid or stats is None:
        return
    server.http_stats = None
    with contextlib.suppress(FileNotFoundError):  # removed by hand (sharedgen rm) meanwhile
        stats.unlink()
    stats.close()
