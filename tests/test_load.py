"""Stage 1 alone: files to data with positions."""

from __future__ import annotations

from pathlib import Path

import pytest
from sharedgen.load import Discovered, discover, load_file, module_name_for, project_root


def load(path: Path) -> object:
    source, errors = load_file(Discovered(path, path.name))
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
    source, errors = load_file(Discovered(path, "s.yaml"))
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
    ],
)
def test_module_names(name: str, module: str | None) -> None:
    assert module_name_for(Path(name)) == module


def test_discover_sorts_and_deduplicates(tmp_path: Path) -> None:
    for name in ("b.yaml", "a.json", "sub/c.toml", "notes.txt"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text("{}")
    found, errors = discover([str(tmp_path), str(tmp_path / "b.yaml")])
    assert errors == []
    assert [f.path.name for f in found] == ["a.json", "b.yaml", "c.toml"]


def test_project_root_is_the_nearest_marker(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "a" / "b").mkdir(parents=True)
    assert project_root(tmp_path / "a" / "b" / "s.yaml") == tmp_path
