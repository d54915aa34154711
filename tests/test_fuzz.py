"""Hostile and random schemas: either clean errors and nothing written, or a module that is valid,
black-formatted, importable, and holds the user's text only inside string literals."""

from __future__ import annotations

import ast
import contextlib
import decimal
import fractions
import io
import itertools
import keyword
import multiprocessing
import re
import shutil
import subprocess
import sys
import types
from pathlib import Path
from struct import calcsize
from typing import Any

import black
import numpy
import pytest
import yaml
from conftest import import_output
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
        [
            "class",
            "self",
            "cls",
            "name",
            "values",
            "count",
            "type",
            "ctx",
            "snapshot",
            "_x",
            "__init__",
            "int",
            "add_a",
            "a",
            "b",
            "match",
            "9x",
            "a b",
            "",
        ]
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
    # A field's docstring is in its struct's table, for the property the runtime makes.
    docstrings += [
        text
        for n in ast.walk(tree)
        if isinstance(n, ast.keyword) and n.arg == "docs"
        for text in ast.literal_eval(n.value).values()
    ]
    for doc in _docs(document):
        if clean_doc(doc, ""):
            assert clean_doc(doc, "") in docstrings  # the text, dedented and right-stripped, and nothing else
    names_in_code = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    assert not names_in_code & set(keyword.kwlist)
    module = import_output(out, "fuzzed")
    try:
        for name in document["structs"]:
            getattr(module, name)(ctx=multiprocessing.get_context("fork")).snapshot()  # defaults fit at run time
    finally:
        del sys.modules[module.__name__]
    shutil.rmtree(run)


# Pieces of names that generated private names are made of, or helpers are named after: names
# joined from them meet wherever a naming scheme concatenates (`A` + `b_c` and `A_b` + `c`).
NAME_PIECES = ["A", "b", "c", "C", "INT", "MIN", "batch", "Batch", "Locked", "lease", "timeout", "wait", "for_lock"]
joined_names = st.lists(st.sampled_from(NAME_PIECES), min_size=1, max_size=3).flatmap(
    lambda pieces: st.tuples(st.sampled_from(["_", "__"]), st.sampled_from(["", "_"])).map(
        lambda joints: joints[0].join(pieces) + joints[1]
    )
)
adversarial_fields = st.dictionaries(
    st.sampled_from(["x", "y", "b_c", "c", "lease", "wait", "Batch", "Locked", "INT_MIN"]),
    st.one_of(joined_names, st.sampled_from([False, "shards"])),  # a group, no lock, or a sharded counter
    min_size=1,
    max_size=4,
)
adversarial_documents = st.dictionaries(joined_names, adversarial_fields, min_size=1, max_size=3)


def top_level_definitions(tree: ast.Module) -> dict[str, set[str]]:
    """Each name the module binds at its top level (in `if` blocks too), with the statements binding it."""
    definitions: dict[str, set[str]] = {}
    statements = list(tree.body)
    while statements:
        node = statements.pop()
        names: list[str] = []
        if isinstance(node, ast.If):
            statements += node.body + node.orelse
        elif isinstance(node, (ast.ClassDef, ast.FunctionDef)):
            names = [node.name]
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [alias.asname or alias.name for alias in node.names]
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names = [n.id for target in targets for n in ast.walk(target) if isinstance(n, ast.Name)]
        for name in names:
            definitions.setdefault(name, set()).add(ast.dump(node))
    return definitions


def colliding_names(path: Path) -> list[str]:
    """Names the module defines in two different ways (the same statement twice is no collision)."""
    definitions = top_level_definitions(ast.parse(path.read_text(encoding="utf-8")))
    return sorted(name for name, statements in definitions.items() if len(statements) > 1)


def exercise_every_group(module: types.ModuleType, schema: dict[str, dict[str, Any]]) -> None:
    """Each struct's locked_ blocks, update_ methods, batch and metadata work on their own fields."""
    for cls in vars(module).values():  # Python takes a slot named twice without a word
        slots = getattr(cls, "__slots__", ()) if isinstance(cls, type) else ()
        assert len(slots) == len(set(slots)), cls
    for struct_name, fields in schema.items():
        struct = getattr(module, struct_name)(ctx=multiprocessing.get_context("fork"))
        groups: dict[str, list[str]] = {}
        for field, lock in fields.items():
            assert struct.__sharedgen_fields__[field]["lock"] == lock
            if lock == "shards":
                getattr(struct, f"add_{field}")(3)
            elif lock is not False:
                groups.setdefault(lock, []).append(field)
        for group, members in groups.items():
            with getattr(struct, f"locked_{group}")() as copy:
                for field in members:
                    setattr(copy, field, getattr(copy, field) + 1)
            getattr(struct, f"update_{group}")(**{field: getattr(struct, field) + 1 for field in members})
        if groups:
            with struct.batch() as batch:
                for field in (field for members in groups.values() for field in members):
                    getattr(batch, f"add_{field}")(1)
        assert struct.snapshot().as_dict() == {field: 0 if lock is False else 3 for field, lock in fields.items()}


def build_adversarial(folder: Path, schema: dict[str, dict[str, Any]]) -> Path:
    """Build structs of int fields, each in a lock group, without a lock (False) or sharded."""
    document = {
        "structs": {
            name: {
                "fields": {
                    field: {"type": "i", "shards": 2} if lock == "shards" else {"type": "i", "lock": lock}
                    for field, lock in fields.items()
                }
            }
            for name, fields in schema.items()
        }
    }
    schema_path = folder / "adversarial.yaml"
    schema_path.write_text(yaml.safe_dump(document), encoding="utf-8")
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(io.StringIO()):
        assert main(["build", str(schema_path), "-o", str(folder / "out")]) == 0, stderr.getvalue()
    return folder / "out" / "adversarial.py"


@settings(max_examples=40, deadline=None, derandomize=True, database=None)
@given(schema=adversarial_documents)
def test_generated_names_never_collide(tmp_path_factory: pytest.TempPathFactory, schema: dict[str, Any]) -> None:
    path = build_adversarial(tmp_path_factory.mktemp("adversarial"), schema)
    assert colliding_names(path) == []
    module = import_output(path.parent, "adversarial")
    try:
        exercise_every_group(module, schema)
    finally:
        del sys.modules[module.__name__]


# The collisions first found: a group named like the batch class, a struct name ending where
# another struct's group begins, and private classes named like the module's helpers.
COLLIDING = {
    "A": {"x": "batch", "y": "b_c", "c": "shards"},
    "A_b": {"x": "c", "y": False},
    "lease": {"x": "timeout"},
    "C": {"x": "INT_MIN"},
    "wait": {"x": "for_lock"},
    "A__": {"x": "Batch", "y": "Locked_b"},
}


def test_a_module_of_colliding_names_works_and_type_checks(tmp_path: Path) -> None:
    path = build_adversarial(tmp_path, COLLIDING)
    assert colliding_names(path) == []
    module = import_output(path.parent, "adversarial")
    try:
        exercise_every_group(module, COLLIDING)
    finally:
        del sys.modules[module.__name__]
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--no-incremental",
            "--python-version",
            "3.10",
            "--explicit-package-bases",
            "out",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,  # out/ is a package: the module imports the runtime beside it
    )
    assert result.returncode == 0, result.stdout


def test_helpers_are_never_named_like_a_struct_s_private_classes() -> None:
    """Private classes of structs are `_<Struct>_Locked_<group>` and `_<Struct>_Batch`: no helper may be."""
    golden = Path(__file__).parent / "golden" / "everything.py"
    helpers = [name for name in top_level_definitions(ast.parse(golden.read_text(encoding="utf-8"))) if name[0] == "_"]
    assert [name for name in helpers if re.search(r"_Locked_|\w_Batch$", name)] == [
        name
        for name in helpers
        if re.fullmatch(r"_(Everything|Guarded|Pair|Hits|Ledger|Labels|Reading|Image)_(Locked_\w+|Batch)", name)
    ]


class Index:
    """An integer by __index__ alone (as numpy's), or one whose __index__ raises."""

    def __init__(self, value: int | None) -> None:
        self.value = value

    def __index__(self) -> int:
        if self.value is None:
            raise TypeError("no integer here")
        return self.value


class ClaimsToBe:
    """A proxy (as wrapt's) whose __class__ is its target's, which isinstance() believes."""

    def __init__(self, target: bool | float) -> None:
        self.target = target

    @property  # type: ignore[misc]
    def __class__(self) -> type:
        return type(self.target)

    def __bool__(self) -> bool:
        return bool(self.target)

    def __float__(self) -> float:
        return float(self.target)


update_values = st.one_of(
    st.none(),
    st.integers(min_value=-(2**65), max_value=2**65),
    st.sampled_from([-(2**63), 2**63 - 1, 2**63, -(2**63) - 1, 2**64 - 1, 2**64, -1, 0, 127, 128, -129, 2**32]),
    st.booleans(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.builds(Index, st.one_of(st.none(), st.integers(min_value=-(2**64), max_value=2**64))),
    st.sampled_from(["1", b"1", 1j, [1]]),
)


def fitting(code: str) -> st.SearchStrategy[Any]:
    """Values a field of this type code takes."""
    if code == "?":
        return st.booleans()
    if code == "d":
        return st.floats()
    bits = 8 * calcsize(code)
    if code.islower():
        return st.integers(min_value=-(2 ** (bits - 1)), max_value=2 ** (bits - 1) - 1)
    return st.integers(min_value=0, max_value=2**bits - 1)


# update_<group>() writes in one step where a group's numbers sit side by side (Pair's pair,
# Reading's default), field by field elsewhere (Guarded's left, split by a field of another group).
UPDATED_GROUPS = [("Pair", "pair"), ("Reading", "default"), ("Guarded", "left")]
ODD_VALUES = [
    *(-(2**63) - 1, 2**63, 2**64, -129, 128, 256, -1, 2**32, 2**70),
    *(True, 1.0, 1.5, float("nan"), float("-inf"), 1e300),
    *(Index(3), Index(2**70), Index(None), decimal.Decimal("1.5"), fractions.Fraction(1, 2)),
    *(ClaimsToBe(True), ClaimsToBe(2.5)),
    *(numpy.int64(5), numpy.float64(2.5), numpy.bool_(True), numpy.array([1, 2])),
    *("1", b"1", 1j, [1], object()),
]


def assert_update_as_setters(kind: type, group: str, values: dict[str, Any]) -> str:
    """update_<group>(**values) on one struct, the same values given to the setters one by one on
    another: the same values stored, or the same error with nothing changed."""
    updated, expected = kind(), kind()
    before = updated.snapshot()
    try:
        for name, value in values.items():
            if value is not None:
                setattr(expected, name, value)
    except Exception as refusal:  # the first value a setter refuses: update refuses it alike
        with pytest.raises(type(refusal)) as raised:
            getattr(updated, f"update_{group}")(**values)
        assert str(raised.value) == str(refusal)
        assert updated.snapshot() == before
        return "refused"
    getattr(updated, f"update_{group}")(**values)
    assert repr(updated.snapshot()) == repr(expected.snapshot())  # types too, and NaN
    return "written"


def group_fields(kind: type, group: str) -> dict[str, str]:
    return {name: spec["type"] for name, spec in kind.__sharedgen_fields__.items() if spec["lock"] == group}


@pytest.mark.parametrize(("kind", "group"), UPDATED_GROUPS)
def test_update_takes_and_refuses_odd_values_as_the_setters_do(
    everything: types.ModuleType, kind: str, group: str
) -> None:
    """Each odd value in each field, the others fitting."""
    struct_class = getattr(everything, kind)
    codes = group_fields(struct_class, group)
    fitting_values = {"?": False, "d": 0.25}
    for name in codes:
        for odd in ODD_VALUES:
            values = {other: fitting_values.get(code, 7) for other, code in codes.items()}
            assert_update_as_setters(struct_class, group, {**values, name: odd})


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_update_takes_and_refuses_what_the_setters_do(everything: types.ModuleType, data: Any) -> None:
    """Random values, fitting or not, in up to two fields at once."""
    kind, group = data.draw(st.sampled_from(UPDATED_GROUPS))
    struct_class = getattr(everything, kind)
    codes = group_fields(struct_class, group)
    values = {name: data.draw(fitting(code), label=name) for name, code in codes.items()}
    for name in data.draw(st.sets(st.sampled_from(sorted(codes)), max_size=2), label="replaced"):
        values[name] = data.draw(update_values, label=name)  # anything, or None: the field is kept
    event(f"{kind}: {assert_update_as_setters(struct_class, group, values)}")
