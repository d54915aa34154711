"""The package as users get it: `pip install .` into a fresh venv, used outside the repository."""

from __future__ import annotations

import shutil
import subprocess
import venv
from pathlib import Path

import pytest
from sharedgen.pipeline import runtime_files

REPO = Path(__file__).resolve().parent.parent


def run(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([str(a) for a in args], cwd=cwd, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with sharedgen installed from this checkout (not editable)."""
    env = tmp_path_factory.mktemp("venv")
    venv.create(env, with_pip=True)
    run(env / "bin" / "python", "-m", "pip", "install", "--quiet", "--disable-pip-version-check", REPO, cwd=env)
    return env


def test_installed_cli_builds_schemas_outside_the_repository(installed: Path, tmp_path: Path) -> None:
    (tmp_path / "schemas").mkdir()
    (tmp_path / "schemas" / "jobs.yaml").write_text(
        "structs:\n  Jobs:\n    fields:\n      done: {type: q, lock: work}\n      name: {type: u, length: 8}\n"
    )
    result = run(installed / "bin" / "sharedgen", "build", cwd=tmp_path)
    runtime = "".join(f"wrote generated/{file.relative_path}\n" for file in runtime_files())
    assert result.stdout == "wrote generated/jobs.py\n" + runtime
    run(installed / "bin" / "sharedgen", "check", cwd=tmp_path)
    # The templates were installed inside the package, not read from this checkout.
    where = run(installed / "bin" / "python", "-c", "import sharedgen.templates as t; print(t.__file__)", cwd=tmp_path)
    assert str(installed) in where.stdout


def test_generated_module_runs_where_no_third_party_package_exists(tmp_path: Path) -> None:
    bare = tmp_path / "bare"
    venv.create(bare, with_pip=False)
    script = (
        "import multiprocessing as mp, sys\n"
        "sys.path.insert(0, '.')  # -I leaves the script's folder out\n"
        "from generated.worker_stats import WorkerStats\n"
        "def work(s):\n"
        "    for _ in range(100):\n"
        "        s.add_processed()\n"
        "if __name__ == '__main__':\n"
        "    ctx = mp.get_context('spawn')\n"
        "    s = WorkerStats(ctx=ctx)\n"
        "    ps = [ctx.Process(target=work, args=(s,)) for _ in range(2)]\n"
        "    [p.start() for p in ps]; [p.join() for p in ps]\n"
        "    print(s.processed, sorted(m for m in sys.modules if m.split('.')[0] in ('pydantic', 'jinja2', 'black', 'yaml', 'sharedgen')))\n"
    )
    (tmp_path / "use.py").write_text(script)
    # The output folder, shipped without sharedgen.
    shutil.copytree(REPO / "generated" / "sharedgen_runtime", tmp_path / "generated" / "sharedgen_runtime")
    shutil.copy(REPO / "generated" / "worker_stats.py", tmp_path / "generated")
    result = run(bare / "bin" / "python", "-I", "use.py", cwd=tmp_path)
    assert result.stdout == "200 []\n"
