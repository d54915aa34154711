"""Every rejection rule of the schema language: the error line, and nothing written."""

from __future__ import annotations

import contextlib
import io
import re
import textwrap
from pathlib import Path

import pytest
from sharedgen.cli import main
from sharedgen.load import MAX_FILE_BYTES

VALID_FIELD = "      ok: {type: i}\n"

# (case id, the struct's fields (YAML, indented 6), expected LINE:COL, expected message fragment)
FIELD_CASES = [
    (
        "unknown key",
        "      x: {type: i, lenght: 3}\n",
        "4:20",
        "field 'x': unknown key 'lenght' (did you mean 'length'?)",
    ),
    ("unknown type code", "      x: {type: z}\n", "4:17", "field 'x', type: unknown type code 'z'"),
    ("close type code", "      x: {type: '??'}\n", "4:17", "unknown type code '??' (did you mean '?'?)"),
    ("missing type", "      x: {length: 3}\n", "4:7", "field 'x': missing required key 'type'"),
    ("not an identifier", "      two words: {type: i}\n", "4:7", "field name 'two words' is not a Python identifier"),
    ("keyword", "      class: {type: i}\n", "4:7", "field name 'class' is a Python keyword"),
    ("soft keyword", "      match: {type: i}\n", "4:7", "field name 'match' is a Python soft keyword"),
    ("soft keyword type", "      type: {type: i}\n", "4:7", "field name 'type' is a Python soft keyword"),
    (
        "builtin of the class body",
        "      int: {type: i}\n",
        "4:7",
        "field name 'int' would shadow the builtin 'int' in the generated class",
    ),
    ("builtin property", "      property: {type: i}\n", "4:7", "would shadow the builtin 'property'"),
    (
        "shared memory cap",
        "      x: {type: q, length: 3000000}\n",
        "4:20",
        "field 'x', length: the struct needs up to 24000004 bytes of shared memory, more than max_shared_bytes (16777216)",
    ),
    ("cap counts every field", "      x: {type: u, length: 4194304}\n", "4:20", "needs up to 16777220 bytes"),
    ("leading underscore", "      _x: {type: i}\n", "4:7", "field name '_x' starts with '_'"),
    ("dunder", "      __init__: {type: i}\n", "4:7", "field name '__init__' starts with '_'"),
    ("generated member", "      snapshot: {type: i}\n", "4:7", "field name 'snapshot' is taken by a generated member"),
    ("twin factory", "      on_redis: {type: i}\n", "4:7", "field name 'on_redis' is taken by a generated member"),
    ("constructor parameter", "      ctx: {type: i}\n", "4:7", "field name 'ctx' is taken"),
    (
        "add_ beside field",
        "      x: {type: i}\n      add_x: {type: i}\n",
        "5:7",
        "field 'add_x': field name 'add_x' collides with the generated method of field 'x'",
    ),
    (
        "group method",
        "      x: {type: i, lock: g}\n      update_g: {type: i}\n",
        "5:7",
        "collides with the generated method of lock group 'g'",
    ),
    ("duplicate field", "      x: {type: i}\n      x: {type: q}\n", "5:7", "duplicate key 'x'"),
    (
        "length zero",
        "      x: {type: i, length: 0}\n",
        "4:28",
        "field 'x', length: input should be greater than or equal to 1",
    ),
    ("length negative", "      x: {type: i, length: -2}\n", "4:28", "greater than or equal to 1"),
    ("length huge", "      x: {type: i, length: 99999999999}\n", "4:28", "less than or equal to"),
    (
        "length not int",
        "      x: {type: i, length: '3'}\n",
        "4:28",
        "field 'x', length: input should be a valid integer",
    ),
    (
        "default out of range",
        "      x: {type: B, default: 256}\n",
        "4:29",
        "field 'x', default: 256 is out of range for type 'B'",
    ),
    ("default below range", "      x: {type: b, default: -129}\n", "4:29", "-129 is out of range for type 'b'"),
    (
        "portable long range",
        "      x: {type: l, default: 4294967296}\n",
        "4:29",
        "out of range for type 'l' (C long: -2147483648..2147483647)",
    ),
    ("default wrong type", "      x: {type: i, default: 1.5}\n", "4:29", "1.5 is not an int"),
    ("default bool for int", "      x: {type: i, default: true}\n", "4:29", "True is not an int"),
    ("default not bool", "      x: {type: '?', default: 1}\n", "4:31", "1 is not true or false"),
    ("float32 overflow", "      x: {type: f, default: 1.0e39}\n", "4:29", "out of range for type 'f'"),
    (
        "default too long",
        "      x: {type: c, length: 3, default: abcd}\n",
        "4:40",
        "'abcd' is 4 bytes long, more than the capacity of 3",
    ),
    ("default multibyte", "      x: {type: c, default: é}\n", "4:29", "must be exactly one byte"),
    ("char too long", "      x: {type: u, default: ab}\n", "4:29", "must be exactly one character"),
    ("default NUL", '      x: {type: u, length: 3, default: "a\\0"}\n', "4:40", "NUL character"),
    (
        "array default length",
        "      x: {type: i, length: 3, default: [1, 2]}\n",
        "4:40",
        "2 items given for an array of 3",
    ),
    ("array item", "      x: {type: i, length: 2, default: [1, 2.5]}\n", "4:40", "2.5 is not an int"),
    (
        "bad group name",
        "      x: {type: i, lock: 'no way'}\n",
        "4:26",
        "lock group 'no way' is not a Python identifier",
    ),
    ("bad lock value", "      x: {type: i, lock: 3}\n", "4:26", "3 is neither a lock group name nor false"),
    ("keyword group", "      x: {type: i, lock: for}\n", "4:26", "lock group 'for' is a Python keyword"),
    # Python reads names in code in NFKC form, but not the strings of __slots__ and getattr.
    (
        "full-width name",
        "      \uff54\uff4f\uff54\uff41\uff4c: {type: i}\n",
        "4:7",
        "field '\uff54\uff4f\uff54\uff41\uff4c': field name '\uff54\uff4f\uff54\uff41\uff4c' is read by Python"
        " as 'total' (NFKC); write 'total'",
    ),
    ("ligature name", "      \ufb01eld: {type: i}\n", "4:7", "is read by Python as 'field' (NFKC); write 'field'"),
    (
        "two spellings of one name",
        "      total: {type: i}\n      \uff54otal: {type: i}\n",
        "5:7",
        "field name '\uff54otal' is read by Python as 'total'",
    ),
    (
        "normalizes to a generated member",
        "      \uff53elf: {type: i}\n",
        "4:7",
        "field name '\uff53elf' (read by Python as 'self') is taken by a generated member",
    ),
    (
        "normalizes to a keyword",
        "      \uff43lass: {type: i}\n",
        "4:7",
        "(read by Python as 'class') is a Python keyword",
    ),
    ("normalizes to a builtin", "      \uff49nt: {type: i}\n", "4:7", "would shadow the builtin 'int'"),
    (
        "group normalizes",
        "      x: {type: i, lock: \uff47}\n",
        "4:26",
        "lock group '\uff47' is read by Python as 'g' (NFKC); write 'g'",
    ),
    ("group normalizes to a keyword", "      x: {type: i, lock: \uff46or}\n", "4:26", "(read by Python as 'for') is a"),
    (
        "shards on text",
        "      x: {type: c, length: 4, shards: 2}\n",
        "4:31",
        "field 'x', shards: shards are for numeric scalar fields",
    ),
    ("shards on array", "      x: {type: i, length: 4, shards: 2}\n", "4:31", "shards are for numeric scalar fields"),
    ("shards without lock", "      x: {type: i, lock: false, shards: 2}\n", "4:33", "cannot also be lock: false"),
    (
        "one shard",
        "      x: {type: i, shards: 1}\n",
        "4:28",
        "field 'x', shards: input should be greater than or equal to 2",
    ),
]


def build_errors(schema: Path, out: Path) -> tuple[int, list[str]]:
    """Exit code and stderr lines of `sharedgen build SCHEMA -o OUT`."""
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr):
        code = main(["build", str(schema), "-o", str(out)])
    return code, stderr.getvalue().splitlines()


def run_build(tmp_path: Path, text: str, name: str = "bad.yaml") -> tuple[int, list[str], Path]:
    """Build a schema given as text into an output folder that already holds a file."""
    schema = tmp_path / name
    schema.write_text(text, encoding="utf-8")
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("untouched")
    code, lines = build_errors(schema, out)
    return code, lines, out


@pytest.mark.parametrize(("fields", "where", "message"), [c[1:] for c in FIELD_CASES], ids=[c[0] for c in FIELD_CASES])
def test_field_rule(tmp_path: Path, fields: str, where: str, message: str) -> None:
    text = "structs:\n  Stats:\n    fields:\n" + fields + VALID_FIELD
    code, lines, out = run_build(tmp_path, text)
    assert code == 2
    expected_start = f"{tmp_path / 'bad.yaml'}:{where}: error: struct 'Stats'"
    assert any(line.startswith(expected_start) and message in line for line in lines), lines
    assert sorted(p.name for p in out.iterdir()) == ["keep.txt"]


STRUCT_CASES = [
    (
        "struct keyword",
        "structs:\n  def:\n    fields: {x: {type: i}}\n",
        "2:3",
        "struct name 'def' is a Python keyword",
    ),
    ("struct builtin", "structs:\n  list:\n    fields: {x: {type: i}}\n", "2:3", "would shadow the builtin 'list'"),
    ("struct underscore", "structs:\n  _S:\n    fields: {x: {type: i}}\n", "2:3", "starts with '_'"),
    (
        "struct name normalizes",
        "structs:\n  \uff33tats:\n    fields: {x: {type: i}}\n",
        "2:3",
        "struct name '\uff33tats' is read by Python as 'Stats' (NFKC); write 'Stats'",
    ),
    (
        "struct name normalizes to a builtin",
        "structs:\n  \uff4cist:\n    fields: {x: {type: i}}\n",
        "2:3",
        "(read by Python as 'list') would shadow the builtin 'list'",
    ),
    (
        "snapshot collision",
        "structs:\n  S:\n    fields: {x: {type: i}}\n  SSnapshot:\n    fields: {x: {type: i}}\n",
        "4:3",
        "'SSnapshot' is taken by the snapshot class of struct 'S'",
    ),
    (
        "twin collision",
        "structs:\n  S:\n    fields: {x: {type: i}}\n  SOnRedis:\n    fields: {x: {type: i}}\n",
        "4:3",
        "'SOnRedis' is taken by the Redis twin of struct 'S'",
    ),
    (
        "duplicate struct",
        "structs:\n  S:\n    fields: {x: {type: i}}\n  S:\n    fields: {y: {type: i}}\n",
        "4:3",
        "duplicate key 'S'",
    ),
    ("empty struct", "structs:\n  S:\n    fields: {}\n", "3:5", "struct 'S': no fields defined"),
    ("no structs", "structs: {}\n", "1:1", "no structs defined"),
    (
        "unknown struct key",
        "structs:\n  S:\n    lock_timout: 1\n    fields: {x: {type: i}}\n",
        "3:5",
        "unknown key 'lock_timout' (did you mean 'lock_timeout'?)",
    ),
    (
        "redis not a bool",
        "structs:\n  S:\n    redis: 'yes'\n    fields: {x: {type: i}}\n",
        "3:12",
        "struct 'S', redis: input should be a valid boolean",
    ),
    ("bad timeout", "structs:\n  S:\n    lock_timeout: -1\n    fields: {x: {type: i}}\n", "3:19", "greater than 0"),
    (
        "cap counts shards",
        "structs:\n  S:\n    max_shared_bytes: 4000\n    fields:\n      x: {type: q, shards: 100}\n",
        "5:20",
        # each shard has a 64-byte cache line of its own
        "struct 'S', field 'x', shards: the struct needs up to 6400 bytes of shared memory, more than max_shared_bytes (4000)",
    ),
    (
        "bad cap",
        "structs:\n  S:\n    max_shared_bytes: 0\n    fields: {x: {type: i}}\n",
        "3:23",
        "greater than or equal to 1",
    ),
    ("unknown top key", "struct:\n  S: {}\n", "1:1", "unknown key 'struct' (did you mean 'structs'?)"),
    ("top not mapping", "- 1\n- 2\n", "1:1", "the top level must be a mapping"),
    ("empty file", "", "1:1", "the top level must be a mapping"),
    ("invalid yaml", "structs: [\n", "2:1", "invalid YAML"),
]


@pytest.mark.parametrize(("text", "where", "message"), [c[1:] for c in STRUCT_CASES], ids=[c[0] for c in STRUCT_CASES])
def test_struct_and_file_rule(tmp_path: Path, text: str, where: str, message: str) -> None:
    code, lines, out = run_build(tmp_path, text)
    assert code == 2
    assert any(
        line.startswith(f"{tmp_path / 'bad.yaml'}:{where}: error: ") and message in line for line in lines
    ), lines
    assert sorted(p.name for p in out.iterdir()) == ["keep.txt"]


def test_every_error_of_a_run_is_reported(tmp_path: Path) -> None:
    text = textwrap.dedent("""\
        structs:
          A:
            fields:
              x: {type: z}
              y: {type: i, default: 1.5}
          B:
            fields:
              class: {type: i}
        """)
    code, lines, _ = run_build(tmp_path, text)
    assert code == 2
    errors = [line for line in lines if ": error: " in line]
    assert [e.split(": error: ")[0].rsplit(":", 2)[1:] for e in errors] == [["4", "17"], ["5", "29"], ["8", "7"]]
    assert lines[-1] == "sharedgen: 3 errors; nothing written"


def test_an_invalid_file_stops_every_file_from_being_written(tmp_path: Path) -> None:
    (tmp_path / "good.yaml").write_text("structs:\n  G:\n    fields: {x: {type: i}}\n")
    (tmp_path / "bad.yaml").write_text("structs:\n  B:\n    fields: {x: {type: z}}\n")
    out = tmp_path / "out"
    assert main(["build", str(tmp_path), "-o", str(out)]) == 2
    assert not out.exists()


@pytest.mark.parametrize(
    ("name", "text", "where", "message"),
    [
        ("bad.json", '{"structs": {"S": {"fields": {"x": {"type": "i", "tpye": 1}}}}}', "1:50", "unknown key 'tpye'"),
        (
            "bad.json",
            '{"structs": {"S": {"fields": {"x": {"type": "i"}, "x": {"type": "q"}}}}}',
            "1:51",
            "duplicate key 'x'",
        ),
        ("bad.json", '{"structs": ', "1:13", "invalid JSON"),
        (
            "bad.json",
            '{"structs": {"S": {"fields": {"x": {"type": "u", "default": "\\ud800"}}}}}',
            "1:50",
            "'\\ud800' holds a lone surrogate, which wchar_t cannot hold",
        ),
        ("bad.toml", '[structs.S.fields]\nx = {type = "i", default = 1.5}\n', "2:18", "default: 1.5 is not an int"),
        (
            "bad.toml",
            '[structs.S.fields]\nx = {type = "i"}\nx = {type = "q"}\n',
            "3:17",
            "invalid TOML: Cannot overwrite a value",
        ),
        ("bad.yaml", b"structs:\n  S: \xff\n", "2:6", "not valid UTF-8"),
        ("bad-name.yaml", "structs:\n  S:\n    fields: {x: {type: q, default: 1.5}}\n", "3:36", "1.5 is not an int"),
        ("class.yaml", "structs:\n  S:\n    fields: {x: {type: i}}\n", "1:1", "does not make a module name"),
    ],
)
def test_other_formats_and_files(tmp_path: Path, name: str, text: str | bytes, where: str, message: str) -> None:
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    code, lines = build_errors(path, tmp_path / "out")
    assert code == 2
    assert any(line.startswith(f"{path}:{where}: error: ") and message in line for line in lines), lines
    assert not (tmp_path / "out").exists()


def test_yaml_aliases_cannot_expand_without_bound(tmp_path: Path) -> None:
    """Nine levels of ten aliases stand for a billion values: refused at the node that passes the bound."""
    levels = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    levels += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    code, lines, out = run_build(tmp_path, "\n".join(levels) + "\nstructs: {S: {fields: {x: {type: i}}}}\n")
    assert code == 2
    assert re.fullmatch(
        re.escape(str(tmp_path / "bad.yaml")) + r":\d+:\d+: error: the document expands to more than 500000 values"
        r" \(through YAML aliases\?\)",
        lines[0],
    ), lines
    assert sorted(p.name for p in out.iterdir()) == ["keep.txt"]


def test_a_file_over_the_size_bound_is_refused_before_parsing(tmp_path: Path) -> None:
    text = "structs: {S: {fields: {x: {type: i}}}}\n" + "#" * MAX_FILE_BYTES
    code, lines, out = run_build(tmp_path, text)
    assert code == 2
    assert lines[0] == (
        f"{tmp_path / 'bad.yaml'}:1:1: error: file is {len(text)} bytes, more than a schema file may have ({MAX_FILE_BYTES})"
    )


def test_a_large_schema_within_the_bounds_builds(tmp_path: Path) -> None:
    """Three hundred fields in a dozen groups: loads, validates and renders like a small one."""
    fields = "".join(f"      f{i}: {{type: {'iqdB'[i % 4]}, lock: g{i % 12}}}\n" for i in range(300))
    text = "structs:\n  Big:\n    redis: true\n    fields:\n" + fields
    code, lines, out = run_build(tmp_path, text, name="big.yaml")
    assert code == 0, lines
    module = (out / "big.py").read_text()
    # Each member twice: in the struct and in its Redis twin.
    assert module.count("    compare_and_set_f") == 600 and module.count("def update_g") == 24


def test_the_shared_memory_cap_can_be_raised(tmp_path: Path) -> None:
    text = "structs:\n  S:\n    max_shared_bytes: 24000004\n    fields:\n      x: {type: q, length: 3000000}\n"
    code, lines, out = run_build(tmp_path, text, name="wide.yaml")
    assert code == 0, lines
    assert (out / "wide.py").is_file()
