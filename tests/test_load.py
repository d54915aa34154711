"""Stage 1 alone: files to data with positions."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sharedgen.load import Discovered, discover, header_path, load_file, module_name_for, schema_exists


def load(path: Path) -> object:
    source, errors = load_file(Discovered(path, path.name), path.parent / "generated")
    assert errors == [] and source is not None
    return source


def test_yaml_positions_are_exact(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text("structs:\n  S:\n    fields:\n      x: {type: i,  default: 5}\n")
    source = load(path)
    assert source.data == {"structs": {"S": {"fields": {"x": {"type": "i", "default": 5}}}}}
    loc = ("structs", "S", "fields", "x", "default")
    assert source.positions.position(loc, of_value=False) == (4, 21)
    assert source.positions.position(loc, of_value=True) == (4, 30)
    assert source.positions.position(("structs", "S", "fields", "nope"), of_value=False) == (3, 5)


def test_yaml_keys_are_taken_as_written(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text("structs:\n  S:\n    fields:\n      on: {type: '?'}\n      1: {type: i}\n")
    assert list(load(path).data["structs"]["S"]["fields"]) == ["on", "1"]  # not True and 1


def test_json_and_toml_positions_are_found_in_the_text(tmp_path: Path) -> None:
    json_path = tmp_path / "s.json"
    json_path.write_text('{\n  "structs": {\n    "S": {"fields": {\n      "x": {"type": "i"}}}}}\n')
    assert load(json_path).positions.position(("structs", "S", "fields", "x", "type"), of_value=False) == (4, 13)
    toml_path = tmp_path / "s.toml"
    toml_path.write_text('[structs.S.fields]\nx = {type = "i"}\ny = {type = "q", length = 3}\n')
    assert load(toml_path).positions.position(("structs", "S", "fields", "y", "length"), of_value=False) == (3, 18)


def test_bom_and_crlf_are_read_as_plain_text(tmp_path: Path) -> None:
    plain = tmp_path / "plain.yaml"
    plain.write_bytes(b"structs:\n  S:\n    fields: {x: {type: i}}\n")
    windows = tmp_path / "windows.yaml"
    windows.write_bytes(b"\xef\xbb\xbfstructs:\r\n  S:\r\n    fields: {x: {type: i}}\r\n")
    assert load(plain).data == load(windows).data
    assert load(plain).source_hash == load(windows).source_hash


def test_invalid_utf8_points_at_the_byte(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_bytes(b"structs:\n  S\xff: {}\n")
    source, errors = load_file(Discovered(path, "s.yaml"), tmp_path / "generated")
    assert source is None
    assert [str(e) for e in errors] == ["s.yaml:2:4: error: file is not valid UTF-8"]


@pytest.mark.parametrize(
    ("name", "module"),
    [
        ("counter.yaml", "counter"),
        ("worker-stats.yml", "worker_stats"),
        ("class.yaml", None),
        ("9lives.json", None),
        ("_x.toml", None),
        ("\ufb01le.yaml", None),  # the ligature: Python reads it as `file`
        ("\uff26\uff35\uff2c\uff2c.yaml", None),  # full-width FULL
        ("\uff43lass.yaml", None),  # read as the keyword `class`
        ("caf\u00e9.yaml", "caf\u00e9"),  # already in the form Python reads
    ],
)
def test_module_names(name: str, module: str | None) -> None:
    assert module_name_for(Path(name)) == module


@pytest.mark.parametrize(
    ("name", "why", "rename"),
    [
        ("\ufb01le.yaml", "Python reads '\ufb01le' as 'file' (NFKC), so no import would find the module", "file.yaml"),
        ("\uff26\uff35\uff2c\uff2c.json", "Python reads '\uff26\uff35\uff2c\uff2c' as 'FULL' (NFKC)", "FULL.json"),
        ("my-\ufb01le.toml", "Python reads 'my_\ufb01le' as 'my_file' (NFKC)", "my_file.toml"),
        ("\uff43lass.yaml", "Python reads '\uff43lass' as 'class' (NFKC)", "class_.yaml"),
        ("class.yaml", "'class' is a Python keyword", "class_.yaml"),
        ("9lives.yaml", "use letters, digits and _ or -, not starting with a digit", "schema_9lives.yaml"),
        ("_x.yaml", "a module whose name starts with '_' is private by Python's convention", "x.yaml"),
    ],
)
def test_a_file_name_python_reads_otherwise_says_what_to_rename_it_to(
    tmp_path: Path, name: str, why: str, rename: str
) -> None:
    path = tmp_path / name
    toml = '[structs.S.fields]\nx = {type = "i"}\n'
    path.write_text(toml if name.endswith(".toml") else '{"structs": {"S": {"fields": {"x": {"type": "i"}}}}}')
    source, errors = load_file(Discovered(path, name), tmp_path / "generated")
    assert source is None and len(errors) == 1
    assert str(errors[0]).startswith(f"{name}:1:1: error: file name {name!r} does not make a module name ("), errors
    assert why in str(errors[0]) and str(errors[0]).endswith(f"; rename the file to {rename!r}")
    renamed = path.rename(tmp_path / rename)  # the name suggested makes a module
    assert module_name_for(renamed) == renamed.stem and load(renamed) is not None


def test_discover_sorts_and_deduplicates(tmp_path: Path) -> None:
    for name in ("b.yaml", "a.json", "sub/c.toml", "notes.txt"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text("{}")
    found, errors = discover([str(tmp_path), str(tmp_path / "b.yaml")])
    assert errors == []
    assert [f.path.name for f in found] == ["a.json", "b.yaml", "c.toml"]


def test_discover_skips_what_only_shares_the_suffixes(tmp_path: Path) -> None:
    for name in (
        "schemas/a.yaml",
        "schemas/sub/b.json",
        "schemas/sharedgen.schema.json",
        "schemas/.hidden.yaml",
        "schemas/.cache/c.yaml",
        "schemas/env/lib/d.yaml",
        "schemas/pyproject.toml",
    ):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("{}")
    (tmp_path / "schemas" / "env" / "pyvenv.cfg").write_text("home = /usr/bin\n")
    found, _ = discover([str(tmp_path / "schemas")])
    assert [f.path.name for f in found] == ["a.yaml", "b.json"]
    named, _ = discover([str(tmp_path / "schemas" / "pyproject.toml")])  # a file named on purpose is read
    assert [f.path.name for f in named] == ["pyproject.toml"]


@pytest.mark.parametrize(
    ("schema", "out_dir", "recorded"),
    [
        ("p/schemas/a.yaml", "p/generated", "schemas/a.yaml"),
        ("p/schemas/a.yaml", "p/pkg/gen", "schemas/a.yaml"),
        ("p/src/app/schemas/a.yaml", "p/src/app/shared", "schemas/a.yaml"),
        ("p/a.yaml", "p", "a.yaml"),
        ("p/gen/defs/a.yaml", "p/gen", "defs/a.yaml"),
    ],
)
def test_the_header_names_the_schema_from_the_folder_holding_it_and_the_output(
    tmp_path: Path, schema: str, out_dir: str, recorded: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / schema).parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / schema).write_text("")
    assert header_path(tmp_path / schema, tmp_path / out_dir) == recorded
    (tmp_path / ".git").mkdir()  # project markers do not matter, nor does the current folder
    monkeypatch.chdir(tmp_path / "p")
    assert header_path(Path(os.path.relpath(tmp_path / schema)), Path(os.path.relpath(tmp_path / out_dir))) == recorded
    assert schema_exists(recorded, tmp_path / out_dir)
    (tmp_path / schema).unlink()
    assert not schema_exists(recorded, tmp_path / out_dir)


def load_errors(tmp_path: Path, name: str, text: str) -> list[str]:
    path = tmp_path / name
    path.write_text(text)
    source, errors = load_file(Discovered(path, name), tmp_path / "generated")
    return [str(error) for error in errors]


@pytest.mark.parametrize(
    ("written", "value"),
    [
        ("17", 17),
        ("-17", -17),
        ("0o17", 15),
        ("0x1F", 31),
        ("00", 0),
        ("'017'", "017"),
        ('"1:20"', "1:20"),
        ("'yes'", "yes"),
        ("true", True),
        ("False", False),
        ("1e3", 1000.0),
        ("0.5", 0.5),
        ("2024-01-01", "2024-01-01"),
        ("~", None),
        ("abc", "abc"),
    ],
)
def test_yaml_values_are_read_as_yaml_1_2_reads_them(tmp_path: Path, written: str, value: object) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(f"structs:\n  S:\n    fields:\n      x: {{type: i, default: {written}}}\n")
    read = load(path).data["structs"]["S"]["fields"]["x"]["default"]  # type: ignore[attr-defined]
    assert (type(read), read) == (type(value), value)


@pytest.mark.parametrize(
    ("written", "readings"),
    [
        ("017", "YAML 1.1 reads it as 15, YAML 1.2 as 17; write 0o17 or 17"),
        ("-017", "YAML 1.1 reads it as -15, YAML 1.2 as -17; write -15 or -17"),
        ("09", "YAML 1.1 reads it as '09', YAML 1.2 as 9; write '09' or 9"),
        ("1:20", "YAML 1.1 reads it as 80, YAML 1.2 as '1:20'; write 80 or '1:20'"),
        ("1:20.5", "YAML 1.1 reads it as 80.5, YAML 1.2 as '1:20.5'; write 80.5 or '1:20.5'"),
        ("yes", "YAML 1.1 reads it as true, YAML 1.2 as 'yes'; write true or 'yes'"),
        ("Off", "YAML 1.1 reads it as false, YAML 1.2 as 'Off'; write false or 'Off'"),
        ("y", "YAML 1.1 reads it as true, YAML 1.2 as 'y'; write true or 'y'"),
        ("0b101", "YAML 1.1 reads it as 5, YAML 1.2 as '0b101'; write 5 or '0b101'"),
        ("-0x1F", "YAML 1.1 reads it as -31, YAML 1.2 as '-0x1F'; write -31 or '-0x1F'"),
        ("1_000", "YAML 1.1 reads it as 1000, YAML 1.2 as '1_000'; write 1000 or '1_000'"),
        ("1_0.5", "YAML 1.1 reads it as 10.5, YAML 1.2 as '1_0.5'; write 10.5 or '1_0.5'"),
    ],
)
def test_yaml_1_1_spellings_are_ambiguous(tmp_path: Path, written: str, readings: str) -> None:
    errors = load_errors(tmp_path, "s.yaml", f"structs:\n  S:\n    fields:\n      x: {{type: i, default: {written}}}\n")
    assert errors == [f"s.yaml:4:29: error: struct 'S', field 'x', default: {written!r} is ambiguous: {readings}"]


@pytest.mark.parametrize(
    ("key", "written", "advice"),
    [
        ("length", "1_000_000", "write 1000000 (length takes an integer)"),
        ("shards", "0b11", "write 3 (shards takes an integer)"),
        ("length", "010", "write 0o10 or 10 (length takes an integer)"),  # both readings are integers
        ("length", "1_0.5", "neither is valid there (length takes an integer)"),
        ("doc", "no", "write 'no' (doc takes text)"),
        ("type", "y", "write 'y' (type takes text)"),
    ],
)
def test_an_ambiguous_value_of_a_key_of_one_kind_suggests_only_what_fits(
    tmp_path: Path, key: str, written: str, advice: str
) -> None:
    errors = load_errors(tmp_path, "s.yaml", f"structs:\n  S:\n    fields:\n      x: {{{key}: {written}}}\n")
    (error,) = errors
    assert error.startswith(f"s.yaml:4:{13 + len(key)}: error: struct 'S', field 'x', {key}: {written!r} is ambiguous")
    assert error.endswith(f"; {advice}"), error


@pytest.mark.parametrize(
    ("key", "written", "advice"),
    [
        ("max_shared_bytes", "1_000_000", "write 1000000 (max_shared_bytes takes an integer)"),
        ("lock_timeout", "1:30", "write 90 (lock_timeout takes a number)"),
        ("recover_locks", "yes", "write true (recover_locks takes true or false)"),
    ],
)
def test_an_ambiguous_value_of_a_struct_key_suggests_only_what_fits(
    tmp_path: Path, key: str, written: str, advice: str
) -> None:
    text = f"structs:\n  S:\n    {key}: {written}\n    fields: {{x: {{type: i}}}}\n"
    (error,) = load_errors(tmp_path, "s.yaml", text)
    assert error.startswith(f"s.yaml:3:{7 + len(key)}: error: struct 'S', {key}: {written!r} is ambiguous: ")
    assert error.endswith(f"; {advice}"), error


def test_a_field_named_like_a_key_is_not_taken_for_the_key(tmp_path: Path) -> None:
    (error,) = load_errors(tmp_path, "s.yaml", "structs:\n  S:\n    fields:\n      length: yes\n")
    assert error.endswith(
        "field 'length': 'yes' is ambiguous: YAML 1.1 reads it as true, YAML 1.2 as 'yes'; write true or 'yes'"
    )


def test_every_ambiguous_value_of_a_file_is_reported_and_the_file_is_not_validated(tmp_path: Path) -> None:
    errors = load_errors(tmp_path, "s.yaml", "structs:\n  S:\n    fields:\n      x: {type: i, default: [on, 010]}\n")
    assert [error.split(": error: ")[0] for error in errors] == ["s.yaml:4:30", "s.yaml:4:34"]
    assert errors[0].endswith(
        "struct 'S', field 'x': 'on' is ambiguous: YAML 1.1 reads it as true, YAML 1.2 as 'on';" " write true or 'on'"
    )


@pytest.mark.parametrize(
    ("name", "opening"),
    [  # 65 levels, the last opened by the last "[" (brackets in strings and comments do not count)
        ("s.json", '{"structs": {"S": {"doc": "[[[[", "fields": {"x": {"default": ' + "[" * 60),
        ("s.toml", "[structs.S]\ndoc = '[[[['\n# [[[[\nfields = {x = {default = " + "[" * 63),
        ("s.yaml", "structs:\n  S:\n    fields:\n      x: {default: " + "[" * 61),
    ],
)
def test_nesting_is_bounded_before_the_parsers_recurse(tmp_path: Path, name: str, opening: str) -> None:
    closing = "]" * (len(opening) - len(opening.rstrip("["))) + "}" * (opening.count("{") - opening.count("}"))
    where = f"{opening.count(chr(10)) + 1}:{len(opening.rsplit(chr(10), 1)[-1])}"
    assert load_errors(tmp_path, name, opening + closing + "\n") == [
        f"{name}:{where}: error: the document is nested more than 64 levels deep"
    ]
    assert load_errors(tmp_path, name, opening[:-1] + closing[1:] + "\n") == []
