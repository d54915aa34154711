"""Shared fixtures: build schemas into importable modules, and the start methods to test."""

from __future__ import annotations

import importlib
import itertools
import multiprocessing
import os
import shutil
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from sharedgen.pipeline import generate, runtime_files

REPO = Path(__file__).resolve().parent.parent
TESTS = Path(__file__).resolve().parent
START_METHODS = [m for m in ("fork", "spawn", "forkserver") if m in multiprocessing.get_all_start_methods()]

for path in (REPO, TESTS):  # generated/ and the worker functions, importable here and in spawned children
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

_counter = itertools.count()


@pytest.fixture(autouse=True, scope="session")
def private_output_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Keep the build cache of tests (and of the commands they run) out of the user's home."""
    os.environ["SHAREDGEN_CACHE_DIR"] = str(tmp_path_factory.mktemp("cache"))


@pytest.fixture(params=START_METHODS)
def ctx(request: pytest.FixtureRequest) -> multiprocessing.context.BaseContext:
    return multiprocessing.get_context(request.param)


@pytest.fixture(scope="session")
def everything(tmp_path_factory: pytest.TempPathFactory) -> ModuleType:
    """tests/schemas/everything.yaml: every type code, lock groups, timeouts."""
    return import_generated(TESTS / "schemas" / "everything.yaml", "everything", tmp_path_factory.mktemp("generated"))


def run_all(ctx: Any, target: Any, args_list: list[tuple[Any, ...]]) -> None:
    """Start a process per argument tuple, wait for all, and require that each exited cleanly."""
    run_together(ctx, [(target, args) for args in args_list])


def run_together(ctx: Any, jobs: list[tuple[Any, tuple[Any, ...]]]) -> None:
    """Start a process per (target, args), wait for all, and require that each exited cleanly."""
    processes = [ctx.Process(target=target, args=args) for target, args in jobs]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=120)
    assert [p.exitcode for p in processes] == [0] * len(processes)


def import_generated(schema: Path, name: str, folder: Path) -> ModuleType:
    """Generate ``schema`` as module ``name`` of a package of its own in ``folder`` (with the runtime
    beside it, as the CLI writes an output folder) and import it; ``folder`` joins sys.path."""
    package = folder / f"pkg_{name}"
    package.mkdir(parents=True, exist_ok=True)
    (generated,) = generate([str(schema)], out_dir=package)
    (package / f"{name}.py").write_text(generated.source, encoding="utf-8")
    write_runtime(package)
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))
    importlib.invalidate_caches()
    for loaded in [loaded for loaded in sys.modules if loaded == package.name or loaded.startswith(f"{package.name}.")]:
        del sys.modules[loaded]
    return importlib.import_module(f"{package.name}.{name}")


def write_runtime(folder: Path) -> None:
    """Write the runtime package into an output folder, as the CLI does."""
    for file in runtime_files():
        path = folder / file.relative_path
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(file.source, encoding="utf-8")


def import_output(folder: Path, name: str) -> ModuleType:
    """Import module ``name`` of an output folder as ``sharedgen build`` wrote it (the runtime beside
    it), under a package name unique in this process, whatever the folder is called."""
    package = ModuleType(f"output_{next(_counter)}")
    package.__path__ = [str(folder)]
    sys.modules[package.__name__] = package
    return importlib.import_module(f"{package.__name__}.{name}")


def build_schema(tmp_path: Path, text: str, suffix: str = ".yaml") -> ModuleType:
    """Generate and import a schema given as text, under a module name unique in this run."""
    name = f"schema_{next(_counter)}"
    schema = tmp_path / f"{name}{suffix}"
    schema.write_text(textwrap.dedent(text), encoding="utf-8")
    return import_generated(schema, name, tmp_path / "generated")


@pytest.fixture(scope="session")
def redis_port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """A real redis-server of this test session, on a free loopback port, keeping nothing on disk."""
    server = shutil.which("redis-server")
    if server is None:
        reason = "redis-server is not installed (.ci/run installs it: apt-get install redis-server)"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    folder = tmp_path_factory.mktemp("redis")
    command = [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    process = subprocess.Popen([*command, "--dir", str(folder)], stdout=subprocess.DEVNULL)
    try:
        for _ in range(200):
            with socket.socket() as attempt:
                if attempt.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.025)
        else:
            pytest.fail(f"redis-server did not start on port {port}")
        yield port
    finally:
        process.terminate()
        process.wait(timeout=10)
