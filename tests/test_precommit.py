"""The pre-commit hooks, driven by the real pre-commit against a repository of a user's."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PRE_COMMIT = [sys.executable, "-m", "pre_commit"]


def git(*args: str, cwd: Path) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


@pytest.fixture(scope="module")
def hook_source(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """This checkout as pre-commit sees a hook repository: its committed HEAD plus the working tree."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    source = tmp_path_factory.mktemp("hooks-repo")
    shutil.copytree(
        REPO,
        source,
        dirs_exist_ok=True,
        ignore=shutil.ignore_patterns(".venv", ".git", "*.egg-info", "__pycache__", ".*_cache"),
    )
    git("init", "-q", cwd=source)
    git("add", "-A", cwd=source)
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "hooks", cwd=source)
    return source, git("rev-parse", "HEAD", cwd=source).strip()


def test_build_and_check_hooks_from_another_repository(hook_source: tuple[Path, str], tmp_path: Path) -> None:
    source, rev = hook_source
    user = tmp_path / "user"
    (user / "schemas").mkdir(parents=True)
    (user / "schemas" / "jobs.yaml").write_text("structs:\n  Jobs:\n    fields:\n      done: {type: q}\n")
    (user / ".pre-commit-config.yaml").write_text(
        f"repos:\n  - repo: {source}\n    rev: {rev}\n    hooks:\n      - id: sharedgen-build\n      - id: sharedgen-check\n"
    )
    git("init", "-q", cwd=user)
    git("add", "-A", cwd=user)
    env = {**os.environ, "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home"), "SKIP": ""}

    def run_hooks() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*PRE_COMMIT, "run", "--all-files"], cwd=user, capture_output=True, text=True, env=env, timeout=900
        )

    first = run_hooks()  # generated/ is missing: build writes it, and pre-commit fails the commit
    assert first.returncode == 1, first.stdout + first.stderr
    assert "sharedgen build" in first.stdout and "wrote generated/jobs.py" in first.stdout
    assert (user / "generated" / "jobs.py").is_file()
    git("add", "-A", cwd=user)
    fresh = run_hooks()
    assert fresh.returncode == 0, fresh.stdout + fresh.stderr

    generated = user / "generated" / "jobs.py"
    generated.write_text(generated.read_text().replace("Shared struct Jobs.", "Edited by hand."))
    git("add", "-A", cwd=user)
    edited = run_hooks()
    assert edited.returncode == 1
    assert "sharedgen-build" in edited.stdout and "Failed" in edited.stdout


def test_this_repositorys_own_hooks_pass(hook_source: tuple[Path, str], tmp_path: Path) -> None:
    """black, ruff and mypy from PyPI, and sharedgen check from the environment running the tests."""
    source, _ = hook_source
    env = {
        **os.environ,
        "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home"),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
    }
    result = subprocess.run(
        [*PRE_COMMIT, "run", "--all-files"], cwd=source, capture_output=True, text=True, env=env, timeout=900
    )
    assert result.returncode == 0, result.stdout + result.stderr
    for hook in ("sharedgen check", "black", "ruff", "mypy --strict"):
        assert any(line.startswith(hook) and line.endswith("Passed") for line in result.stdout.splitlines()), hook
