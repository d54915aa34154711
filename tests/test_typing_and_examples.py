"""Generated code is typed (mypy --strict), and the examples run as documented."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import START_METHODS, write_runtime

REPO = Path(__file__).resolve().parent.parent


def golden_package(tmp_path: Path) -> Path:
    """tests/golden/everything.py in a package of its own, with the runtime beside it."""
    package = tmp_path / "golden"
    package.mkdir()
    shutil.copy(REPO / "tests" / "golden" / "everything.py", package)
    write_runtime(package)
    return package / "everything.py"


def mypy_strict(cwd: Path, *targets: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", "--python-version", "3.10"]
        + ["--explicit-package-bases", *targets],
        capture_output=True,
        text=True,
        cwd=cwd,
    )


def test_generated_modules_pass_mypy_strict(tmp_path: Path) -> None:
    generated = mypy_strict(REPO, *sorted(str(p.relative_to(REPO)) for p in (REPO / "generated").rglob("*.py")))
    assert generated.returncode == 0, generated.stdout
    golden_package(tmp_path)
    golden = mypy_strict(tmp_path, "golden")
    assert golden.returncode == 0, golden.stdout


def test_generated_modules_import_only_the_standard_library() -> None:
    for path in (REPO / "generated").rglob("*.py"):
        modules = set()
        for line in path.read_text().splitlines():
            if line.startswith("from .") and path.parent.name == "sharedgen_runtime":
                continue  # the runtime's own modules
            if line.startswith(("from . import ", "from .sharedgen_runtime import ")):
                assert "sharedgen_runtime" in line  # the one package beside it
            elif line.startswith(("import ", "from ")):
                modules.add(line.split()[1].split(".")[0])
        assert modules <= set(sys.stdlib_module_names), (path, modules - set(sys.stdlib_module_names))


def run_counter_example(*options: str) -> None:
    """Run examples/counter.py and check its output, line by line, as the classic counter prints it."""
    result = subprocess.run(
        [sys.executable, str(REPO / "examples" / "counter.py"), *options],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 9, result.stdout
    assert lines[0] == "--- Processing Started (Initial Value: 0) ---"
    assert sum(line.endswith("] Started") for line in lines) == 2, result.stdout
    assert sum(line.endswith("] Finished") for line in lines) == 2, result.stdout
    assert lines[-4:] == [
        "--- All Processes Finished ---",
        "Final Counter Value: 100",
        "Expected Value: 100",
        ">> Success: Data was updated without conflicts.",
    ]


@pytest.mark.interpreters
@pytest.mark.parametrize("method", START_METHODS)
def test_counter_example(method: str) -> None:
    run_counter_example("--start-method", method)


def test_counter_example_on_redis(redis_port: int) -> None:
    pytest.importorskip("redis", reason="redis-py is not installed (pip install 'sharedgen[redis]')")
    run_counter_example("--start-method", "spawn", "--redis", f"redis://127.0.0.1:{redis_port}/0")


@pytest.mark.interpreters
def test_readme_api_example_runs_as_shown(tmp_path: Path) -> None:
    readme = (REPO / "README.md").read_text()
    blocks = [block.split("```", 1)[0] for block in readme.split("```python\n")[1:]]
    (example,) = [block for block in blocks if "__main__" in block]  # the generated-API example
    (tmp_path / "example.py").write_text(example)
    result = subprocess.run(
        [sys.executable, str(tmp_path / "example.py")],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("WorkerStatsSnapshot(processed=3996, failed=4, ")


def run_mypy(*files: Path, version: str = "3.10") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", "--python-version", version, *map(str, files)],
        capture_output=True,
        text=True,
        cwd=REPO,
    )


def test_correct_use_type_checks() -> None:
    result = run_mypy(REPO / "tests" / "typing" / "usage.py")
    assert result.returncode == 0, result.stdout


def test_misuse_is_caught_statically() -> None:
    misuse = REPO / "tests" / "typing" / "misuse.py"
    expected = {n for n, line in enumerate(misuse.read_text().splitlines(), 1) if line.endswith("# error")}
    result = run_mypy(misuse)
    reported = {int(line.split(":")[1]) for line in result.stdout.splitlines() if ": error:" in line}
    assert reported == expected, result.stdout


def test_the_generator_itself_passes_mypy_strict(tmp_path: Path) -> None:
    # generator/ is installed as the package `sharedgen`: give mypy that name through a link.
    (tmp_path / "sharedgen").symlink_to(REPO / "generator")
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", "-p", "sharedgen"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "MYPYPATH": str(tmp_path)},
    )
    assert result.returncode == 0, result.stdout


def run_pyright(tmp_path: Path, *files: Path, version: str = "3.10") -> subprocess.CompletedProcess[str]:
    """pyright in strict mode, as a user's editor would run it, on ``files``."""
    config = {
        "typeCheckingMode": "strict",
        "pythonVersion": version,
        "extraPaths": [str(REPO), str(tmp_path)],
    }
    (tmp_path / "pyrightconfig.json").write_text(json.dumps(config))
    pyright = Path(sys.executable).with_name("pyright")
    return subprocess.run(
        [str(pyright), "--project", str(tmp_path / "pyrightconfig.json"), *map(str, files)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=600,
    )


def test_generated_modules_and_their_use_pass_pyright_strict(tmp_path: Path) -> None:
    targets = sorted((REPO / "generated").glob("*.py")) + [
        golden_package(tmp_path),
        REPO / "tests" / "typing" / "usage.py",
    ]
    result = run_pyright(tmp_path, *targets)
    assert result.returncode == 0, result.stdout
    assert "0 errors, 0 warnings" in result.stdout


def test_pyright_also_catches_each_misuse(tmp_path: Path) -> None:
    misuse = REPO / "tests" / "typing" / "misuse.py"
    expected = {n for n, line in enumerate(misuse.read_text().splitlines(), 1) if line.endswith("# error")}
    result = run_pyright(tmp_path, misuse)
    reported = {int(line.split(":")[1]) for line in result.stdout.splitlines() if " - error: " in line}
    assert reported == expected, result.stdout


def test_numpy_scalars_type_check_where_the_fields_take_them(tmp_path: Path) -> None:
    pytest.importorskip("numpy")
    checked = REPO / "tests" / "typing" / "numpy_scalars.py"
    expected = {n for n, line in enumerate(checked.read_text().splitlines(), 1) if line.endswith("# error")}
    version = "{}.{}".format(*sys.version_info[:2])
    by_mypy = run_mypy(checked, version=version)
    assert {
        int(line.split(":")[1]) for line in by_mypy.stdout.splitlines() if ": error:" in line
    } == expected, by_mypy.stdout
    by_pyright = run_pyright(tmp_path, checked, version=version)
    reported = {int(line.split(":")[1]) for line in by_pyright.stdout.splitlines() if " - error: " in line}
    assert reported == expected, by_pyright.stdout
