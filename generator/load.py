"""Stage 1: schema files to plain data, keeping where each key and value came from.

YAML positions are exact (read from the composed node tree); JSON and TOML parsers do
not report positions for valid documents, so their positions are found on demand by
searching the text for the path's keys in order.
"""

from __future__ import annotations

import hashlib
import json
import keyword
import os
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import yaml
from sharedgen.errors import SchemaError, describe

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

__all__ = ["tomllib", "SchemaSource", "load_all", "load_file", "discover", "project_root", "module_name_for"]

SCHEMA_SUFFIXES = (".yaml", ".yml", ".toml", ".json")
PROJECT_MARKERS = (".git", ".hg", "pyproject.toml")
# Bounds on what one schema file may cost to load: its size, and its values once YAML
# aliases are expanded (a few nested aliases can otherwise stand for billions of values).
MAX_FILE_BYTES = 4 << 20
MAX_VALUES = 500_000

Loc = tuple[str | int, ...]
Position = tuple[int, int]


class SourceMap(Protocol):
    """Finds the 1-based line and column of a path into the document."""

    def position(self, loc: Loc, *, of_value: bool) -> Position: ...


@dataclass
class NodeMap:
    """Exact positions recorded while walking a YAML node tree."""

    keys: dict[Loc, Position] = field(default_factory=dict)
    values: dict[Loc, Position] = field(default_factory=dict)

    def position(self, loc: Loc, *, of_value: bool) -> Position:
        table = self.values if of_value else self.keys
        for end in range(len(loc), -1, -1):
            if loc[:end] in table:
                return table[loc[:end]]
            if loc[:end] in self.keys:
                return self.keys[loc[:end]]
        return (1, 1)


@dataclass
class TextSearchMap:
    """Positions found by searching for each key of the path, in order, in the text."""

    text: str
    key_pattern: str  # format string with {key}: how a key is spelled in this format

    def position(self, loc: Loc, *, of_value: bool) -> Position:
        offset = found = 0
        for part in loc:
            if not isinstance(part, str):
                continue
            pattern = self.key_pattern.format(key=re.escape(part), quoted=re.escape(json.dumps(part)))
            match = re.compile(pattern, re.MULTILINE).search(self.text, offset)
            if match is None:
                break
            offset = match.end()
            found = match.start(1)
        line = self.text.count("\n", 0, found) + 1
        column = found - (self.text.rfind("\n", 0, found) + 1) + 1
        return (line, column)


@dataclass(frozen=True)
class SchemaSource:
    """One schema file, read and parsed, with everything later stages need to know of it."""

    display_path: str  # as the user spelled it: used in error messages
    source_path: str  # relative to the project root, posix: used in the generated header
    module_name: str
    source_hash: str  # sha256 of the normalized text
    data: Any
    positions: SourceMap

    def error(self, loc: Loc, message: str, *, of_value: bool = False) -> SchemaError:
        line, column = self.positions.position(loc, of_value=of_value)
        return SchemaError(self.display_path, line, column, message)


@dataclass(frozen=True)
class Discovered:
    path: Path
    display_path: str


def discover(paths: Iterable[str]) -> tuple[list[Discovered], list[SchemaError]]:
    """Expand files and folders into schema files, sorted, each listed once."""
    found: dict[Path, Discovered] = {}
    errors: list[SchemaError] = []
    for spelled in paths:
        root = Path(spelled)
        if root.is_dir():
            candidates = sorted(p for p in root.rglob("*") if p.suffix in SCHEMA_SUFFIXES and p.is_file())
        elif root.is_file():
            candidates = [root]
        else:
            errors.append(SchemaError(spelled, 1, 1, "no such file or folder"))
            continue
        for candidate in candidates:
            # Named as the user sees it (a symlink keeps its own name), listed once per real file.
            where = Path(os.path.abspath(candidate))
            found.setdefault(candidate.resolve(), Discovered(where, candidate.as_posix()))
    return sorted(found.values(), key=lambda d: d.path), errors


def project_root(path: Path) -> Path:
    """The nearest folder above ``path`` holding a project marker, else the file's folder."""
    for folder in path.parents:
        if any((folder / marker).exists() for marker in PROJECT_MARKERS):
            return folder
    return path.parent


def module_name_for(path: Path) -> str | None:
    """The module a schema file becomes: its stem, hyphens read as underscores."""
    name = path.stem.replace("-", "_")
    if not name.isidentifier() or keyword.iskeyword(name) or name.startswith("_"):
        return None
    return name


def load_file(found: Discovered) -> tuple[SchemaSource | None, list[SchemaError]]:
    """Read, decode and parse one file; a file that cannot be parsed yields errors only."""
    path, shown = found.path, found.display_path
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        return None, [
            SchemaError(shown, 1, 1, f"file is {size} bytes, more than a schema file may have ({MAX_FILE_BYTES})")
        ]
    raw = path.read_bytes()
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        return None, [SchemaError(shown, line, column, "file is not valid UTF-8")]
    text = text.replace("\r\n", "\n")
    module_name = module_name_for(path)
    if module_name is None:
        message = f"file name {path.name!r} does not make a module name (use letters, digits and _ or -)"
        return None, [SchemaError(shown, 1, 1, message)]
    parse = {".json": _parse_json, ".toml": _parse_toml}.get(path.suffix, _parse_yaml)
    data, positions, errors = parse(text, shown)
    if data is None and errors:
        return None, errors
    source = SchemaSource(
        display_path=shown,
        source_path=path.relative_to(project_root(path)).as_posix(),
        module_name=module_name,
        source_hash=hashlib.sha256(text.encode("utf-8")).hexdigest(),
        data=data,
        positions=positions,
    )
    return source, errors  # errors that did not stop parsing (duplicate keys)


ParseResult = tuple[Any, SourceMap, list[SchemaError]]


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """PyYAML's safe loader (libyaml's parser when present, ten times faster), reading floats
    as YAML 1.2 does (`1e10` is a float, not a string)."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:float"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
    ),
    list("-+0123456789."),
)


def _parse_yaml(text: str, shown: str) -> ParseResult:
    positions = NodeMap()
    try:
        loader = _Loader(text)
        try:
            root = loader.get_single_node()
            walker = _YamlWalker(loader, positions, shown)
            data = walker.walk(root, ()) if root is not None else None
        finally:
            loader.dispose()
    except _TooManyValues as exc:
        mark = exc.node.start_mark
        message = f"the document expands to more than {MAX_VALUES} values (through YAML aliases?)"
        return None, positions, [SchemaError(shown, mark.line + 1, mark.column + 1, message)]
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        return None, positions, [SchemaError(shown, line, column, f"invalid YAML: {exc.problem or exc.context}")]
    except yaml.YAMLError as exc:
        return None, positions, [SchemaError(shown, 1, 1, f"invalid YAML: {exc}")]
    return data, positions, walker.errors


class _TooManyValues(Exception):
    def __init__(self, node: yaml.Node) -> None:
        self.node = node


class _YamlWalker:
    """Builds plain data from YAML nodes, recording positions and duplicate keys."""

    def __init__(self, loader: _Loader, positions: NodeMap, shown: str) -> None:
        self.loader = loader
        self.positions = positions
        self.shown = shown
        self.errors: list[SchemaError] = []
        self.active: set[int] = set()
        self.values = 0

    def walk(self, node: yaml.Node, loc: Loc) -> Any:
        self.values += 1
        if self.values > MAX_VALUES:
            raise _TooManyValues(node)
        self.positions.values.setdefault(loc, (node.start_mark.line + 1, node.start_mark.column + 1))
        if id(node) in self.active:  # an alias that contains itself
            self._error(node, "recursive YAML alias")
            return None
        if isinstance(node, yaml.MappingNode):
            self.active.add(id(node))
            mapping: dict[str, Any] = {}
            for key_node, value_node in node.value:
                if not isinstance(key_node, yaml.ScalarNode):
                    self._error(key_node, "keys must be plain names")
                    continue
                # Keys are names in this language: take the text as written (YAML 1.1 would read `on` as True).
                key = key_node.value
                mark = key_node.start_mark
                if key in mapping:
                    self._error(key_node, f"{describe(loc)}duplicate key {key!r}")
                    continue
                self.positions.keys[loc + (key,)] = (mark.line + 1, mark.column + 1)
                mapping[key] = self.walk(value_node, loc + (key,))
            self.active.discard(id(node))
            return mapping
        if isinstance(node, yaml.SequenceNode):
            self.active.add(id(node))
            items = [self.walk(item, loc + (index,)) for index, item in enumerate(node.value)]
            self.active.discard(id(node))
            return items
        return self.loader.construct_object(node, deep=True)

    def _error(self, node: yaml.Node, message: str) -> None:
        mark = node.start_mark
        self.errors.append(SchemaError(self.shown, mark.line + 1, mark.column + 1, message))


_JSON_KEY = r"({quoted})\s*:"
_TOML_KEY = r"(?:^|[\s.{{,\[])((?<![\w-]){key}(?![\w-])|{quoted})"


def _parse_json(text: str, shown: str) -> ParseResult:
    positions = TextSearchMap(text, _JSON_KEY)
    duplicates: list[str] = []

    def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        mapping: dict[str, Any] = {}
        for key, value in pairs:
            if key in mapping:
                duplicates.append(key)
            mapping[key] = value
        return mapping

    try:
        data = json.loads(text, object_pairs_hook=no_duplicates)
    except json.JSONDecodeError as exc:
        return None, positions, [SchemaError(shown, exc.lineno, exc.colno, f"invalid JSON: {exc.msg}")]
    errors = []
    for key in duplicates:
        line, column = _last_key_position(text, _JSON_KEY.format(quoted=re.escape(json.dumps(key))))
        errors.append(SchemaError(shown, line, column, f"duplicate key {key!r}"))
    return data, positions, errors


def _last_key_position(text: str, pattern: str) -> Position:
    matches = list(re.finditer(pattern, text))
    offset = matches[-1].start(1) if matches else 0
    return text.count("\n", 0, offset) + 1, offset - (text.rfind("\n", 0, offset) + 1) + 1


_TOML_POSITION = re.compile(r"\(at line (\d+), column (\d+)\)")


def _parse_toml(text: str, shown: str) -> ParseResult:
    positions = TextSearchMap(text, _TOML_KEY)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        where = _TOML_POSITION.search(message)
        line, column = (int(where[1]), int(where[2])) if where else (1, 1)
        return (
            None,
            positions,
            [SchemaError(shown, line, column, f"invalid TOML: {_TOML_POSITION.sub('', message).strip()}")],
        )
    return data, positions, []


def load_all(paths: Iterable[str]) -> tuple[list[SchemaSource], list[SchemaError]]:
    """Discover and parse every schema file, collecting every error."""
    found, errors = discover(paths)
    sources = []
    for item in found:
        source, file_errors = load_file(item)
        errors.extend(file_errors)
        if source is not None:
            sources.append(source)
    return sources, errors
