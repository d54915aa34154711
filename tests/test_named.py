"""Named structs: attached by name from unrelated processes (fresh interpreters, not only children).

Processes here are started with subprocess, as gunicorn workers, cron jobs and monitors start;
every wait is bounded, and no test asserts on time.
"""

from __future__ import annotations

import json
import os
import pickle
import re
import signal
import struct
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import workers
from conftest import REPO, import_generated, run_all

from generated.counter import Counter
from generated.worker_stats import WorkerStats

pytestmark = [
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="named structs are Linux only"),
    pytest.mark.interpreters,
]
SHM = Path("/dev/shm")


@pytest.fixture
def name() -> Iterator[str]:
    """A fresh name, removed after the test whatever happened."""
    fresh = f"test-{uuid.uuid4().hex[:12]}"
    yield fresh
    for leftover in SHM.glob(f"sharedgen-{fresh}*"):
        leftover.unlink()


def python(code: str, *, path: Path = REPO, timeout: float = 120, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter that imports generated modules from ``path``."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(path), str(REPO / "tests")])}
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env=env,
        cwd=path,
        timeout=timeout,
        **kwargs,
    )


def sharedgen(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sharedgen", *args], capture_output=True, text=True, cwd=REPO, timeout=120
    )


def test_create_attach_and_every_member(name: str) -> None:
    with WorkerStats.create(name, processed=3) as stats:
        assert stats.name == name and stats.processed == 3
        assert (SHM / f"sharedgen-{name}").stat().st_mode & 0o777 == 0o600
        other = WorkerStats.attach(name)
        assert other.add_processed(2) == 5 and stats.processed == 5
        assert stats.exchange_failed(4) == 0 and other.compare_and_set_failed(4, 6) and stats.failed == 6
        stats.update_progress(processed=10, failed=1)
        with other.locked_progress() as group:
            group.processed += 1
            group.failed += 1
        with stats.batch() as batch:
            batch.add_processed(5)
        other.state = b"R"
        other.stop = True
        assert stats.snapshot() == (16, 2, 0.0, b"R", True)
        assert repr(other) == "WorkerStats(processed=16, failed=2, elapsed=0.0, state=b'R', stop=True)"
        with pytest.raises(OverflowError):
            stats.processed = 2**31
        assert other.processed == 16
        other.close()
        with pytest.raises(ValueError, match=f"named struct '{name}' is closed"):
            _ = other.processed  # closed: this process's view is gone
        with pytest.raises(ValueError, match="is closed"):
            other.add_processed()
        other.close()  # again: nothing to do
        assert repr(other) == f"<WorkerStats '{name}', closed>" and other.name == name
        with pytest.raises(AttributeError, match="no attribute 'nope'"):
            _ = stats.nope  # type: ignore[attr-defined]
        assert stats.processed == 16  # another view of the same block is not
        with pytest.raises(FileExistsError, match=name):
            WorkerStats.create(name)
        assert WorkerStats.open(name, processed=99).processed == 16  # attached, not created
        stats.unlink()
        assert not (SHM / f"sharedgen-{name}").exists()
        assert stats.add_processed() == 17  # unlinked: still mapped here
    with pytest.raises(FileNotFoundError, match=name):
        WorkerStats.attach(name)


def test_arrays_strings_and_shards_of_a_named_struct(everything: ModuleType, name: str) -> None:
    e = everything.Everything.create(name, ints=[7, 8, 9], title="héllo")
    assert (e.ints, e.title, e.label, e.u, e.Q) == ([7, 8, 9], "héllo", b"abc", "é", 2**64 - 1)
    e.add_ints(-1, 5)
    assert everything.Everything.attach(name).snapshot().ints == (7, 8, 14)
    hits = everything.Hits.create(name + "-hits", seconds=2.0)
    hits.add_hits(3)
    assert everything.Hits.attach(name + "-hits").snapshot()[:2] == (3, 2.0)
    e.unlink()
    hits.unlink()


def test_a_named_struct_pickles_as_its_name(name: str) -> None:
    counter = Counter.create(name, value=1)
    copy = pickle.loads(pickle.dumps(counter))
    assert copy.name == name and copy.add_value() == 2 and counter.value == 2
    counter.unlink()


@pytest.mark.parametrize("method", ["fork", "spawn", "forkserver"])
def test_a_named_struct_travels_by_any_route(name: str, method: str) -> None:
    import multiprocessing

    ctx = multiprocessing.get_context(method)
    counter = Counter.create(name)
    with ctx.Pool(2) as pool:  # Pool.map arguments: a route anonymous structs refuse
        assert sorted(pool.map(workers.add_and_read, [(counter, 100)] * 4))[-1] == 400
    queue = ctx.Queue()
    queue.put(counter)
    assert queue.get(timeout=60).value == 400
    queue.close()
    queue.join_thread()  # no feeder thread alive when run_all forks (3.12+ warns of that)
    run_all(ctx, workers.add_many, [(counter, 100)] * 2)
    assert counter.value == 600
    counter.unlink()


def test_exact_totals_from_four_unrelated_processes(name: str) -> None:
    Counter.create(name)
    code = f"""
        from generated.counter import Counter
        counter = Counter.attach({name!r})
        for _ in range(5000):
            counter.add_value()
        with counter.batch() as batch:
            for _ in range(5000):
                batch.add_value()
    """
    processes = [subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)], cwd=REPO) for _ in range(4)]
    assert [p.wait(timeout=120) for p in processes] == [0] * 4
    assert Counter.attach(name).value == 4 * 10_000
    Counter.attach(name).unlink()


def test_open_from_many_processes_at_once_makes_one_struct(name: str) -> None:
    code = f"""
        from generated.counter import Counter
        counter = Counter.open({name!r}, value=1000)
        print(counter.add_value())
    """
    processes = [
        subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)], cwd=REPO, stdout=subprocess.PIPE, text=True)
        for _ in range(12)
    ]
    outputs = [p.communicate(timeout=120)[0] for p in processes]
    assert [p.returncode for p in processes] == [0] * 12
    assert sorted(int(out) for out in outputs) == list(range(1001, 1013))  # one struct, every add seen once
    Counter.attach(name).unlink()


def test_snapshots_never_see_a_transfer_half_done(everything: ModuleType, name: str) -> None:
    pair = everything.Pair.create(name)
    package = Path(everything.__file__).parent
    mover = f"""
        from {package.name}.everything import Pair
        pair = Pair.attach({name!r})
        for i in range(3000):
            with pair.locked_pair() as group:
                group.a -= 1
                group.b += 1
            with pair.batch() as batch:  # a batch lands its group whole too
                batch.add_a(1)
                batch.add_b(-1)
    """
    watcher = f"""
        from {package.name}.everything import Pair
        pair = Pair.attach({name!r})
        torn = sum(1 for _ in range(3000) if sum(pair.snapshot()[:2]) != 1000)
        print(torn)
    """
    env = {**os.environ, "PYTHONPATH": str(package.parent)}
    movers = [subprocess.Popen([sys.executable, "-c", textwrap.dedent(mover)], env=env) for _ in range(2)]
    watchers = [
        subprocess.Popen([sys.executable, "-c", textwrap.dedent(watcher)], env=env, stdout=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    assert [w.communicate(timeout=120)[0].strip() for w in watchers] == ["0", "0"]
    assert [m.wait(timeout=120) for m in movers] == [0, 0]
    assert pair.a + pair.b == 1000
    pair.unlink()


@pytest.mark.parametrize(
    "write",
    [
        "with pair.locked_pair() as group:\n    group.a -= 7\n    group.b += 7",
        "a = random.randint(0, 1000)\npair.update_pair(a=a, b=1000 - a)",  # all of a packed group
    ],
    ids=["block", "update"],
)
def test_a_holder_killed_inside_a_group_write_never_hangs_or_tears_it(
    everything: ModuleType, name: str, write: str
) -> None:
    """SIGKILL a process in the middle of a group write, again and again: the next one takes the
    lock over and finishes or drops the write whole; no lock_timeout is needed (Pair has none)."""
    pair = everything.Pair.create(name)
    package = Path(everything.__file__).parent
    victim = f"""
        import random
        from {package.name}.everything import Pair
        pair = Pair.attach({name!r})
        print("ready", flush=True)
        while True:
{textwrap.indent(write, " " * 12)}
    """
    env = {**os.environ, "PYTHONPATH": str(package.parent)}
    for _ in range(15):
        process = subprocess.Popen(
            [sys.executable, "-c", textwrap.dedent(victim)], env=env, stdout=subprocess.PIPE, text=True
        )
        assert process.stdout is not None and process.stdout.readline() == "ready\n"
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=60)
        snap = pair.snapshot()  # takes the lock over if the victim died holding it
        assert snap.a + snap.b == 1000, snap
        pair.update_pair(a=500, b=500)
    pair.unlink()


def test_a_packed_group_update_cut_short_by_death_is_finished_by_the_next_holder(
    everything: ModuleType, name: str
) -> None:
    """update_<group>() of every field of a group of numbers stages them in one copy: a writer
    killed half-way through copying them to the block leaves the write for the next holder."""
    pair = everything.Pair.create(name)
    package = Path(everything.__file__).parent
    victim = f"""
        import os, signal
        from {package.name}.everything import Pair
        pair = Pair.attach({name!r})

        def copy_half_then_die(staged):
            _, target, saved, *_ = staged[0]
            target[: len(target) // 2] = saved[: len(target) // 2]
            os.kill(os.getpid(), signal.SIGKILL)

        type(pair._journals[0])._copy = staticmethod(copy_half_then_die)
        pair.update_pair(a=1, b=999)
    """
    env = {**os.environ, "PYTHONPATH": str(package.parent)}
    process = subprocess.run([sys.executable, "-c", textwrap.dedent(victim)], env=env, timeout=60)
    assert process.returncode == -signal.SIGKILL
    assert (pair._raw_a.value, pair._raw_b.value) == (1, 500)  # killed part-way through a
    assert pair.snapshot()[:2] == (1, 999)  # taken over: the write finished first
    pair.unlink()


def test_an_update_interrupted_before_its_copy_is_dropped_and_never_replayed(
    everything: ModuleType, name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Ctrl-C between staging a packed update and copying it: the update raises and changes
    nothing, and a later write cut short by a SIGKILL is finished alone, not with it."""
    pair = everything.Pair.create(name)
    package = Path(everything.__file__).parent
    victim = f"""
        import os, signal, sys
        from {package.name}.everything import Pair
        pair = Pair.attach({name!r})
        with pair.locked_pair():  # a process that has held the lock (a first take finishes
            pass  # what an earlier holder left)
        print("ready", flush=True)
        sys.stdin.readline()

        def copy_half_then_die(staged):
            _, target, saved, *_ = staged[0]
            target[: len(target) // 2] = saved[: len(target) // 2]
            os.kill(os.getpid(), signal.SIGKILL)

        type(pair._journals[0])._copy = staticmethod(copy_half_then_die)
        pair.update_pair(a=2)  # a alone
    """
    env = {**os.environ, "PYTHONPATH": str(package.parent)}
    process = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(victim)],
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None and process.stdout.readline() == "ready\n"

    def interrupted(self: Any, staged: Any) -> None:
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr(type(pair._journals[0]), "_apply", interrupted)
        with pytest.raises(KeyboardInterrupt):
            pair.update_pair(a=1, b=999)
    assert pair.snapshot()[:2] == (500, 500)
    process.communicate("go\n", timeout=60)
    assert process.returncode == -signal.SIGKILL
    assert pair.snapshot()[:2] == (2, 500)  # b not replayed from the interrupted update
    pair.unlink()


def test_an_interrupt_while_taking_over_finishes_the_write_and_lets_the_lock_go(
    everything: ModuleType, name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Ctrl-C while this process finishes a dead writer's update (the takeover): the acquire
    raises, the update is finished all the same, and the lock is not left held."""
    pair = everything.Pair.create(name)
    package = Path(everything.__file__).parent
    victim = f"""
        import os, signal
        from {package.name}.everything import Pair
        pair = Pair.attach({name!r})
        type(pair._journals[0])._copy = staticmethod(lambda staged: os.kill(os.getpid(), signal.SIGKILL))
        pair.update_pair(a=1, b=999)
    """
    env = {**os.environ, "PYTHONPATH": str(package.parent)}
    process = subprocess.run([sys.executable, "-c", textwrap.dedent(victim)], env=env, timeout=60)
    assert process.returncode == -signal.SIGKILL
    journal = type(pair._journals[0])
    copy = journal._copy

    def copy_one_then_interrupt(staged: Any) -> None:
        monkeypatch.setattr(journal, "_copy", staticmethod(copy))
        copy(staged[:1])
        raise KeyboardInterrupt

    monkeypatch.setattr(journal, "_copy", staticmethod(copy_one_then_interrupt))
    with pytest.raises(KeyboardInterrupt):
        pair.add_a(0)  # takes the lock over
    taken: list[bool] = []

    def take_and_let_go() -> None:
        lock = pair.get_lock("pair")
        taken.append(lock.acquire(timeout=5))
        if taken[0]:
            lock.release()

    other = threading.Thread(target=take_and_let_go)
    other.start()
    other.join()
    assert taken == [True]  # not held by this thread's failed acquire
    assert pair.snapshot()[:2] == (1, 999)
    pair.unlink()


BULK_SCHEMA = """
structs:
  Bulk:
    max_shared_bytes: 4194304
    fields:
      items: {type: I, length: 131072, lock: data}
      text: {type: u, length: 16384, lock: data}
"""


@pytest.mark.parametrize("write", ["setter", "exchange"])
def test_a_writer_killed_in_a_lone_array_or_string_write_never_leaves_it_mixed(
    tmp_path: Path, name: str, write: str
) -> None:
    """A named struct's array and string are stored in many steps: SIGKILL a process assigning
    them, again and again, and the next reader sees one whole value, never items of two writes.
    The string is journaled; the array, too big for a journal, carries a write generation: cut
    short, it raises TornArrayError until it is assigned whole."""
    (tmp_path / "bulk.yaml").write_text(BULK_SCHEMA)
    bulk = import_generated(tmp_path / "bulk.yaml", "bulk", tmp_path / "out")
    shared = bulk.Bulk.create(name)
    package = Path(bulk.__file__).parent
    assign = {
        "setter": "shared.items = items; shared.text = text",
        "exchange": "shared.exchange_text(text); shared.items = items",
    }[write]
    victim = f"""
        from {package.name}.bulk import Bulk
        shared = Bulk.attach({name!r})
        n = 0
        while True:
            n = n % 7 + 1
            items, text = [n] * 131072, chr(ord("a") + n) * 16384
            {assign}
            if n == 1:
                print("ready", flush=True)  # a first write is whole: kills land in later ones
    """
    env = {**os.environ, "PYTHONPATH": str(package.parent)}
    seen, torn = set(), 0
    for kill in range(20):
        process = subprocess.Popen(
            [sys.executable, "-c", textwrap.dedent(victim)], env=env, stdout=subprocess.PIPE, text=True
        )
        assert process.stdout is not None and process.stdout.readline() == "ready\n"
        time.sleep(0.003 * kill)  # a different moment of the loop each time
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=60)
        text = shared.text  # takes the lock over if the victim died holding it
        try:
            items = shared.items
        except torn_error(bulk):
            torn += 1
            shared.items = items = [0] * 131072  # a whole write repairs it
        assert len(set(items)) == 1, (kill, sorted(set(items)))
        assert len(set(text)) <= 1, (kill, sorted(set(text)))
        seen.add(items[0])
    assert len(seen) > 1 or torn  # the kills landed in different writes
    shared.unlink()


def torn_error(module: Any) -> Any:
    return sys.modules[module.__name__.rpartition(".")[0] + ".sharedgen_runtime"].TornArrayError


def test_an_unfinished_block_makes_attachers_give_up(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A creator that died before publishing the header leaves a block attachers wait for, then refuse."""
    import generated.sharedgen_runtime as runtime
    import generated.sharedgen_runtime._named as named

    (SHM / f"sharedgen-{name}").write_bytes(bytes(4096))
    monkeypatch.setattr(named, "READY_TIMEOUT", 0.2)
    with pytest.raises(runtime.NamedStructError, match="never finished"):
        Counter.attach(name)
    with pytest.raises(runtime.NamedStructError, match="never finished"):
        Counter.open(name)
    listed = {item["name"]: item for item in json.loads(sharedgen("ls", "--json").stdout)}
    assert "is not finished" in listed[name]["error"] and f"sharedgen rm {name}" in listed[name]["error"]


def _description_text(data: bytearray) -> bytes:
    """A block's JSON description: after the 64-byte header, as long as the header says."""
    (length,) = struct.unpack_from("=I", data, 12)
    return bytes(data[64 : 64 + length])


def _damage(path: Path, how: str) -> None:
    data = bytearray(path.read_bytes())
    if how == "not ours":
        data[:8] = b"NOTOURS!"
    elif how == "truncated":
        data = data[: len(data) // 2]
    elif how == "format":
        struct.pack_into("=I", data, 8, 99)
    elif how == "description":
        data[64:80] = b"\xff" * 16
    elif how == "abi":
        text = _description_text(data)
        description = json.loads(text)
        description["abi"] = "linux-sparc-musl-32bit"
        new = json.dumps(description, separators=(",", ":")).encode()
        assert len(new) <= len(text)
        data[64 : 64 + len(text)] = new.ljust(len(text))
    path.write_bytes(bytes(data))


@pytest.mark.parametrize(
    ("how", "message"),
    [
        ("not ours", "not a sharedgen struct"),
        ("truncated", "damaged"),
        ("format", "block format 99"),
        ("description", "damaged"),
        ("abi", "made on platform linux-sparc-musl-32bit"),
    ],
)
def test_bad_blocks_are_refused_with_what_differs(name: str, how: str, message: str) -> None:
    import generated.sharedgen_runtime as runtime

    Counter.create(name, value=5).close()
    _damage(SHM / f"sharedgen-{name}", how)
    with pytest.raises(runtime.NamedStructError, match=message) as refused:
        Counter.attach(name)
    assert isinstance(refused.value, ValueError)
    if how == "format":  # a block of another version of sharedgen: the way out
        assert f"(sharedgen rm {name}) and create it again" in str(refused.value)
    result = sharedgen("show", name)
    assert result.returncode == 2 and message in result.stderr


def _describe_otherwise(path: Path, change: Any) -> None:
    """Rewrite a block's description with ``change(description)`` applied."""
    data = bytearray(path.read_bytes())
    text = _description_text(data)
    description = json.loads(text)
    change(description)
    new = json.dumps(description, separators=(",", ":")).encode()
    assert len(new) <= len(text)
    data[64 : 64 + len(text)] = new.ljust(len(text))
    path.write_bytes(bytes(data))


def test_anything_under_a_struct_s_name_is_listed_never_crashes_or_hangs_the_tools(name: str) -> None:
    """/dev/shm is anyone's: a FIFO, a link, a folder, descriptions of the wrong shape."""
    os.mkfifo(SHM / f"sharedgen-{name}-fifo")
    (SHM / f"sharedgen-{name}-link").symlink_to(SHM / f"sharedgen-{name}-nowhere")
    (SHM / f"sharedgen-{name}-folder").mkdir()
    shapes = {
        "nostruct": lambda d: d.pop("struct"),
        "creator": lambda d: d.update(creator="me"),
        "timeout": lambda d: d.update(lock_timeout="5"),
    }
    for suffix, change in shapes.items():
        Counter.create(f"{name}-{suffix}").close()
        _describe_otherwise(SHM / f"sharedgen-{name}-{suffix}", change)
    try:
        listing = sharedgen("ls", "--json")
        assert listing.returncode == 0, listing.stderr
        listed = {item["name"]: item for item in json.loads(listing.stdout)}
        for suffix in ["fifo", "link", "folder", *shapes]:
            assert listed[f"{name}-{suffix}"]["struct"] is None and listed[f"{name}-{suffix}"]["error"]
            shown = sharedgen("show", f"{name}-{suffix}")
            assert shown.returncode == 2, (suffix, shown.stderr)
        assert "not a file" in listed[f"{name}-fifo"]["error"]
        assert "description does not parse" in listed[f"{name}-timeout"]["error"]
    finally:
        (SHM / f"sharedgen-{name}-folder").rmdir()


def test_a_process_of_another_pid_namespace_is_refused(name: str) -> None:
    """Containers sharing /dev/shm but not their pids: both could be pid 1 and hold one lock at once."""
    if subprocess.run(["unshare", "-p", "-f", "true"], capture_output=True).returncode != 0:
        pytest.skip("unshare cannot make a pid namespace here")
    Counter.create(name, value=1)
    code = f"from generated.counter import Counter; Counter.attach({name!r})"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    other = subprocess.run(
        ["unshare", "-p", "-f", "--mount-proc", sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=120,
    )
    assert other.returncode == 1 and "another pid namespace" in other.stderr, other.stderr
    assert Counter.attach(name).add_value() == 2  # this namespace's processes attach as before


def test_another_layout_of_the_same_struct_is_refused(tmp_path: Path, name: str) -> None:
    """A rolling deploy: a worker with stale generated code meets the block of the new schema."""
    old = tmp_path / "old"
    (old / "schemas").mkdir(parents=True)
    (old / "pyproject.toml").write_text("")
    (old / "schemas" / "counter.yaml").write_text("structs:\n  Counter:\n    fields:\n      value: {type: q}\n")
    subprocess.run([sys.executable, "-m", "sharedgen", "build", "-q"], cwd=old, check=True)
    Counter.create(name, value=1)
    result = python(
        f"""
        from generated.counter import Counter
        Counter.attach({name!r})
        """,
        path=old,
    )
    assert "NamedStructError" in result.stderr
    assert (
        "another layout of Counter" in result.stderr
        and "field 'value' type 'i' in the block, 'q' here" in result.stderr
    )
    with pytest.raises(ValueError, match="holds struct 'Counter', not WorkerStats"):
        WorkerStats.attach(name)
    Counter.attach(name).unlink()


def test_names_the_platform_refuses_are_value_errors() -> None:
    for bad in ("", "a/b", "nul\0", "x" * 300, ".."):
        with pytest.raises(ValueError):
            Counter.create(bad)


def test_other_users_are_refused_and_mode_widens(name: str) -> None:
    if os.geteuid() != 0:
        pytest.skip("dropping to another user needs root")
    Counter.create(name, value=1)
    Counter.create(name + "-shared", value=2, mode=0o666)
    # Imported first: this interpreter's files are root's to read.
    as_nobody = f"""
        import os, json, hashlib, mmap
        from generated.counter import Counter
        import generated.sharedgen_runtime as runtime
        runtime.platform_abi()
        os.setgid(65534)
        os.setuid(65534)
        try:
            Counter.attach({name!r})
        except PermissionError:
            print("refused")
        print(Counter.attach({name + "-shared"!r}).add_value())
    """
    result = python(as_nobody)
    assert result.stdout.split() == ["refused", "3"], result.stderr
    Counter.attach(name).unlink()
    Counter.attach(name + "-shared").unlink()


def test_a_process_that_only_attached_leaves_the_name_and_warns_of_nothing(name: str) -> None:
    Counter.create(name, value=1)
    for method in ("spawn", "fork", "forkserver"):
        result = python(f"""
            import multiprocessing
            from generated.counter import Counter
            from workers import add_many
            counter = Counter.attach({name!r})
            ctx = multiprocessing.get_context({method!r})
            child = ctx.Process(target=add_many, args=(counter, 10))
            child.start()
            child.join()
            print(counter.value)
            """)
        assert result.returncode == 0 and result.stderr == "", result.stderr
    assert (SHM / f"sharedgen-{name}").exists()  # neither the attachers nor their children unlinked it
    created = python(f"from generated.counter import Counter\nCounter.create({name + '-2'!r})")
    assert created.returncode == 0 and created.stderr == ""
    assert (SHM / f"sharedgen-{name}-2").exists()  # nor its creator's exit
    assert Counter.attach(name).value == 31


def test_shards_stay_exact_with_many_short_lived_processes(everything: ModuleType, name: str) -> None:
    hits = everything.Hits.create(name)
    package = Path(everything.__file__).parent
    env = {**os.environ, "PYTHONPATH": str(package.parent)}
    code = f"from {package.name}.everything import Hits\nHits.attach({name!r}).add_hits(3)"
    for _ in range(10):
        batch = [subprocess.Popen([sys.executable, "-c", code], env=env) for _ in range(20)]
        assert [p.wait(timeout=120) for p in batch] == [0] * 20
    assert hits.hits == 200 * 3
    assert (SHM / f"sharedgen-{name}").stat().st_size == os.path.getsize(SHM / f"sharedgen-{name}")
    hits.unlink()


def test_the_command_line_lists_shows_and_removes(name: str) -> None:
    stats = WorkerStats.create(name, processed=4)
    stats.state = b"R"
    listed = json.loads(sharedgen("ls", "--json").stdout)
    (mine,) = [item for item in listed if item["name"] == name]
    assert mine["struct"] == "WorkerStats" and mine["creator_pid"] == os.getpid() and mine["creator_alive"]
    assert f"{name}\tWorkerStats\t" in sharedgen("ls").stdout
    shown = json.loads(sharedgen("show", name, "--json").stdout)
    assert shown == {
        "name": name,
        "struct": "WorkerStats",
        "locked": True,
        "fields": {"processed": 4, "failed": 0, "elapsed": 0.0, "state": "R", "stop": False},
    }
    text = sharedgen("show", name)
    assert text.returncode == 0 and "  processed = 4" in text.stdout
    assert sharedgen("show", name + "-none").returncode == 1
    assert sharedgen("rm", name).returncode == 0
    assert sharedgen("rm", name).returncode == 1
    assert stats.add_processed() == 5  # still mapped here


def test_rm_takes_several_names_and_removes_every_one_there(name: str) -> None:
    for suffix in ("a", "b"):
        Counter.create(f"{name}-{suffix}")
    removed = sharedgen("rm", f"{name}-a", f"{name}-none", f"{name}-b")
    assert removed.returncode == 1  # one was not there
    assert removed.stderr == f"sharedgen: no named struct '{name}-none'\n"
    assert not list(SHM.glob(f"sharedgen-{name}-*"))
    # A name no struct can have is said so, and does not stop the others being removed (exit 2).
    Counter.create(f"{name}-c")
    refused = sharedgen("rm", "a/b", "..", f"{name}-c")
    assert refused.returncode == 2 and not list(SHM.glob(f"sharedgen-{name}-*"))
    assert refused.stderr.splitlines() == [
        "sharedgen: a named struct's name cannot be '.' or '..', nor contain '/' or NUL: 'a/b'",
        "sharedgen: a named struct's name cannot be '.' or '..', nor contain '/' or NUL: '..'",
    ]


def test_show_says_what_it_waits_for_and_can_give_up_or_read_without_locks(name: str) -> None:
    """An operator looks when a worker is stuck: inside a locked block, here."""
    stats = WorkerStats.create(name, processed=3)
    with stats.locked_progress() as group:
        group.processed = 9  # not written until the block ends
        gave_up = sharedgen("show", name, "--timeout", "1.5")
        assert gave_up.returncode == 4 and gave_up.stdout == ""
        assert gave_up.stderr.splitlines() == [
            f"sharedgen: {name}: waiting for lock group 'progress', which another process holds"
            " (--timeout SECONDS gives up; --unlocked reads without the locks)",
            f"sharedgen: {name}: lock group 'progress' still held by another process after 1.5 s"
            " (--unlocked reads without the locks)",
        ]
        quick = sharedgen("show", name, "--timeout", "0.2", "--json")
        assert quick.returncode == 4 and "still held by another process after 0.2 s" in quick.stderr
        unlocked = sharedgen("show", name, "--unlocked", "--json")
        assert unlocked.returncode == 0, unlocked.stderr
        shown = json.loads(unlocked.stdout)
        assert shown["locked"] is False and shown["fields"]["processed"] == 3
        text = sharedgen("show", name, "--unlocked").stdout
        assert text.startswith(f"{name}: WorkerStats (read without its locks: a write under way may show half done)\n")
        waiting = subprocess.Popen(
            [sys.executable, "-m", "sharedgen", "show", name, "--json"],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert waiting.stderr is not None and "waiting for lock group 'progress'" in waiting.stderr.readline()
    out, _ = waiting.communicate(timeout=60)  # the block ended: it reads
    assert waiting.returncode == 0 and json.loads(out)["fields"]["processed"] == 9
    stats.unlink()


def test_show_watch_prints_again_until_interrupted(name: str) -> None:
    Counter.create(name, value=1)
    process = subprocess.Popen(
        [sys.executable, "-m", "sharedgen", "show", name, "--watch", "0.05"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    lines = [process.stdout.readline() for _ in range(6)]
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=60) == 0
    # Plain lines when piped: each reading says when it was taken, a blank line after it.
    stamp = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d"
    for head, value, blank in (lines[:3], lines[3:]):
        assert re.fullmatch(f"{re.escape(name)}: Counter at {stamp}\n", head) and (value, blank) == (
            "  value = 1\n",
            "\n",
        )
    watched = subprocess.Popen(
        [sys.executable, "-m", "sharedgen", "show", name, "--watch", "0.05", "--json"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert watched.stdout is not None
    readings = [json.loads(watched.stdout.readline()) for _ in range(2)]  # one JSON object a line
    watched.send_signal(signal.SIGINT)
    assert watched.wait(timeout=60) == 0
    assert [r["fields"] for r in readings] == [{"value": 1}] * 2 and all(
        re.fullmatch(stamp, r["time"]) for r in readings
    )
    # A reader that goes away ends the watch quietly; intervals and timeouts are numbers of seconds.
    piped = subprocess.run(
        f"{sys.executable} -m sharedgen show {name} --watch 0.05 | head -n 2",
        shell=True,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert piped.returncode == 0 and piped.stderr == "" and len(piped.stdout.splitlines()) == 2
    for bad in (["--watch", "0"], ["--watch", "nan"], ["--timeout", "-1"], ["--timeout", "inf"]):
        refused = sharedgen("show", name, *bad)
        assert refused.returncode == 2 and "is not a number of seconds" in refused.stderr, bad
    Counter.attach(name).unlink()


def test_a_shard_whose_owner_is_gone_or_a_zombie_is_taken_again(everything: ModuleType, name: str) -> None:
    """Hits.hits has 2 shards: one to own, the last shared. A zombie still answers kill(pid, 0);
    its start time (gone from /proc/PID/stat's state) tells it is no owner any more."""
    hits = everything.Hits.create(name)
    package = Path(everything.__file__).parent
    env = {**os.environ, "PYTHONPATH": str(package.parent)}
    adder = f"""
        import os, sys
        from {package.name}.everything import Hits
        hits = Hits.attach({name!r})
        hits.add_hits(5)
        print(os.getpid(), flush=True)
        sys.stdin.readline()  # stay alive until told
    """

    def start() -> tuple[subprocess.Popen[str], int]:
        process = subprocess.Popen(
            [sys.executable, "-c", textwrap.dedent(adder)],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert process.stdout is not None
        return process, int(process.stdout.readline())

    first, first_pid = start()
    assert hits._shardowners_hits[0] == first_pid  # the one shard to own is the first one's
    second, _ = start()
    assert hits._shardowners_hits[0] == first_pid  # its owner lives: the second shares the last
    assert first.stdin is not None
    first.stdin.close()  # the first exits; not waited for, it stays a zombie
    deadline_reads = 0
    while Path(f"/proc/{first_pid}/stat").read_text().split(")")[-1].split()[0] != "Z":
        deadline_reads += 1
        assert deadline_reads < 100_000
    third, third_pid = start()
    assert hits._shardowners_hits[0] == third_pid  # the zombie's shard, taken again
    assert hits.hits == 15  # what the zombie added stays in the total
    for process in (first, second, third):
        if process.stdin and not process.stdin.closed:
            process.stdin.close()
        assert process.wait(timeout=60) == 0
    hits.unlink()
