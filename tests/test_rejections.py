"""Every rejection rule of the schema language: the error line, and nothing written."""

from __future__ import annotations

import contextlib
import io
import json
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
    (
        "not an identifier",
        "      two words: {type: i}\n",
        "4:7",
        "field name 'two words' is not a Python identifier (letters, digits and '_', not starting with a digit);"
        " rename it, e.g. 'two_words'",
    ),
    ("starts with a digit", "      9lives: {type: i}\n", "4:7", "rename it, e.g. 'field_9lives'"),
    (
        "keyword",
        "      class: {type: i}\n",
        "4:7",
        "field name 'class' is a Python keyword, which cannot name an attribute or a parameter;"
        " rename it, e.g. 'class_'",
    ),
    (
        "builtin of the class body",
        "      int: {type: i}\n",
        "4:7",
        "field name 'int' would shadow the builtin 'int' in the generated class, which uses it in annotations;"
        " rename it, e.g. 'int_'",
    ),
    ("builtin property", "      property: {type: i}\n", "4:7", "would shadow the builtin 'property'"),
    (
        "shared memory cap",
        "      x: {type: q, length: 3000000}\n",
        "4:20",
        "field 'x', length: the struct needs up to 24000004 bytes of shared memory, more than max_shared_bytes (16777216)",
    ),
    ("cap counts every field", "      x: {type: u, length: 4194304}\n", "4:20", "needs up to 16777220 bytes"),
    (
        "leading underscore",
        "      _x: {type: i}\n",
        "4:7",
        "field name '_x' starts with '_', which is kept for the generated helpers; rename it, e.g. 'x'",
    ),
    ("dunder", "      __init__: {type: i}\n", "4:7", "field name '__init__' starts with '_'"),
    (
        "generated member",
        "      snapshot: {type: i}\n",
        "4:7",
        "field name 'snapshot' is taken by the struct's method snapshot(); rename it, e.g. 'snapshot_'",
    ),
    (
        "twin factory",
        "      on_redis: {type: i}\n",
        "4:7",
        "field name 'on_redis' is taken by the struct's method on_redis() (its Redis twin); rename it, e.g. 'on_redis_'",
    ),
    (
        "constructor parameter",
        "      ctx: {type: i}\n",
        "4:7",
        "field name 'ctx' is taken by the constructor's parameter ctx= (the multiprocessing context)",
    ),
    ("snapshot's method", "      as_dict: {type: i}\n", "4:7", "is taken by the snapshot's method as_dict()"),
    (
        "add_ beside field",
        "      x: {type: i}\n      add_x: {type: i}\n",
        "5:7",
        "field 'add_x': field name 'add_x' collides with the generated method of field 'x'; rename it, e.g. 'add_x_'",
    ),
    (
        "group method",
        "      x: {type: i, lock: g}\n      update_g: {type: i}\n",
        "5:7",
        "collides with the generated method of lock group 'g'; rename it, e.g. 'update_g_'",
    ),
    (
        "suggestion beside a field of that name",
        "      x: {type: i}\n      add_x: {type: i}\n      add_x_: {type: i}\n",
        "5:7",
        "collides with the generated method of field 'x'; rename it, e.g. 'add_x2'",
    ),
    ("duplicate field", "      x: {type: i}\n      x: {type: q}\n", "5:7", "duplicate key 'x'"),
    (
        "length zero",
        "      x: {type: i, length: 0}\n",
        "4:28",
        "field 'x', length: must be at least 1, not the number 0",
    ),
    ("length negative", "      x: {type: i, length: -2}\n", "4:28", "must be at least 1, not the number -2"),
    ("length huge", "      x: {type: i, length: 99999999999}\n", "4:28", "must be at most 2147483647"),
    (
        "length not int",
        "      x: {type: i, length: '3'}\n",
        "4:28",
        "field 'x', length: must be an integer, not the text '3'",
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
        "lock group 'no way' is not a Python identifier (letters, digits and '_', not starting with a digit);"
        " rename it, e.g. 'no_way'",
    ),
    (
        "bad lock value",
        "      x: {type: i, lock: 3}\n",
        "4:26",
        "lock: must be a lock group name or false, not the number 3",
    ),
    ("keyword group", "      x: {type: i, lock: for}\n", "4:26", "lock group 'for' is a Python keyword, which"),
    ("keyword group suggestion", "      x: {type: i, lock: for}\n", "4:26", "rename it, e.g. 'for_'"),
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
        "field name '\uff53elf' (read by Python as 'self') is taken by the first parameter of the struct's methods;"
        " rename it, e.g. 'self_'",
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
        "field 'x', shards: must be at least 2, not the number 1",
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
        "struct name 'def' is a Python keyword, which cannot name an attribute or a parameter; rename it, e.g. 'Def'",
    ),
    (
        "struct builtin",
        "structs:\n  list:\n    fields: {x: {type: i}}\n",
        "2:3",
        "struct name 'list' would shadow the builtin 'list' in the generated module; rename it, e.g. 'List'",
    ),
    ("struct underscore", "structs:\n  _S:\n    fields: {x: {type: i}}\n", "2:3", "starts with '_'"),
    ("struct underscore suggestion", "structs:\n  _S:\n    fields: {x: {type: i}}\n", "2:3", "e.g. 'S'"),
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
        "'SSnapshot' is taken by the snapshot class of struct 'S'; rename it, e.g. 'SSnapshotStruct'",
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
        "struct 'S', redis: must be true or false, not the text 'yes'",
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
        "struct 'S', max_shared_bytes: must be at least 1, not the number 0",
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
        (
            "\ufb01le.yaml",
            "structs:\n  S:\n    fields: {x: {type: i}}\n",
            "1:1",
            "file name '\ufb01le.yaml' does not make a module name (Python reads '\ufb01le' as 'file' (NFKC), so no"
            " import would find the module); rename the file to 'file.yaml'",
        ),
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


HUGE = "1" + "2" * 4999  # more digits than Python converts to an int (4,300) by default
SHOWN = "12222222222222222222… (5000 digits)"
TOO_LARGE = "is too large: no type code holds an integer of more than 309 digits"


@pytest.mark.parametrize(
    ("name", "text", "where", "shown"),
    [
        ("huge.json", '{"structs": {"S": {"fields": {"x": {"type": "q", "default": %s}}}}}', "1:61", SHOWN),
        ("huge.yaml", "structs:\n  S:\n    fields:\n      x: {type: q, default: %s}\n", "4:29", SHOWN),
        ("huge.toml", '[structs.S.fields]\nx = {type = "q", default = %s}\n', "2:28", SHOWN),
        ("neg.json", '{"structs": {"S": {"fields": {"x": {"type": "q", "default": -%s}}}}}', "1:61", "-" + SHOWN),
        (
            "hex.yaml",
            "structs:\n  S:\n    fields:\n      x: {type: q, default: 0x%s}\n",
            "4:29",
            "0x1222222222222222222",
        ),
        ("hex.toml", '[structs.S.fields]\nx = {type = "q", default = 0x%s}\n', "2:28", "0x1222222222222222222"),
        # spellings YAML 1.1 reads otherwise (octal, underscores): refused as too large first
        ("octal.yaml", "structs:\n  S:\n    fields:\n      x: {type: q, default: 0%s}\n", "4:29", "(5001 digits)"),
        ("under.yaml", "structs:\n  S:\n    fields:\n      x: {type: q, default: 1_%s}\n", "4:29", "(5001 digits)"),
        ("items.toml", '[structs.S.fields]\nx = {type = "q", length = 2, default = [1, %s]}\n', "2:44", SHOWN),
        ("length.yaml", "structs:\n  S:\n    fields:\n      x: {type: q, length: %s}\n", "4:28", SHOWN),
        # fewer digits than Python's limit, more than any type holds: shown shortened too
        ("float.toml", '[structs.S.fields]\nx = {type = "d", default = %s}\n', "2:28", "(1000 digits)"),
    ],
)
def test_a_huge_integer_is_an_error_at_it_showing_it_shortened(
    tmp_path: Path, name: str, text: str, where: str, shown: str
) -> None:
    path = tmp_path / name
    path.write_text(text.replace("%s", HUGE[:1000] if name == "float.toml" else HUGE), encoding="utf-8")
    code, lines = build_errors(path, tmp_path / "out")
    assert code == 2 and len(lines) == 2, lines
    assert lines[0].startswith(f"{path}:{where}: error: struct 'S', field 'x', "), lines
    assert shown in lines[0] and lines[0].endswith(TOO_LARGE) and len(lines[0]) < len(str(path)) + 200
    assert not (tmp_path / "out").exists()


def test_every_huge_integer_of_a_file_is_reported_and_what_follows_keeps_its_position(tmp_path: Path) -> None:
    path = tmp_path / "huge.json"
    path.write_text('{"structs": {"S": {"fields": {"x": {"type": "q", "default": [%s, -%s]}, }}}}'.replace("%s", HUGE))
    code, lines = build_errors(path, tmp_path / "out")
    assert code == 2
    # The parser's error comes first (after the numbers); its column is the one of the text as written.
    assert lines == [
        f"{path}:1:{62 + 2 * len(HUGE) + 7}: error: invalid JSON: Expecting property name enclosed in double quotes",
        "sharedgen: 1 error; nothing written",
    ]
    path.write_text('{"structs": {"S": {"fields": {"x": {"type": "q", "default": [%s, -%s]}}}}}'.replace("%s", HUGE))
    code, lines = build_errors(path, tmp_path / "out")
    assert [line.split(": error: ")[0] for line in lines[:-1]] == [f"{path}:1:62", f"{path}:1:{62 + len(HUGE) + 2}"]


@pytest.mark.parametrize("name", ["long.json", "long.toml", "long.yaml"])
def test_a_float_of_many_digits_is_a_float(tmp_path: Path, name: str) -> None:
    """Only integers are bounded: a double may be written with as many digits as one likes."""
    written = f"0.{HUGE}" if name != "long.yaml" else f"0.{HUGE}e-3"
    text = (
        f'[structs.S.fields]\nx = {{type = "d", default = {written}}}\n'
        if name.endswith(".toml")
        else '{"structs": {"S": {"fields": {"x": {"type": "d", "default": %s}}}}}'.replace("%s", written)
    )
    code, lines, out = run_build(tmp_path, text, name=name)
    assert code == 0, lines
    assert ("= 0.0001222222222222222" if name == "long.yaml" else "= 0.1222222222222222") in (
        out / "long.py"
    ).read_text()


def test_an_integer_beyond_every_double_is_out_of_range(tmp_path: Path) -> None:
    text = f"structs:\n  S:\n    fields:\n      x: {{type: d, default: {'9' * 309}}}\n"
    code, lines, _ = run_build(tmp_path, text)
    assert code == 2
    assert lines[0].endswith(
        "struct 'S', field 'x', default: 99999999999999999999… (309 digits) is out of range for type 'd' (C double)"
    ), lines


# A value of the wrong kind where a schema expects a mapping, text, a number or a boolean.
WRONG_KINDS = [
    (
        "field as a list",
        "structs:\n  S:\n    fields:\n      x: [1, 2]\n",
        "4:10",
        "struct 'S', field 'x': a field must be a mapping with a 'type' key, such as {type: 'i'}, not a list",
    ),
    (
        "field as a type code",
        "structs:\n  S:\n    fields:\n      x: i\n",
        "4:10",
        "struct 'S', field 'x': a field must be a mapping with a 'type' key (write {type: 'i'}), not the text 'i'",
    ),
    ("field empty", "structs:\n  S:\n    fields:\n      x:\n", "4:9", "not nothing (null)"),
    (
        "struct as a number",
        "structs:\n  S: 5\n",
        "2:6",
        "struct 'S': a struct must be a mapping with a 'fields' key, not the number 5",
    ),
    (
        "fields as a list",
        "structs:\n  S:\n    fields: []\n",
        "3:13",
        "struct 'S', fields: must be a mapping of field names to fields, not an empty list",
    ),
    (
        "structs as a list",
        "structs: [S]\n",
        "1:10",
        "structs: must be a mapping of struct names to structs, not a list",
    ),
    (
        "type as a number",
        "structs:\n  S:\n    fields: {x: {type: 5}}\n",
        "3:24",
        "struct 'S', field 'x', type: must be a type code (one of c u b B h H i I l L q Q f d ?), not the number 5",
    ),
    (
        "doc as a list",
        "structs:\n  S:\n    doc: [1]\n    fields: {x: {type: i}}\n",
        "3:10",
        "doc: must be text, not a list",
    ),
    (
        "timeout as text",
        "structs:\n  S:\n    lock_timeout: soon\n    fields: {x: {type: i}}\n",
        "3:19",
        "struct 'S', lock_timeout: must be a number, not the text 'soon'",
    ),
    (
        "timeout infinite",
        "structs:\n  S:\n    lock_timeout: .inf\n    fields: {x: {type: i}}\n",
        "3:19",
        "lock_timeout: must be a finite number, not the number inf",
    ),
    (
        "flag as a number",
        "structs:\n  S:\n    recover_locks: 1\n    fields: {x: {type: i}}\n",
        "3:20",
        "struct 'S', recover_locks: must be true or false, not the number 1",
    ),
    (
        "length as a float",
        "structs:\n  S:\n    fields: {x: {type: i, length: 2.0}}\n",
        "3:35",
        "must be an integer, not the number 2.0",
    ),
    (
        "length as a bool",
        "structs:\n  S:\n    fields: {x: {type: i, length: true}}\n",
        "3:35",
        "must be an integer, not true",
    ),
    (
        "shards too many",
        "structs:\n  S:\n    fields: {x: {type: i, shards: 2000}}\n",
        "3:35",
        "must be at most 1024, not the number 2000",
    ),
    (
        "lock as a list",
        "structs:\n  S:\n    fields: {x: {type: i, lock: [a]}}\n",
        "3:33",
        "must be a lock group name or false, not a list",
    ),
    (
        "schema reference",
        "$schema: 5\nstructs:\n  S:\n    fields: {x: {type: i}}\n",
        "1:10",
        "$schema: must be text, not the number 5",
    ),
]
PYDANTIC_WORDS = re.compile(r"instance|dictionary|Spec\b|SchemaFile|[Ii]nput should|\bvalid \w+|value error")


@pytest.mark.parametrize(("text", "where", "message"), [c[1:] for c in WRONG_KINDS], ids=[c[0] for c in WRONG_KINDS])
def test_a_value_of_the_wrong_kind_is_named_in_the_schema_s_words(
    tmp_path: Path, text: str, where: str, message: str
) -> None:
    code, lines, out = run_build(tmp_path, text)
    assert code == 2
    (error,) = lines[:-1]
    assert error.startswith(f"{tmp_path / 'bad.yaml'}:{where}: error: ") and error.endswith(message), lines
    assert not PYDANTIC_WORDS.search(error), error
    assert sorted(p.name for p in out.iterdir()) == ["keep.txt"]


def test_no_rejection_uses_pydantic_s_words(tmp_path: Path) -> None:
    """Every case of this file: its messages speak of mappings, text and numbers, never of models."""
    texts = [f"structs:\n  Stats:\n    fields:\n{case[1]}{VALID_FIELD}" for case in FIELD_CASES]
    texts += [case[1] for case in STRUCT_CASES + WRONG_KINDS]
    for number, text in enumerate(texts):
        schema = tmp_path / f"case{number}.yaml"
        schema.write_text(text, encoding="utf-8")
        code, lines = build_errors(schema, tmp_path / "out")
        assert code == 2 and lines, text
        assert not [line for line in lines if PYDANTIC_WORDS.search(line)], lines


SUGGESTION = re.compile(r"rename it, e\.g\. '([^']+)'$")
FIELD_IN = "structs:\n  Stats:\n    fields:\n      {name}: {{type: i, lock: g}}\n      add_x: {{type: i}}\n"
REFUSED_NAMES = (
    [
        (FIELD_IN, name)
        for name in ["two words", "9lives", "a-b", "class", "int", "property", "_x", "__init__", "snapshot", "self"]
        + ["ctx", "locks", "mode", "create", "as_dict", "on_redis", "\uff53elf", "\uff49nt", "x", "update_g"]
    ]
    + [
        ("structs:\n  {name}:\n    fields: {{x: {{type: i}}}}\n  S:\n    fields: {{x: {{type: i}}}}\n", name)
        for name in ["def", "list", "_S", "SSnapshot", "SOnRedis", "9S", "\uff4cist", "print"]
    ]
    + [
        ("structs:\n  S:\n    fields: {{x: {{type: i, lock: {name}}}}}\n", name)
        for name in ["for", "no way", "_g", "\uff46or"]
    ]
)


@pytest.mark.parametrize(("template", "name"), REFUSED_NAMES, ids=[name for _, name in REFUSED_NAMES])
def test_a_refused_name_is_told_a_valid_one(tmp_path: Path, template: str, name: str) -> None:
    """The error says why and suggests a name; the same schema with that name builds."""
    code, lines, _ = run_build(tmp_path, template.format(name=json.dumps(name)))
    assert code == 2
    (error,) = lines[:-1]
    suggestion = SUGGESTION.search(error)
    assert suggestion, error
    (tmp_path / "out").rename(tmp_path / "first")
    code, lines, _ = run_build(tmp_path, template.format(name=json.dumps(suggestion[1])))
    assert code == 0, (error, lines)
