"""Faults: interrupted writes, unwritable folders, symlinks, and a worker killed holding a lock."""

from __future__ import annotations

import contextlib
import io
import signal
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import sharedgen.write
import workers
from conftest import build_schema
from sharedgen.cli import main

SCHEMA = "structs:\n  Counter:\n    fields:\n      value: {type: i}\n"


def build(schemas: Path, out: Path) -> tuple[int, str]:
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(io.StringIO()):
        code = main(["build", str(schemas), "-o", str(out)])
    return code, stderr.getvalue()


def test_an_interrupted_write_leaves_the_previous_file_intact(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "counter.yaml").write_text(SCHEMA)
    out = tmp_path / "out"
    assert build(tmp_path / "counter.yaml", out)[0] == 0
    before = (out / "counter.py").read_bytes()
    (tmp_path / "counter.yaml").write_text(SCHEMA.replace("type: i", "type: q"))

    def crash(*args: object) -> None:
        raise KeyboardInterrupt  # the process is stopped between writing and renaming

    monkeypatch.setattr(sharedgen.write.os, "replace", crash)
    with pytest.raises(KeyboardInterrupt):
        build(tmp_path / "counter.yaml", out)
    assert (out / "counter.py").read_bytes() == before
    assert sorted(p.name for p in out.iterdir()) == ["counter.py", "sharedgen_runtime"]  # no temporary file left


def test_an_unwritable_output_folder_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "counter.yaml").write_text(SCHEMA)
    out = tmp_path / "out"

    def refuse(*args: object, dir: str | None = None, **kwargs: object) -> tuple[int, str]:
        raise PermissionError(13, "Permission denied", dir)

    monkeypatch.setattr(sharedgen.write.tempfile, "mkstemp", refuse)
    code, stderr = build(tmp_path / "counter.yaml", out)
    assert code == 2
    assert stderr == f"sharedgen: error: {out}: Permission denied\n"


def test_a_missing_output_folder_is_created(tmp_path: Path) -> None:
    (tmp_path / "counter.yaml").write_text(SCHEMA)
    assert build(tmp_path / "counter.yaml", tmp_path / "a" / "b" / "c")[0] == 0
    assert (tmp_path / "a" / "b" / "c" / "counter.py").is_file()


def test_a_symlinked_schema_keeps_its_own_name(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "real" / "original.yaml").write_text(SCHEMA)
    (tmp_path / "schemas").mkdir()
    (tmp_path / "schemas" / "linked.yaml").symlink_to(tmp_path / "real" / "original.yaml")
    assert build(tmp_path / "schemas", tmp_path / "out")[0] == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["linked.py", "sharedgen_runtime"]


@pytest.mark.interpreters
def test_a_worker_killed_inside_a_lock_times_the_others_out(ctx: Any, everything: ModuleType) -> None:
    guarded = everything.Guarded(ctx=ctx)
    ready = ctx.Event()
    victim = ctx.Process(target=workers.die_holding_lock, args=(guarded, "left", ready))
    victim.start()
    victim.join(timeout=60)
    assert victim.exitcode == -signal.SIGKILL
    with pytest.raises(TimeoutError, match="Guarded: lock group 'left' not acquired within 0.5 s"):
        guarded.add_a()
    with pytest.raises(TimeoutError, match="'left'"):
        guarded.snapshot()
    assert guarded.add_b(3) == 3  # the other group keeps working
    with pytest.raises(TimeoutError):
        _ = guarded.a  # reading takes the group's lock too


@pytest.mark.interpreters
def test_a_worker_killed_holding_the_shard_lock_times_the_others_out(ctx: Any, tmp_path: Path) -> None:
    """Claiming a shard, summing and setting all take the shards' lock, each within lock_timeout."""
    timed = build_schema(
        tmp_path, "structs:\n  Timed:\n    lock_timeout: 0.2\n    fields:\n      hits: {type: q, shards: 2}\n"
    )
    hits = timed.Timed(ctx=ctx)
    ready = ctx.Event()  # kept referenced: start() drops the arguments before a spawned child reads them
    victim = ctx.Process(target=workers.die_holding_shard_lock, args=(hits, "hits", ready))
    victim.start()
    victim.join(timeout=60)
    assert victim.exitcode == -signal.SIGKILL
    for touch in (lambda: hits.add_hits(1), lambda: hits.hits, lambda: setattr(hits, "hits", 3)):
        with pytest.raises(TimeoutError, match="Timed.hits: lock group 'shards' not acquired within 0.2 s"):
            touch()
