"""The documentation cannot rot silently: the site builds in strict mode and every example in it runs.

Every page of docs/ and README.md is one test, run in a temporary folder of its own:

1. The folder starts with the repository's schemas/ and their generated/ (built once per session),
   unless the page runs a plain ``sharedgen build`` itself: then it starts from its own files
   alone, as a reader does. Every schema block of the page (a yaml, toml or json block whose data
   has ``structs``) with a title (``title="schemas/NAME.yaml"``) is written there and built, so the
   page's code imports ``generated.NAME``; one titled elsewhere (``bad/job.yaml``) is only written,
   for the page's shell blocks (an invalid schema shown with its errors). Schema blocks without a title are built on their own, to
   check them. Other yaml / toml / json blocks must parse; those with a title are written as files too.
2. Then its python and shell blocks run in page order, with the folder as the current directory and
   on ``PYTHONPATH``, and the venv's ``bin`` first on ``PATH`` (``python``, ``sharedgen``):
   - an untitled python block is a program, run as a file (so that ``spawn`` children can import it);
     a block marked ``continue`` is joined to the program before it;
   - a python block with ``title="NAME.py"`` is a file: it is written, and a shell block of the page
     must run it;
   - a shell block (sh, bash, console) runs with ``bash -e -o pipefail``;
   - each must exit 0; an ``output`` block right after it is what it must print (stdout and, for
     shell blocks, stderr), where a line ``...`` stands for any lines and ``...`` in a line for any text.
3. A block that must not run carries ``<!-- docs-test: skip: REASON -->`` on a line just above its fence.

CONTRIBUTING.md tells authors the same.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

try:
    import tomllib
except ImportError:  # Python 3.10 (this module is collected there too, by .ci/run's other interpreters)
    import tomli as tomllib  # type: ignore[no-redef]

REPO = Path(__file__).resolve().parent.parent
PAGES = sorted((REPO / "docs").rglob("*.md")) + [REPO / "README.md"]
BIN = Path(sys.executable).parent

FENCE = re.compile(
    r"^(?P<indent>[ ]*)(?P<fence>```+)(?P<info>[^`\n]*)\n(?P<body>.*?)^(?P=indent)(?P=fence)[ ]*$", re.M | re.S
)
MARKER = re.compile(r"<!--\s*docs-test:\s*(?P<what>skip|continue)\b(?P<why>[^>]*)-->")
SHELLS = {"sh", "bash", "console", "shell"}
DATA = {"yaml", "yml", "toml", "json"}
KNOWN = SHELLS | DATA | {"python", "output", "text", "ini", ""}


@dataclass
class Block:
    page: Path
    line: int
    lang: str
    title: str | None
    body: str
    markers: dict[str, str]
    output: Block | None = None
    parts: list[Block] = field(default_factory=list)

    @property
    def where(self) -> str:
        page = self.page.relative_to(REPO) if self.page.is_relative_to(REPO) else self.page
        return f"{page}:{self.line}"


def blocks_of(page: Path) -> list[Block]:
    """The page's fenced blocks, each with the markers on the comment lines just above it."""
    text = page.read_text()
    found: list[Block] = []
    for match in FENCE.finditer(text):
        info = match["info"].strip()
        lang = info.split()[0] if info else ""
        title = re.search(r'title="([^"]*)"', info)
        above = text[: match.start()].splitlines()
        markers = {}
        while above and (not above[-1].strip() or above[-1].strip().startswith("<!--")):
            for marker in MARKER.finditer(above.pop()):
                markers[marker["what"]] = marker["why"].strip(" :")
        body = "\n".join(line[len(match["indent"]) :] for line in match["body"].splitlines()) + "\n"
        line = text.count("\n", 0, match.start()) + 1
        found.append(Block(page, line, lang, title[1] if title else None, body, markers))
    return found


def parse_data(block: Block) -> object:
    lang = block.lang
    if lang in ("yaml", "yml"):
        return yaml.safe_load(block.body)
    if lang == "toml":
        return tomllib.loads(block.body)
    return json.loads(block.body)


def expected_pattern(output: str) -> re.Pattern[str]:
    """An output block as a regular expression: a line ``...`` is any lines, ``...`` in a line any text."""
    parts = []
    for line in output.rstrip("\n").splitlines():
        if line.strip() == "...":
            parts.append(r"(?:[^\n]*\n)*?")
        else:
            parts.append(".*?".join(re.escape(piece) for piece in line.rstrip().split("...")) + r"[ \t]*\n")
    return re.compile("".join(parts) + r"\Z", re.S)


def check_output(block: Block, printed: str) -> None:
    if block.output is None:
        return
    printed = printed if printed.endswith("\n") or not printed else printed + "\n"
    pattern = expected_pattern(block.output.body)
    assert pattern.match(printed), (
        f"{block.where}: the output differs from the block at {block.output.where}\n"
        f"--- shown\n{block.output.body}--- printed\n{printed}"
    )


def plan(page: Path) -> tuple[list[Block], list[Block], list[Block]]:
    """The page's (data blocks, programs and shell blocks in page order, python files)."""
    data, steps, files = [], [], []
    previous: Block | None = None
    for block in blocks_of(page):
        assert block.lang in KNOWN, f"{block.where}: unknown block language {block.lang!r}"
        if "skip" in block.markers:
            assert block.markers["skip"], f"{block.where}: a skip marker says why"
            previous = None
            continue
        if block.lang == "output":
            assert (
                previous is not None and previous.output is None
            ), f"{block.where}: an output block follows the python or shell block whose output it is"
            previous.output = block
            previous = None
            continue
        previous = None
        if block.lang in DATA:
            data.append(block)
        elif block.lang == "python" and block.title:
            files.append(block)
        elif block.lang == "python" and "continue" in block.markers:
            programs = [step for step in steps if step.lang == "python"]
            assert programs, f"{block.where}: a 'continue' block continues a program above it"
            programs[-1].parts.append(block)
            previous = block
        elif block.lang == "python":
            block.parts.append(block)
            steps.append(block)
            previous = block
        elif block.lang in SHELLS:
            steps.append(block)
            previous = block
    return data, steps, files


def run(command: list[str], cwd: Path, env: dict[str, str], where: str, merge: bool) -> str:
    try:
        result = subprocess.run(
            command,
            cwd=cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT if merge else subprocess.PIPE,  # a shell's lines in the order shown
            text=True,
            timeout=90,
        )
    except subprocess.TimeoutExpired as error:
        raise AssertionError(f"{where}: did not finish in 90 s") from error
    assert result.returncode == 0, f"{where}: exit {result.returncode}\n{result.stdout}{result.stderr or ''}"
    return result.stdout


def named_blocks() -> set[str]:
    try:
        return {entry.name for entry in os.scandir("/dev/shm") if entry.name.startswith("sharedgen-")}
    except FileNotFoundError:
        return set()


@pytest.fixture(scope="session")
def repository_build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The repository's schemas/ and their generated/, built once, for the pages to start from."""
    folder = tmp_path_factory.mktemp("docs-schemas")
    shutil.copytree(REPO / "schemas", folder / "schemas")
    run(
        [str(BIN / "sharedgen"), "build", "schemas", "-q", "-o", "generated"],
        folder,
        dict(os.environ),
        "schemas/",
        True,
    )
    return folder


@pytest.mark.parametrize("page", PAGES, ids=lambda page: str(page.relative_to(REPO)))
def test_page_examples_run_as_shown(
    page: Path, tmp_path: Path, request: pytest.FixtureRequest, repository_build: Path
) -> None:
    extra = {}
    if "REDIS_URL" in page.read_text():  # its examples read the server's address from REDIS_URL
        extra["REDIS_URL"] = f"redis://127.0.0.1:{request.getfixturevalue('redis_port')}/0"
    run_page(page, tmp_path, repository_build, extra)


def run_page(page: Path, tmp_path: Path, base: Path, extra: dict[str, str] | None = None) -> None:
    """Build the page's schemas and run its examples in tmp_path, checking what they print."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    data, steps, files = plan(page)
    path = os.pathsep.join([str(tmp_path), *filter(None, [os.environ.get("PYTHONPATH")])])
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", "PYTHONPATH": path, **(extra or {})}
    env["NO_COLOR"] = "1"
    # A page that runs a plain `sharedgen build` (of schemas/) itself starts, as a reader does, from its files alone.
    plain_build = re.compile(r"\bsharedgen build(?=[ \t]*(?:$|[-#|;&]))", re.M)
    builds_itself = any(step.lang in SHELLS and plain_build.search(step.body) for step in steps)
    if not builds_itself and steps:  # the repository's structs, already built
        shutil.copytree(base / "schemas", tmp_path / "schemas")
        shutil.copytree(base / "generated", tmp_path / "generated")
    own_schemas = []
    untitled = tmp_path / ".untitled"
    for number, block in enumerate(data):
        try:
            parsed = parse_data(block)
        except Exception as error:
            raise AssertionError(f"{block.where}: the {block.lang} block does not parse: {error}") from error
        is_schema = isinstance(parsed, dict) and "structs" in parsed
        if is_schema and not block.title:
            (untitled / f"block{number}").mkdir(parents=True)
            path = untitled / f"block{number}" / f"block{number}.{block.lang}"
            path.write_text(block.body)
            run(
                [str(BIN / "sharedgen"), "build", str(path), "-q", "-o", str(path.parent / "out")],
                tmp_path,
                env,
                block.where,
                merge=True,
            )
        elif block.title:
            (tmp_path / block.title).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / block.title).write_text(block.body)
            if is_schema and block.title.startswith("schemas/"):  # elsewhere: for the page's shell blocks
                own_schemas.append(block.title)
    for block in files:
        (tmp_path / block.title).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / block.title).write_text(block.body)
    if own_schemas and not builds_itself:
        run([str(BIN / "sharedgen"), "build", *own_schemas, "-q", "-o", "generated"], tmp_path, env, page.name, True)

    ran = " ".join(step.body for step in steps if step.lang in SHELLS)
    for block in files:
        assert block.title in ran, f"{block.where}: no shell block of the page runs {block.title}"
    before = named_blocks()
    try:
        for number, step in enumerate(steps):
            if step.lang == "python":
                run_program(step, tmp_path, env, number)
            else:
                script = tmp_path / f"example_{number}.sh"
                script.write_text(step.body)
                printed = run(["bash", "-e", "-o", "pipefail", script.name], tmp_path, env, step.where, merge=True)
                check_output(step, printed)
    finally:
        text = page.read_text()
        for leftover in named_blocks() - before:  # only the page's own: names it mentions
            if leftover.removeprefix("sharedgen-") in text:
                os.unlink(f"/dev/shm/{leftover}")


def run_program(step: Block, tmp_path: Path, env: dict[str, str], number: int) -> None:
    """A program, in one block or several: each block's output block shows what that block prints."""
    program = tmp_path / f"example_{number}.py"
    separator = "\x1esharedgen-docs-part\x1e"
    joined = f"\nprint({separator!r}, flush=True)\n".join(part.body for part in step.parts)
    program.write_text(joined)
    printed = run([sys.executable, program.name], tmp_path, env, step.where, merge=False)
    shares = printed.split(separator + "\n")
    assert len(shares) == len(step.parts), f"{step.where}: the program printed its parts out of order"
    for part, share in zip(step.parts, shares, strict=True):
        check_output(part, share)


def test_the_checker_fails_a_broken_example(tmp_path: Path, repository_build: Path) -> None:
    """The page test catches an example whose output or code no longer matches."""
    cases = {
        "no schema of that name": "```python\nimport generated.nothing\n```\n",
        "wrong output": "```python\nprint(1 + 1)\n```\n\n```output\n3\n```\n",
        "raises": "```python\nfrom generated.counter import Counter\nCounter().value = 2**40\n```\n",
        "bad schema": '```yaml title="schemas/bad.yaml"\nstructs:\n  Bad:\n    fields:\n      x: {type: z}\n```\n',
        "shell fails": "```sh\nsharedgen check no-such-folder\n```\n",
    }
    for name, text in cases.items():
        folder = tmp_path / name.replace(" ", "_")
        folder.mkdir()
        page = folder / "page.md"
        page.write_text(text)
        with pytest.raises(AssertionError):
            run_page(page, folder / "run", repository_build)
    good = tmp_path / "good.md"
    good.write_text(cases["wrong output"].replace("3\n", "2\n"))
    run_page(good, tmp_path / "good", repository_build)


def test_output_patterns() -> None:
    pattern = expected_pattern("start\n...\nvalue: ...\nend\n")
    assert pattern.match("start\na\nb\nvalue: 42\nend\n")
    assert pattern.match("start\nvalue: 42\nend\n")
    assert not pattern.match("start\nvalue: 42\nend\nmore\n")
    assert not pattern.match("begin\nvalue: 42\nend\n")


def test_site_builds_strictly(tmp_path: Path) -> None:
    """mkdocs build --strict: every warning (a broken link or anchor, a page not in the nav) fails."""
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=REPO,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "site" / "index.html").exists()


@pytest.mark.parametrize("page", ["README.md", "CONTRIBUTING.md"])
def test_relative_links_of_top_level_pages_exist(page: str) -> None:
    """mkdocs checks the site's links; these two pages live outside it."""
    text = re.sub(r"`[^`\n]*`", "", (REPO / page).read_text())  # links shown as code are not links
    links = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text)
    local = [link for link in links if "://" not in link and not link.startswith("mailto:")]
    missing = [link for link in local if not (REPO / link).exists()]
    assert not missing, f"{page} links to files that do not exist: {missing}"
