"""Stages 3 and 4 alone: the view-model's decisions, safe literals, golden output."""

from __future__ import annotations

import ast
import builtins
import inspect
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import sharedgen
from sharedgen import render
from sharedgen.errors import InternalError
from sharedgen.model import Storage, build_module, clean_doc
from sharedgen.pipeline import generate, runtime_files
from sharedgen.render import RUNTIME_PACKAGE, black_mode
from sharedgen.spec import CLASS_SCOPE_BUILTINS, SchemaFile

TESTS = Path(__file__).resolve().parent
GOLDEN = TESTS / "golden"


def schema(fields: dict[str, object], **struct: object) -> SchemaFile:
    return SchemaFile.model_validate({"structs": {"S": {"fields": fields, **struct}}})


def test_method_sets_per_field_kind() -> None:
    module = build_module(
        schema(
            {
                "n": {"type": "q"},
                "r": {"type": "f"},
                "flag": {"type": "?"},
                "ch": {"type": "c"},
                "text": {"type": "u", "length": 4},
                "nums": {"type": "d", "length": 3},
                "bits": {"type": "?", "length": 3},
                "free": {"type": "i", "lock": False},
            }
        ),
        source_path="s.yaml",
        source_hash="0" * 64,
    )
    # exchange and compare_and_set come together: has_exchange stands for both.
    methods = {f.name: (f.has_add, f.has_exchange, f.storage) for f in module.structs[0].fields}
    assert methods == {
        "n": (True, True, Storage.SCALAR),
        "r": (True, True, Storage.SCALAR),
        "flag": (False, True, Storage.SCALAR),
        "ch": (False, True, Storage.SCALAR),
        "text": (False, True, Storage.STRING),
        "nums": (True, False, Storage.ARRAY),
        "bits": (False, False, Storage.ARRAY),
        "free": (False, False, Storage.SCALAR),
    }


def test_groups_in_order_of_first_use_and_unlocked_fields_outside() -> None:
    struct = build_module(
        schema(
            {
                "a": {"type": "i", "lock": "z"},
                "b": {"type": "i"},
                "c": {"type": "i", "lock": "z"},
                "d": {"type": "i", "lock": False},
            }
        ),
        source_path="s.yaml",
        source_hash="0" * 64,
    ).structs[0]
    assert [(g.name, [f.name for f in g.fields]) for g in struct.groups] == [("z", ["a", "c"]), ("default", ["b"])]
    assert struct.has_default_group


@pytest.mark.parametrize(
    "text",
    [
        'plain "quoted" text',
        'ends with a quote"',
        "triple \"\"\" quotes and ''' too",
        "back\\slash\\",
        "line one\nline two\n\n  indented",
        "control \x00 \x07 \r \t \x1b chars",
        "unicode é 漢字 \u2028 separator \U0001f600",
        "\\N{BULLET} looks like an escape",
        '"""',
        'ends with "',
        "ends with \\",
        "   leading spaces, trailing spaces   ",
        "\na\n\ta",  # a blank first line, then lines indented more than the first kept one
        "\n  first\n      second\n    third",
    ],
)
def test_docstrings_hold_any_text_exactly(text: str) -> None:
    cleaned = clean_doc(text, "fallback")  # what the view-model hands the template
    literal = render.docstring(cleaned, 4)
    source = render.format_source([f"def f():\n    {literal}\n"], "doc")  # as black leaves it
    tree = ast.parse(source)
    assert ast.get_docstring(tree.body[0]) == cleaned  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "value", [0, -5, 2**64 - 1, 1.5, -0.0, 1e300, True, b"\x00\xff'\"", "é\n'\"", [1, 2], (1.0,), ()]
)
def test_literals_round_trip(value: object) -> None:
    assert ast.literal_eval(render.literal(value)) == value


def test_literal_refuses_what_is_not_data() -> None:
    with pytest.raises(InternalError):
        render.literal(object())


def test_comment_text_cannot_end_the_line() -> None:
    assert "\n" not in render.comment("schemas/evil\nimport os\r.yaml")


def test_unparsable_render_is_an_internal_error_with_the_text_saved() -> None:
    with pytest.raises(InternalError, match="does not parse") as info:
        render.format_source(["def broken(:\n"], "broken")
    saved = Path(str(info.value).rsplit("text saved to ", 1)[1])
    assert saved.read_text() == "def broken(:\n"
    saved.unlink()


@pytest.mark.parametrize("name", ["everything"])
def test_golden_output(name: str) -> None:
    """Generated code is reviewed like code: a change to it shows in this file's diff.

    Regenerate with SHAREDGEN_UPDATE_GOLDEN=1 after an intended change.
    """
    (module,) = generate([str(TESTS / "schemas" / f"{name}.yaml")])
    golden = GOLDEN / f"{name}.py"
    if os.environ.get("SHAREDGEN_UPDATE_GOLDEN"):
        golden.write_text(module.source, encoding="utf-8")
    assert module.source == golden.read_text(encoding="utf-8")


SCHEMAS = sorted((TESTS.parent / "schemas").glob("*.yaml")) + sorted((TESTS / "schemas").glob("*.yaml"))
SCHEMAS += sorted((TESTS.parent / "benchmarks" / "schemas").glob("*.yaml"))


@pytest.mark.parametrize("schema", SCHEMAS, ids=lambda path: path.name)
def test_parts_formatted_alone_give_what_black_gives_for_the_whole_module(schema: Path) -> None:
    import black

    (module,) = generate([str(schema)])
    assert black.format_str(module.source, mode=render.black_mode()) == module.source


def test_user_text_reaches_code_only_as_string_literals(tmp_path: Path) -> None:
    evil = 'x"""; import os; os.system("boom") #\n\'\'\' \\'
    path = tmp_path / "evil.yaml"
    path.write_text(
        f"structs:\n  S:\n    redis: true\n    doc: {json.dumps(evil)}\n    fields:\n      x: {{type: u, length: 40, doc: {json.dumps(evil)}}}\n"
    )
    (module,) = generate([str(path)])
    tree = ast.parse(module.source)
    assert not any(isinstance(node, ast.Import) and node.names[0].asname is None for node in ast.walk(tree))
    assert not any(isinstance(node, ast.Attribute) and node.attr == "system" for node in ast.walk(tree))
    docs = [ast.get_docstring(node) for node in ast.walk(tree) if isinstance(node, (ast.ClassDef, ast.FunctionDef))]
    assert sum(d == inspect.cleandoc(evil) for d in docs) == 1  # the class's
    # The field's, for the property the runtime makes (the struct's and its twin's), is in the table.
    tables = [node.value for node in ast.walk(tree) if isinstance(node, ast.keyword) and node.arg == "docs"]
    assert [ast.literal_eval(table) for table in tables] == [{"x": inspect.cleandoc(evil)}]


def _class_scope_names(node: ast.ClassDef) -> set[str]:
    """Names a class body evaluates itself: decorators, annotations, defaults and class-level values."""
    evaluated: list[ast.AST] = []
    for member in node.body:
        if isinstance(member, (ast.FunctionDef, ast.AsyncFunctionDef)):
            args = member.args
            # `@x.setter` names the property x just made, whatever x is called (a field `type`).
            decorators = [
                d
                for d in member.decorator_list
                if not (isinstance(d, ast.Attribute) and isinstance(d.value, ast.Name) and d.value.id == member.name)
            ]
            evaluated += decorators + args.defaults + [d for d in args.kw_defaults if d]
            evaluated += [a.annotation for a in args.args + args.kwonlyargs + args.posonlyargs if a.annotation]
            evaluated += [member.returns] if member.returns else []
        elif isinstance(member, ast.AnnAssign):
            evaluated += [member.annotation] + ([member.value] if member.value else [])
        elif isinstance(member, ast.Assign):
            evaluated.append(member.value)
    return {n.id for expr in evaluated for n in ast.walk(expr) if isinstance(n, ast.Name)}


def test_field_names_cannot_shadow_a_builtin_the_class_bodies_use() -> None:
    """A field becomes a property and a parameter; the builtins class bodies evaluate must stay reachable."""
    tree = ast.parse((GOLDEN / "everything.py").read_text())
    used = set().union(*(_class_scope_names(c) for c in tree.body if isinstance(c, ast.ClassDef)))
    builtin_names = used & set(dir(builtins))
    assert builtin_names and builtin_names <= CLASS_SCOPE_BUILTINS, builtin_names - CLASS_SCOPE_BUILTINS


def test_a_struct_gets_its_redis_twin_only_when_it_asks(tmp_path: Path) -> None:
    path = tmp_path / "mixed.yaml"
    path.write_text(
        "structs:\n  Local:\n    fields: {x: {type: i}}\n  Shared:\n    redis: true\n    fields: {x: {type: i}}\n"
    )
    (mixed,) = generate([str(path)])
    tree = ast.parse(mixed.source)
    classes = {node.name: node for node in tree.body if isinstance(node, ast.ClassDef)}
    methods = {name: {m.name for m in node.body if isinstance(m, ast.FunctionDef)} for name, node in classes.items()}
    assert "SharedOnRedis" in classes and "on_redis" in methods["Shared"]
    assert "LocalOnRedis" not in classes and "on_redis" not in methods["Local"]
    (exports,) = [
        node.value
        for node in tree.body
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "__all__"
    ]
    assert ast.literal_eval(exports) == ["Local", "LocalSnapshot", "Shared", "SharedSnapshot", "SharedOnRedis"]

    # Two lock groups: the module's helpers wait for a busy lock among several, as the twins wait for a lease.
    path.write_text(
        "structs:\n  Local:\n    redis: false\n    fields: {x: {type: i, lock: a}, y: {type: i, lock: b}}\n"
    )
    (alone,) = generate([str(path)])
    for twin_code in ("OnRedis", "on_redis", "_RedisStruct", "_RedisField", "_LUA_", "_from_int"):
        assert twin_code not in alone.source, twin_code
    assert not _undefined_names(alone.source)


def _undefined_names(source: str) -> set[str]:
    """Names the code reads that nothing in it binds and that are not builtins."""
    bound = set(dir(builtins))
    read = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Name):
            (read if isinstance(node.ctx, ast.Load) else bound).add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, ast.alias):
            bound.add(node.asname or node.name.split(".")[0])
        elif isinstance(node, ast.ExceptHandler) and node.name:
            bound.add(node.name)
    return read - bound


def test_the_golden_module_has_twins_only_for_the_structs_that_ask() -> None:
    source = (GOLDEN / "everything.py").read_text()
    for name in ("Everything", "Guarded", "Pair", "Hits"):
        assert f"class {name}OnRedis(" in source, name
    assert "LedgerOnRedis" not in source


def test_the_runtime_is_written_as_it_is_in_the_package_in_black_s_form() -> None:
    import black

    files = runtime_files()
    assert [file.relative_path for file in files] == [
        f"sharedgen_runtime/{path.name}"
        for path in sorted(RUNTIME_PACKAGE.glob("*.py"), key=lambda p: (p.stem != "__init__", p.name))
    ]
    for file, path in zip(files, (RUNTIME_PACKAGE / f"{f.module_name.split('.')[1]}.py" for f in files), strict=True):
        source = path.read_text(encoding="utf-8")
        header, body = file.source.split("\n", 1)
        assert body == source and black.format_str(source, mode=black_mode()) == source, path
        assert header.startswith(
            f"# Code generated by sharedgen {sharedgen.__version__} from sharedgen/runtime/{path.name} (sha256:"
        )


def test_a_module_refuses_a_runtime_of_another_version(tmp_path: Path) -> None:
    package = tmp_path / "mixed"
    package.mkdir()
    (package / "counter.py").write_text((TESTS.parent / "generated" / "counter.py").read_text(encoding="utf-8"))
    shutil.copytree(TESTS.parent / "generated" / "sharedgen_runtime", package / "sharedgen_runtime")
    init = package / "sharedgen_runtime" / "__init__.py"
    init.write_text(init.read_text().replace(f'VERSION = "{sharedgen.__version__}"', 'VERSION = "0.0.1"'))
    result = subprocess.run(
        [sys.executable, "-c", "import mixed.counter"], capture_output=True, text=True, cwd=tmp_path, timeout=60
    )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        f"ImportError: mixed.counter was generated by sharedgen {sharedgen.__version__}, but the "
        "sharedgen_runtime beside it is from sharedgen 0.0.1: build the output folder again with one version"
    )


@pytest.mark.parametrize("layout", ["regular package", "namespace package", "plain folder"])
def test_the_output_folder_imports_as_a_package(tmp_path: Path, layout: str) -> None:
    """A module imports the runtime beside it: the folder is a package, regular or namespace."""
    folder = tmp_path / "shared"
    folder.mkdir()
    shutil.copy(TESTS.parent / "generated" / "counter.py", folder)
    shutil.copytree(TESTS.parent / "generated" / "sharedgen_runtime", folder / "sharedgen_runtime")
    if layout == "regular package":
        (folder / "__init__.py").write_text("")
    code = (
        "import shared.counter as m"
        if layout != "plain folder"
        else "import sys; sys.path.insert(0, 'shared'); import counter as m"
    )
    result = subprocess.run(
        [sys.executable, "-c", f"{code}; c = m.Counter(); c.add_value(); print(c)"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
    )
    if layout == "plain folder":
        assert result.returncode == 1 and result.stderr.strip().splitlines()[-1] == (
            "ImportError: counter is one of the generated modules of a folder, imported as a package (import "
            "generated.counter): put the folder's parent on sys.path, not the folder"
        )
    else:
        assert (result.returncode, result.stdout) == (0, "Counter(value=1)\n"), result.stderr
