"""A real pre-fork server, end to end: examples/gunicorn_app under gunicorn.

gunicorn runs as a subprocess on a listening socket this test made (a free 127.0.0.1 port, handed
over as fd://N, so no other process can take the port in between), with 4 sync workers recycled
every 40 to 60 requests. 2,000 requests come from a thread pool; halfway through, a worker is
SIGKILLed while it serves a request of the test's own (a streamed /slow whose first line has
arrived: the worker is inside the app, the request counted as in flight and not yet answered).
Every count is then exact: each load request gets its route's status, the struct counts exactly
those plus the one abandoned request, in-flight is back to 0, /metrics read with prometheus_client's
own parser agrees with `sharedgen show --json`, and no segment is left after shutdown.

Every wait is bounded; no assertion is on time.
"""

from __future__ import annotations

import functools
import http.client
import importlib.util
import itertools
import json
import math
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO

pytestmark = [
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="named structs are Linux only"),
    pytest.mark.skipif(
        importlib.util.find_spec("gunicorn") is None or importlib.util.find_spec("prometheus_client") is None,
        reason="gunicorn and prometheus_client are not installed (pip install -e '.[test]')",
    ),
]

CONF = REPO / "examples" / "gunicorn_app" / "gunicorn.conf.py"
SHM = Path("/dev/shm")
WORKERS, MAX_REQUESTS, JITTER = 4, 40, 20
LOAD = 2000
# The load: each path with the status its route answers.
ROUTES = [("/", 200), ("/", 200), ("/", 200), ("/", 200), ("/slow?seconds=0.002", 200)]
ROUTES += [("/missing", 404), ("/error", 500), ("/", 200), ("/nothing/here", 404), ("/", 200)]
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never through an HTTP proxy


def fetch(url: str) -> tuple[int, bytes]:
    """GET url: the status and the body, for any status."""
    try:
        with OPENER.open(url, timeout=60) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.read()


def parent(pid: int) -> int | None:
    """The parent of process pid, None when it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return None
    return int(stat.rsplit(b")", 1)[1].split()[1])


def children(pid: int) -> set[int]:
    """The child processes of pid (a gunicorn master's: its workers). Not /proc/PID/task/*/children,
    which may miss some while processes come and go (and workers are recycled all the time here)."""
    return {
        int(entry.name) for entry in Path("/proc").iterdir() if entry.name.isdigit() and parent(int(entry.name)) == pid
    }


def show(name: str) -> dict[str, Any]:
    """`sharedgen show NAME --json`'s fields."""
    result = subprocess.run(
        [sys.executable, "-m", "sharedgen", "show", name, "--json"],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout)
    assert shown["name"] == name and shown["struct"] == "HttpStats"
    fields: dict[str, Any] = shown["fields"]
    return fields


def wait_until(condition: Callable[[], bool], what: str, log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"not within {timeout} s: {what}\n{log.read_text()}"
        time.sleep(0.02)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], str, str, Path]]:
    """gunicorn with the example's configuration: (master, base URL, struct name, log)."""
    name = f"test-gunicorn-{uuid.uuid4().hex[:12]}"
    log = tmp_path / "gunicorn.log"
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(2048)
    port = listener.getsockname()[1]
    command = [sys.executable, "-m", "gunicorn", "-c", str(CONF), "--bind", f"fd://{listener.fileno()}"]
    command += ["--workers", str(WORKERS), "--max-requests", str(MAX_REQUESTS), "--max-requests-jitter", str(JITTER)]
    with log.open("wb") as output:
        master = subprocess.Popen(
            command,
            cwd=REPO,
            env={**os.environ, "HTTP_STATS_NAME": name},
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            pass_fds=[listener.fileno()],
        )
    listener.close()  # gunicorn has it: connections wait in its backlog until a worker takes them
    try:
        yield master, f"http://127.0.0.1:{port}", name, log
    finally:
        if master.poll() is None:  # the test failed before stopping it
            workers = children(master.pid)
            master.send_signal(signal.SIGTERM)
            try:
                master.wait(timeout=30)
            except subprocess.TimeoutExpired:
                for pid in workers | children(master.pid):
                    os.kill(pid, signal.SIGKILL)
                master.kill()
                master.wait(timeout=30)
        for leftover in SHM.glob(f"sharedgen-{name}*"):
            leftover.unlink()


def test_gunicorn_counts_exactly_through_recycling_and_a_killed_worker(
    server: tuple[subprocess.Popen[bytes], str, str, Path],
) -> None:
    from prometheus_client.parser import text_string_to_metric_families

    from generated.http_stats import HttpStats

    master, base, name, log = server
    paths = [ROUTES[i % len(ROUTES)] for i in range(LOAD)]
    done = 0
    halfway = threading.Event()
    counting = threading.Lock()

    def count(_: Future[tuple[int, bytes]]) -> None:
        nonlocal done
        with counting:
            done += 1
            if done >= LOAD // 2:
                halfway.set()

    with ThreadPoolExecutor(max_workers=16) as pool:
        futures = [pool.submit(fetch, base + path) for path, _ in paths]
        for future in futures:
            future.add_done_callback(count)
        assert halfway.wait(timeout=120), log.read_text()
        # The victim: its first line has arrived, so its worker is inside the app, sleeping, with the
        # request counted as started and in flight; a sync worker serves nothing else meanwhile.
        victim = OPENER.open(base + "/slow?seconds=60", timeout=60)
        assert victim.readline().startswith(b"slow: ")
        pid = int(victim.headers["X-Worker-Pid"])
        assert parent(pid) == master.pid  # one of this server's workers
        os.kill(pid, signal.SIGKILL)
        with pytest.raises((http.client.IncompleteRead, ConnectionError)):
            victim.read()  # the rest never comes
        victim.close()
        answers = [future.result(timeout=120) for future in futures]

    # Every load request got its route's answer: the kill cost only the victim.
    assert [status for status, _ in answers] == [status for _, status in paths]
    statuses = [status for _, status in paths]
    started = LOAD + 1  # and the victim

    # A worker counts a request's end after sending its last byte, and the master settles the dead
    # worker after reaping it: wait (bounded) until the struct has seen all of it.
    stats = HttpStats.attach(name)  # kept to read the final counts after shutdown removed the name

    def settled(expected: int) -> bool:
        s = stats.snapshot()
        return s.started == expected and s.in_flight == 0 and s.workers_lost == 1

    wait_until(functools.partial(settled, started), "every request counted, the killed worker settled", log)
    s = stats.snapshot()
    assert (s.status_2xx, s.status_3xx, s.status_4xx, s.status_5xx) == (
        statuses.count(200),
        0,
        statuses.count(404),
        statuses.count(500),
    )
    assert s.abandoned == 1 and s.in_flight == 0 and set(s.worker_in_flight) == {0}
    assert s.started == s.status_2xx + s.status_4xx + s.status_5xx + s.abandoned == started
    assert s.latency_count == sum(s.latency_buckets) == LOAD
    assert s.latency_sum > 0
    # Each worker serves at most MAX_REQUESTS + JITTER requests before it is replaced.
    assert s.workers_started >= math.ceil(started / (MAX_REQUESTS + JITTER)) > 4 * WORKERS

    # /metrics against `sharedgen show --json`. The scrape is itself a request: it sees itself in
    # flight and started, and is counted as answered only after it. Workers may still be replaced
    # (one whose last request just ended): try again until none was across a scrape.
    for _ in range(10):
        before = show(name)
        assert before["started"] == started and before["in_flight"] == 0
        status, body = fetch(base + "/metrics")
        assert status == 200
        started += 1
        wait_until(functools.partial(settled, started), "the scrape counted", log)
        after = show(name)
        workers = ("workers_started", "workers_exited", "workers_lost")
        if all(before[field] == after[field] for field in workers):
            break
    else:
        pytest.fail(f"workers were replaced across every scrape\n{log.read_text()}")
    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(body.decode())
        for sample in family.samples
    }
    cumulative = list(itertools.accumulate(before["latency_buckets"]))
    bounds = ["0.005", "0.01", "0.025", "0.05", "0.075", "0.1", "0.25", "0.5", "0.75", "1.0"]
    bounds += ["2.5", "5.0", "7.5", "10.0", "+Inf"]
    expected: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {
        **{("http_requests_total", (("code", c),)): before[f"status_{c}"] for c in ("2xx", "3xx", "4xx", "5xx")},
        ("http_requests_started_total", ()): before["started"] + 1,
        ("http_requests_abandoned_total", ()): before["abandoned"],
        ("http_requests_in_flight", ()): before["in_flight"] + 1,
        **{
            ("http_request_duration_seconds_bucket", (("le", le),)): count
            for le, count in zip(bounds, cumulative, strict=True)
        },
        ("http_request_duration_seconds_count", ()): before["latency_count"],
        ("http_request_duration_seconds_sum", ()): before["latency_sum"],
        **{(f"gunicorn_{field}_total", ()): before[field] for field in workers},
    }
    assert samples == expected
    # And after the scrape, the struct counts it, and only it.
    grew = {field: after[field] - before[field] for field in ("started", "status_2xx", "latency_count")}
    assert grew == {"started": 1, "status_2xx": 1, "latency_count": 1}
    assert sum(after["latency_buckets"]) == sum(before["latency_buckets"]) + 1
    unchanged = ("status_3xx", "status_4xx", "status_5xx", "abandoned", "in_flight", "worker_in_flight")
    assert all(after[field] == before[field] for field in unchanged)

    # Shutdown: the master stops its workers, settles each, and removes the struct.
    master.send_signal(signal.SIGTERM)
    assert master.wait(timeout=60) == 0, log.read_text()
    assert not list(SHM.glob(f"sharedgen-{name}*"))
    s = stats.snapshot()  # still mapped here
    assert s.in_flight == 0 and s.abandoned == 1 and s.started == started
    assert s.workers_exited == s.workers_started and s.workers_lost == 1 and set(s.worker_pids) == {0}
    stats.close()
    text = log.read_text()
    assert "Traceback" not in text and "Exception" not in text, text
