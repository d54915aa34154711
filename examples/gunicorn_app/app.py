"""A small WSGI app whose requests are counted in one named shared-memory struct, HttpStats.

gunicorn.conf.py beside this file does the struct's life: the master creates it, each worker
attaches after fork and calls `start_worker()` here, the master removes it at shutdown. Every
request is counted by `count_requests` (below) in two critical sections of lock group `requests`:
one when it starts, one when it ends. /metrics serves the counts in Prometheus' text format through
prometheus_client's custom-collector API: a collector that reads one `snapshot()` of the struct,
whichever worker answers the scrape.

Routes: / (200), /slow?seconds=S (200, streamed: a first line at once, the rest S seconds later),
/error (500), /metrics, anything else 404. Every response says which worker made it (X-Worker-Pid).
"""

from __future__ import annotations

import bisect
import itertools
import math
import os
import time
from collections.abc import Callable, Iterable, Iterator
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.utils import floatToGoString

from generated.http_stats import HttpStats, HttpStatsSnapshot

Environ = dict[str, Any]
ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]
StartResponse = Callable[..., Callable[[bytes], object]]
WSGIApp = Callable[[Environ, StartResponse], Iterable[bytes]]

# The latency buckets' upper bounds in seconds (prometheus_client's default buckets); the struct's
# latency_buckets counts requests per bucket, not cumulatively: /metrics adds them up.
BOUNDS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, math.inf)
if len(BOUNDS) != HttpStats.__sharedgen_fields__["latency_buckets"]["length"]:
    raise ImportError("BOUNDS and schemas/http_stats.yaml disagree on the number of latency buckets")
LE = [floatToGoString(bound) for bound in BOUNDS]  # the bounds as Prometheus writes them: "0.005", ... "+Inf"
SLOW_LIMIT = 60.0  # the longest /slow?seconds= accepted


class HttpStatsCollector:
    """A prometheus_client custom collector: every metric of one scrape comes from one snapshot,
    so a scrape never shows a request counted by one metric and not yet by another."""

    def __init__(self, stats: HttpStats) -> None:
        self._stats = stats

    def collect(self) -> Iterator[Metric]:
        return metric_families(self._stats.snapshot())


def metric_families(s: HttpStatsSnapshot) -> Iterator[Metric]:
    """The Prometheus metric families of one snapshot."""
    answered = CounterMetricFamily("http_requests", "HTTP requests answered, by status class.", labels=["code"])
    for code, count in (("2xx", s.status_2xx), ("3xx", s.status_3xx), ("4xx", s.status_4xx), ("5xx", s.status_5xx)):
        answered.add_metric([code], count)
    yield answered
    yield CounterMetricFamily("http_requests_started", "HTTP requests a worker began.", value=s.started)
    yield CounterMetricFamily(
        "http_requests_abandoned",
        "HTTP requests never answered: their worker died first (SIGKILL, OOM killer, crash).",
        value=s.abandoned,
    )
    yield GaugeMetricFamily(
        "http_requests_in_flight", "HTTP requests being served (this scrape too).", value=s.in_flight
    )
    cumulative = itertools.accumulate(s.latency_buckets)
    yield HistogramMetricFamily(
        "http_request_duration_seconds",
        "Time from the start of a request to the end of its response, answered requests only.",
        buckets=list(zip(LE, cumulative, strict=True)),
        sum_value=s.latency_sum,
    )
    yield CounterMetricFamily("gunicorn_workers_started", "Workers forked by the master.", value=s.workers_started)
    yield CounterMetricFamily("gunicorn_workers_exited", "Workers that ended, for any reason.", value=s.workers_exited)
    yield CounterMetricFamily(
        "gunicorn_workers_lost",
        "Workers that ended without running gunicorn's worker_exit hook (SIGKILL, crash).",
        value=s.workers_lost,
    )


class _Worker:
    """What this worker process was given by the post_fork hook."""

    stats: HttpStats | None = None
    slot: int | None = None  # its slot in worker_in_flight, None when all were taken
    registry: CollectorRegistry | None = None


def start_worker(stats: HttpStats, slot: int | None) -> None:
    """Called by gunicorn.conf.py's post_fork hook, in the new worker: the struct it attached to,
    and the slot the master gave it."""
    registry = CollectorRegistry()
    registry.register(HttpStatsCollector(stats))
    _Worker.stats, _Worker.slot, _Worker.registry = stats, slot, registry


def _stats() -> HttpStats:
    if _Worker.stats is None:
        raise RuntimeError("no HttpStats in this process: run the app with gunicorn -c gunicorn.conf.py beside it")
    return _Worker.stats


def count_requests(app: WSGIApp) -> WSGIApp:
    """WSGI middleware: count every request in the struct.

    At the start: started, in_flight and this worker's worker_in_flight slot go up by one, in one
    critical section. At the end (when the server closes the response, after sending its last
    byte, or when the app raises): in_flight and the slot go down, and the status class and the
    latency are counted, again in one critical section, in a `finally`. A worker SIGKILLed in
    between never decrements: the master's child_exit hook moves what the dead worker's slot
    still holds from in_flight to abandoned (see gunicorn.conf.py).
    """

    def counted(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        stats, slot = _stats(), _Worker.slot
        began = time.perf_counter()
        with stats.batch() as batch:
            batch.add_started()
            batch.add_in_flight()
            if slot is not None:
                batch.add_worker_in_flight(slot)
        status: list[str] = []

        def remember(line: str, headers: list[tuple[str, str]], exc_info: ExcInfo | None = None) -> Any:
            status[:] = [line]
            return start_response(line, headers, exc_info)

        try:
            body = app(environ, remember)
        except BaseException:
            _ended(stats, slot, "", began)
            raise
        return _Counted(body, lambda: _ended(stats, slot, status[0] if status else "", began))

    return counted


class _Counted:
    """A response body that counts its request when the server closes it (WSGI calls close()
    after the last byte is sent, whether the client read it all or went away)."""

    def __init__(self, body: Iterable[bytes], end: Callable[[], None]) -> None:
        self._body, self._end = body, end

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._body)

    def close(self) -> None:
        end, self._end = self._end, lambda: None  # counted once, however often close() is called
        try:
            close = getattr(self._body, "close", None)
            if close is not None:
                close()
        finally:
            end()


def _ended(stats: HttpStats, slot: int | None, status: str, began: float) -> None:
    """Count a request's end: one critical section of lock group `requests`."""
    elapsed = time.perf_counter() - began
    code = int(status[:3]) if status[:3].isdigit() else 500  # no status: the app raised, the server sends 500
    with stats.batch() as batch:
        batch.add_in_flight(-1)
        if slot is not None:
            batch.add_worker_in_flight(slot, -1)
        if 200 <= code < 300:
            batch.add_status_2xx()
        elif 300 <= code < 400:
            batch.add_status_3xx()
        elif 400 <= code < 500:
            batch.add_status_4xx()
        else:  # 5xx, and anything else a WSGI app should not send
            batch.add_status_5xx()
        batch.add_latency_buckets(bisect.bisect_left(BOUNDS, elapsed))  # the first bound >= elapsed: le is inclusive
        batch.add_latency_count()
        batch.add_latency_sum(elapsed)


def _respond(start_response: StartResponse, status: str, body: bytes, content_type: str = "text/plain") -> list[bytes]:
    headers = [("Content-Type", content_type), ("Content-Length", str(len(body))), ("X-Worker-Pid", str(os.getpid()))]
    start_response(status, headers)
    return [body]


def _slow(seconds: float) -> Iterator[bytes]:
    yield f"slow: {seconds} s in worker {os.getpid()}\n".encode()  # sent at once: the headers with it
    time.sleep(seconds)
    yield b"done\n"


def routes(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    """The app itself, without the counting."""
    path = environ.get("PATH_INFO", "/")
    if path == "/":
        return _respond(start_response, "200 OK", b"hello\n")
    if path == "/slow":
        try:
            seconds = float(parse_qs(environ.get("QUERY_STRING", "")).get("seconds", ["1"])[0])
        except ValueError:
            seconds = math.nan
        if not 0 <= seconds <= SLOW_LIMIT:
            return _respond(start_response, "400 Bad Request", f"seconds: 0 to {SLOW_LIMIT}\n".encode())
        # No Content-Length: gunicorn sends the body chunked, each part as the app yields it.
        start_response("200 OK", [("Content-Type", "text/plain"), ("X-Worker-Pid", str(os.getpid()))])
        return _slow(seconds)
    if path == "/error":
        return _respond(start_response, "500 Internal Server Error", b"an error, on purpose\n")
    if path == "/metrics":
        assert _Worker.registry is not None  # _stats() checked it: count_requests runs first
        return _respond(start_response, "200 OK", generate_latest(_Worker.registry), CONTENT_TYPE_LATEST)
    return _respond(start_response, "404 Not Found", b"not found\n")


application = count_requests(routes)
