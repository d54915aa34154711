"""Hostile and random schemas: either clean errors and nothing written, or a module that is valid,
black-formatted, importable, and holds the user's text only inside string literals."""

from __future__ import annotations

import ast
import contextlib
import io
import itertools
import keyword
import multiprocessing
import re
import shutil
import sys
import types
from pathlib import Path
from typing import Any

import black
import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sharedgen.cli import main
from sharedgen.model import clean_doc
from sharedgen.render import black_mode

ERROR_LINE = re.compile(r"^.+:\d+:\d+: error: .+$")
CODES = list("cubBhHiIlLqQfd?")
_runs = itertools.count()

PIECES = list("ab \"'\\\n\t\r\x00\x07\x1b{}$#é漢😀\u2028") + ['"""', "'''", "\\N{", "\\x", "import os"]
nasty_text = st.lists(st.sampled_from(PIECES), max_size=12).map("".join)
names = st.one_of(
    st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True),
    st.sampled_from(
        ["class", "self", "ctx", "snapshot", "_x", "__init__", "int", "add_a", "a", "b", "match", "9x", "a b", ""]
    ),
)
defaults = st.one_of(
    st.none(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    nasty_text,
    st.lists(st.integers(min_value=-5, max_value=300), max_size=4),
)
fields = st.dictionaries(
    names,
    st.fixed_dictionaries(
        {"type": st.one_of(st.sampled_from(CODES), st.sampled_from(["x", "", "ii", "?!"]))},
        optional={
            "length": st.one_of(st.integers(min_value=-1, max_value=5), st.sampled_from([2**40, "3"])),
            "lock": st.one_of(st.booleans(), names),
            "default": defaults,
            "doc": nasty_text,
            "shards": st.integers(min_value=0, max_value=3),
            "tpye": st.just("i"),
        },
    ),
    min_size=0,
    max_size=3,
)
structs = st.dictionaries(
    st.one_of(st.from_regex(r"[A-Z][a-zA-Z0-9]{0,6}", fullmatch=True), names),
    st.fixed_dictionaries(
        {"fields": fields},
        optional={"doc": nasty_text, "lock_timeout": st.one_of(st.floats(-1, 10), st.just("soon"))},
    ),
    min_size=0,
    max_size=2,
)
valid_fields = st.dictionaries(
    st.from_regex(r"[a-z][a-z0-9]{0,6}", fullmatch=True),
    st.fixed_dictionaries(
        {"type": st.sampled_from(CODES)},
        optional={"lock": st.sampled_from(["g", "h", False]), "doc": nasty_text, "length": st.integers(1, 3)},
    ),
    min_size=1,
    max_size=2,
)
valid_structs = st.dictionaries(
    st.from_regex(r"[A-Z][a-z0-9]{1,6}", fullmatch=True),
    st.fixed_dictionaries({"fields": valid_fields}, optional={"doc": nasty_text, "lock_timeout": st.just(2.5)}),
    min_size=1,
    max_size=1,
)
invalid_documents = st.one_of(
    st.fixed_dictionaries({"structs": structs}),  # mostly invalid: exercises every rule
    st.sampled_from([[], "text", None, {"structs": None}]),
)
# One document in ten is built to be valid: rendering (black) costs a hundred times a rejection.
documents = st.integers(0, 9).flatmap(
    lambda draw: st.fixed_dictionaries({"structs": valid_structs}) if draw == 0 else invalid_documents
)


def _docs(document: Any) -> list[str]:
    if not isinstance(document, dict):
        return []
    found = []
    for struct in document["structs"].values():
        found += [struct["doc"]] if "doc" in struct else []
        found += [f["doc"] for f in struct["fields"].values() if "doc" in f]
    return found


@settings(
    max_examples=2000,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(document=documents)
def test_any_schema_gives_clean_errors_or_a_valid_module(tmp_path: Path, document: Any) -> None:
    run = tmp_path / f"run{next(_runs)}"
    run.mkdir()
    schema = run / "fuzzed.yaml"
    schema.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    out = run / "out"
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(io.StringIO()):
        code = main(["build", str(schema), "-o", str(out)])
    lines = stderr.getvalue().splitlines()
    event("rejected" if code == 2 else "generated")
    if code == 2:
        assert lines and all(ERROR_LINE.match(line) for line in lines[:-1]), lines
        assert lines[-1].endswith("nothing written")
        assert not out.exists()
        shutil.rmtree(run)
        return
    assert code == 0, lines  # never 3 (an internal error) and never a traceback
    source = (out / "fuzzed.py").read_text(encoding="utf-8")
    tree = ast.parse(source)
    if next(_runs) % 10 == 0:  # black is slow: check its fixed point on a tenth of the modules
        assert black.format_str(source, mode=black_mode()) == source
    docstrings = [ast.get_docstring(n) for n in ast.walk(tree) if isinstance(n, (ast.ClassDef, ast.FunctionDef))]
    for doc in _docs(document):
        if clean_doc(doc, ""):
            assert clean_doc(doc, "") in docstrings  # the text, dedented and right-stripped, and nothing else
    names_in_code = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    assert not names_in_code & set(keyword.kwlist)
    module = types.ModuleType(f"fuzzed_{run.name}")
    sys.modules[module.__name__] = module  # dataclasses look their module up
    try:
        exec(compile(tree, "fuzzed.py", "exec"), module.__dict__)
        for name in document["structs"]:
            getattr(module, name)(ctx=multiprocessing.get_context("fork")).snapshot()  # defaults fit at run time
    finally:
        del sys.modules[module.__name__]
    shutil.rmtree(run)
