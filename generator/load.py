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
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import yaml
from sharedgen.errors import SchemaError, describe, suggest_name

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

__all__ = [
    "tomllib",
    "SchemaSource",
    "load_all",
    "load_file",
    "discover",
    "header_path",
    "schema_exists",
    "module_name_for",
    "toml_key_position",
]

SCHEMA_SUFFIXES = (".yaml", ".yml", ".toml", ".json")
# Bounds on what one schema file may cost to load: its size, its values once YAML aliases are
# expanded (a few nested aliases can otherwise stand for billions of values), and its nesting
# (a schema needs six levels; thousands would exhaust the parsers' and the validators' stacks).
MAX_FILE_BYTES = 4 << 20
MAX_VALUES = 500_000
MAX_NESTING = 64
# Digits an integer literal may have: more than any type code holds (the largest double is 1.8e308).
# A longer one is refused where it is read, shown shortened: Python converts at most 4,300 digits
# between text and int (sys.get_int_max_str_digits), and an error should not echo thousands of them.
MAX_INT_DIGITS = 309
_TOO_LARGE = 10**MAX_INT_DIGITS

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
    source_path: str  # the header's name for the file: see header_path
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
            candidates = _schema_files_under(root)
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


def _schema_files_under(folder: Path) -> list[Path]:
    """The schema files in a folder tree, leaving out what only shares their suffixes: hidden
    files and folders (.git, .pre-commit-config.yaml), virtual environments, pyproject.toml, and
    JSON Schema documents named *.schema.json (as README suggests saving `sharedgen schema`)."""
    found: list[Path] = []
    for top, folders, files in os.walk(folder):
        folders[:] = [name for name in folders if not name.startswith(".") and not _is_venv(Path(top, name))]
        found.extend(
            Path(top, name)
            for name in files
            if name.endswith(SCHEMA_SUFFIXES)
            and not name.startswith(".")
            and name != "pyproject.toml"
            and not name.endswith(".schema.json")
            and Path(top, name).is_file()
        )
    return sorted(found)


def _is_venv(folder: Path) -> bool:
    return (folder / "pyvenv.cfg").is_file()


def header_path(schema: Path, out_dir: Path) -> str:
    """How the header of a module written to ``out_dir`` names its schema: relative to the deepest
    folder holding both (for schemas/ and generated/ side by side, `schemas/x.yaml`). It depends
    only on where the two are relative to each other: not on the current folder, the spelling of
    the paths, or project markers appearing (a `git init`)."""
    schema, out = Path(os.path.abspath(schema)), Path(os.path.abspath(out_dir))
    common = Path(os.path.commonpath([schema.parent, out]))
    return schema.relative_to(common).as_posix()


def schema_exists(recorded: str, out_dir: Path) -> bool:
    """Whether the schema a header in ``out_dir`` names (see header_path) is still there: the
    recorded path under the output folder or any folder above it."""
    out = Path(os.path.abspath(out_dir))
    return any((folder / recorded).is_file() for folder in (out, *out.parents))


def module_name_for(path: Path) -> str | None:
    """The module a schema file becomes: its stem, hyphens read as underscores."""
    return None if _module_name_problem(path.stem.replace("-", "_")) else path.stem.replace("-", "_")


def _module_name_problem(name: str) -> str | None:
    """Why ``name`` cannot be a generated module's name, or None."""
    if not name.isidentifier():
        return "use letters, digits and _ or -, not starting with a digit"
    normal = unicodedata.normalize("NFKC", name)
    if normal != name:
        # `import` reads the name in NFKC form (full-width letters and ligatures become plain ones),
        # but the file keeps the name as written: no import statement would find the module.
        return f"Python reads {name!r} as {normal!r} (NFKC), so no import would find the module"
    if keyword.iskeyword(name):
        return f"{name!r} is a Python keyword"
    if name.startswith("_"):
        return "a module whose name starts with '_' is private by Python's convention"
    return None


def _module_name_error(path: Path) -> str:
    message = (
        f"file name {path.name!r} does not make a module name ({_module_name_problem(path.stem.replace('-', '_'))})"
    )
    better = suggest_name(path.stem, lambda name: _module_name_problem(name) is None, prefix="schema")
    return message + (f"; rename the file to {better + path.suffix!r}" if better else "")


def load_file(found: Discovered, out_dir: Path) -> tuple[SchemaSource | None, list[SchemaError]]:
    """Read, decode and parse one file for a module written to ``out_dir``; a file that cannot be
    parsed yields errors only."""
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
        return None, [SchemaError(shown, 1, 1, _module_name_error(path))]
    parse = {".json": _parse_json, ".toml": _parse_toml}.get(path.suffix, _parse_yaml)
    data, positions, errors = parse(text, shown)
    if data is None and errors:
        return None, errors
    source = SchemaSource(
        display_path=shown,
        source_path=header_path(path, out_dir),
        module_name=module_name,
        source_hash=hashlib.sha256(text.encode("utf-8")).hexdigest(),
        data=data,
        positions=positions,
    )
    return source, errors  # errors that did not stop parsing (duplicate keys)


ParseResult = tuple[Any, SourceMap, list[SchemaError]]


def _digits(literal: str) -> int:
    """How many digits an integer literal (any base, with signs, underscores or a prefix) has."""
    body = literal.lstrip("+-")
    if body[:2].lower() in ("0x", "0o", "0b"):
        body = body[2:]
    return sum(ch.isalnum() for ch in body)


def shortened(literal: str) -> str:
    """An integer literal as an error shows it: its first digits and how many there are."""
    literal = literal.replace("_", "")
    if len(literal) <= 40:
        return literal
    body = literal.lstrip("+-")
    head = literal[: len(literal) - len(body)] + (body[:2] if body[:2].lower() in ("0x", "0o", "0b") else "")
    return f"{literal[:len(head) + 20]}… ({_digits(literal)} digits)"


def shortened_int(value: int) -> str:
    try:
        return shortened(str(value))
    except ValueError:  # beyond the digits Python converts (a hex literal of thousands of digits)
        return f"an integer of about {int(value.bit_length() * 0.30103) + 1} digits"


def _too_large(loc: Loc, shown: str) -> str:
    where = describe(loc[:5])  # an array's item: the field's default
    return f"{where}{shown} is too large: no type code holds an integer of more than {MAX_INT_DIGITS} digits"


# A long integer literal in JSON or TOML is replaced by a string holding this and its number, padded
# to the literal's length, before parsing (the parsers would convert it, or fail to), and reported
# where the walk finds that string.
_HUGE = "\0sharedgen-huge-integer:"
_JSON_NUMBERS = re.compile(r'"(?:[^"\\]|\\.)*"|(?<![0-9.eE+-])(-?[0-9]+)(?![0-9.eE])')
_TOML_NUMBERS = re.compile(
    r'"""(?:[^\\]|\\.)*?"""|\'\'\'.*?\'\'\'|"(?:[^"\\\n]|\\.)*"|\'[^\'\n]*\'|#[^\n]*'
    r"|(?<![\w.+-])([+-]?(?:0x[0-9a-fA-F_]+|0o[0-7_]+|0b[01_]+|[0-9][0-9_]*))(?![\w.:+-])",
    re.DOTALL,
)


def _set_aside_huge_integers(text: str, numbers: re.Pattern[str]) -> tuple[str, list[tuple[str, Position]]]:
    """The text with each integer literal of more than MAX_INT_DIGITS digits replaced by a placeholder
    string, and each such literal with where it was written (placeholder number = index)."""
    huge: list[tuple[str, Position]] = []

    def replace(match: re.Match[str]) -> str:
        literal = match[1]
        if literal is None or _digits(literal) <= MAX_INT_DIGITS:
            return match[0]
        huge.append((literal, _position_at(text, match.start(1))))
        placeholder = json.dumps(f"{_HUGE}{len(huge) - 1}")
        return placeholder + " " * (len(literal) - len(placeholder))  # what follows keeps its place

    return numbers.sub(replace, text), huge


def _huge_integer_errors(
    data: Any, shown: str, positions: SourceMap, huge: list[tuple[str, Position]]
) -> list[SchemaError]:
    """An error for each integer of the document too large for any type code: a placeholder for a
    literal set aside before parsing (at the literal), or a value the parser read (at its key)."""
    errors = []
    for loc, value in _leaves(data, ()):
        if isinstance(value, str) and value.startswith(_HUGE):
            literal, (line, column) = huge[int(value.removeprefix(_HUGE))]
            errors.append(SchemaError(shown, line, column, _too_large(loc, shortened(literal))))
        elif isinstance(value, int) and not isinstance(value, bool) and not -_TOO_LARGE < value < _TOO_LARGE:
            line, column = positions.position(loc, of_value=True)
            errors.append(SchemaError(shown, line, column, _too_large(loc, shortened_int(value))))
    return errors


def _leaves(data: Any, loc: Loc) -> Iterable[tuple[Loc, Any]]:
    if isinstance(data, dict):
        for key, value in data.items():
            yield from _leaves(value, loc + (key,))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            yield from _leaves(value, loc + (index,))
    else:
        yield loc, data


_INT = "tag:yaml.org,2002:int"
_YAML11_ONLY = "tag:sharedgen,2025:yaml11-only"  # a spelling YAML 1.1 reads unlike YAML 1.2


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """PyYAML's safe loader (libyaml's parser when present, ten times faster) reading plain
    scalars as YAML 1.2's core schema does, and marking the spellings YAML 1.1 reads otherwise
    (`017`, `1:20`, `yes`, `1_000`) for the walker to reject. ruamel.yaml reads YAML 1.2 itself,
    but keeps positions only in its pure-Python mode, about four times slower than this."""


_Loader.yaml_implicit_resolvers = {}
for _tag, _pattern, _first in (  # tried in this order: `017` is YAML 1.1-only before it is a float
    ("tag:yaml.org,2002:null", r"~|null|Null|NULL|", ["~", "n", "N", ""]),
    ("tag:yaml.org,2002:bool", r"true|True|TRUE|false|False|FALSE", list("tTfF")),
    (_INT, r"[-+]?(?:0|[1-9][0-9]*)|0o[0-7]+|0x[0-9a-fA-F]+", list("-+0123456789")),
    (
        _YAML11_ONLY,
        r"""[yYnN]|yes|Yes|YES|no|No|NO|on|On|ON|off|Off|OFF
        | [-+]?0[0-9_]+
        | [-+]?0b[01_]+ | [-+]0x[0-9a-fA-F_]+ | 0x[0-9a-fA-F]*_[0-9a-fA-F_]*
        | [-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?
        | [-+]?(?=[0-9.]*_)(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9_]*[0-9][0-9_]*)(?:[eE][-+][0-9]+)?""",
        list("yYnNoO-+0123456789."),
    ),
    (
        "tag:yaml.org,2002:float",
        r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)",
        list("-+0123456789."),
    ),
):
    _Loader.add_implicit_resolver(_tag, re.compile(f"^(?:{_pattern})$", re.VERBOSE), _first)


def _construct_int(loader: _Loader, node: yaml.ScalarNode) -> int:
    try:
        return int(node.value, 0)  # YAML 1.2's spellings: 17, 0o21, 0x11
    except ValueError:
        raise yaml.constructor.ConstructorError(
            None, None, f"{node.value!r} is not a YAML 1.2 integer", node.start_mark
        ) from None


_Loader.add_constructor(_INT, _construct_int)
_YAML11_BOOLS = {"y": True, "yes": True, "on": True, "n": False, "no": False, "off": False}


def _yaml11_reading(text: str) -> tuple[Any, Any]:
    """What YAML 1.1 and YAML 1.2 read a plain scalar marked _YAML11_ONLY as."""
    as_yaml11 = _YAML11_BOOLS.get(text.lower())
    if as_yaml11 is None:
        as_yaml11 = yaml.load(text, Loader=yaml.SafeLoader)  # PyYAML itself follows YAML 1.1
    as_yaml12 = int(text) if text.lstrip("+-").isdigit() else text
    return as_yaml11, as_yaml12


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


# What the keys whose values have one kind take: an ambiguous value there is only shown as the
# reading that fits (`length: 1_000_000` is 1000000, never the text '1_000_000').
_KEY_TAKES: dict[str, tuple[str, Callable[[object], bool]]] = {
    "length": ("an integer", _is_int),
    "shards": ("an integer", _is_int),
    "max_shared_bytes": ("an integer", _is_int),
    "lock_timeout": ("a number", _is_number),
    "recover_locks": ("true or false", lambda value: isinstance(value, bool)),
    "redis": ("true or false", lambda value: isinstance(value, bool)),
    "type": ("text", lambda value: isinstance(value, str)),
    "doc": ("text", lambda value: isinstance(value, str)),
}


def _spelled(value: Any) -> str:
    """``value`` as YAML 1.1 and 1.2 both read it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return f"'{value}'" if isinstance(value, str) else repr(value)


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
    except _Unreadable as exc:
        mark = exc.node.start_mark
        return None, positions, [SchemaError(shown, mark.line + 1, mark.column + 1, exc.message)]
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        return None, positions, [SchemaError(shown, line, column, f"invalid YAML: {exc.problem or exc.context}")]
    except yaml.YAMLError as exc:
        return None, positions, [SchemaError(shown, 1, 1, f"invalid YAML: {exc}")]
    if walker.ambiguous:
        return None, positions, walker.errors
    return data, positions, walker.errors


class _Unreadable(Exception):
    """Stops the walk: the document is too big or too deep to read."""

    def __init__(self, node: yaml.Node, message: str) -> None:
        self.node = node
        self.message = message


class _YamlWalker:
    """Builds plain data from YAML nodes, recording positions, duplicate keys and ambiguous scalars."""

    def __init__(self, loader: _Loader, positions: NodeMap, shown: str) -> None:
        self.loader = loader
        self.positions = positions
        self.shown = shown
        self.errors: list[SchemaError] = []
        # A value YAML 1.1 reads otherwise, or an integer too large to read: the file is not validated further.
        self.ambiguous = False
        self.active: set[int] = set()
        self.values = 0

    def walk(self, node: yaml.Node, loc: Loc) -> Any:
        self.values += 1
        if self.values > MAX_VALUES:
            raise _Unreadable(node, f"the document expands to more than {MAX_VALUES} values (through YAML aliases?)")
        if len(loc) > MAX_NESTING:
            raise _Unreadable(node, f"the document is nested more than {MAX_NESTING} levels deep")
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
        if node.tag in (_INT, _YAML11_ONLY) and _digits(node.value) > MAX_INT_DIGITS:
            return self._too_large(node, loc, shortened(node.value))
        if node.tag == _YAML11_ONLY:
            return self._unambiguous(node, loc)
        value = self.loader.construct_object(node, deep=True)
        if isinstance(value, int) and not isinstance(value, bool) and not -_TOO_LARGE < value < _TOO_LARGE:
            return self._too_large(node, loc, shortened_int(value))
        return value

    def _too_large(self, node: yaml.Node, loc: Loc, shown: str) -> None:
        self._error(node, _too_large(loc, shown))
        self.ambiguous = True
        return None

    def _unambiguous(self, node: yaml.Node, loc: Loc) -> Any:
        """The value of a scalar YAML 1.1 may read otherwise; an error when it does."""
        text = node.value
        as_yaml11, as_yaml12 = _yaml11_reading(text)
        if type(as_yaml11) is type(as_yaml12) and as_yaml11 == as_yaml12:
            return as_yaml12
        written_yaml11 = _spelled(as_yaml11)
        if isinstance(as_yaml11, int) and as_yaml11 > 0 and text.startswith("0") and text.replace("_", "").isdigit():
            written_yaml11 = f"0o{as_yaml11:o}"  # the octal YAML 1.1 meant, as YAML 1.2 spells it
        spellings = [(as_yaml11, written_yaml11), (as_yaml12, _spelled(as_yaml12))]
        # A key of a struct (structs.S.key) or of a field (structs.S.fields.x.key).
        of_struct = len(loc) == 3 and loc[0] == "structs"
        key = str(loc[-1]) if of_struct or (len(loc) == 5 and loc[0] == "structs" and loc[2] == "fields") else ""
        takes = _KEY_TAKES.get(key)
        if takes is None:  # a default (its field's type decides) or a lock (a group name or false): either
            advice = f"write {written_yaml11} or {_spelled(as_yaml12)}"
        else:
            valid = [written for value, written in spellings if takes[1](value)]
            advice = f"write {' or '.join(valid)}" if valid else "neither is valid there"
            advice += f" ({key} takes {takes[0]})"
        self._error(
            node,
            f"{describe(loc)}{text!r} is ambiguous: YAML 1.1 reads it as {_spelled(as_yaml11)}, YAML 1.2 as "
            f"{_spelled(as_yaml12)}; {advice}",
        )
        self.ambiguous = True
        return None

    def _error(self, node: yaml.Node, message: str) -> None:
        mark = node.start_mark
        self.errors.append(SchemaError(self.shown, mark.line + 1, mark.column + 1, message))


_JSON_KEY = r"({quoted})\s*:"
_TOML_KEY = r"(?:^|[\s.{{,\[])((?<![\w-]){key}(?![\w-])|{quoted})"
# Brackets outside strings and comments: what nests in JSON and TOML.
_JSON_BRACKETS = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]')
_TOML_BRACKETS = re.compile(
    r'"""(?:[^\\]|\\.)*?"""|\'\'\'.*?\'\'\'|"(?:[^"\\\n]|\\.)*"|\'[^\'\n]*\'|#[^\n]*|[\[\]{}]', re.DOTALL
)


def _too_deep(text: str, brackets: re.Pattern[str], shown: str) -> list[SchemaError]:
    """An error at the first bracket nested past MAX_NESTING, found before the parser recurses that deep."""
    depth = 0
    for token in brackets.finditer(text):
        if token[0] in "[{":
            depth += 1
            if depth > MAX_NESTING:
                line, column = _position_at(text, token.start())
                return [SchemaError(shown, line, column, f"the document is nested more than {MAX_NESTING} levels deep")]
        elif token[0] in "]}":
            depth -= 1
    return []


def _position_at(text: str, offset: int) -> Position:
    return text.count("\n", 0, offset) + 1, offset - (text.rfind("\n", 0, offset) + 1) + 1


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

    too_deep = _too_deep(text, _JSON_BRACKETS, shown)
    if too_deep:
        return None, positions, too_deep
    readable, huge = _set_aside_huge_integers(text, _JSON_NUMBERS)
    try:
        data = json.loads(readable, object_pairs_hook=no_duplicates)
    except json.JSONDecodeError as exc:
        return None, positions, [SchemaError(shown, exc.lineno, exc.colno, f"invalid JSON: {exc.msg}")]
    too_large = _huge_integer_errors(data, shown, positions, huge)
    if too_large:
        return None, positions, too_large
    errors = []
    for key in duplicates:
        line, column = _last_key_position(text, _JSON_KEY.format(quoted=re.escape(json.dumps(key))))
        errors.append(SchemaError(shown, line, column, f"duplicate key {key!r}"))
    return data, positions, errors


def _last_key_position(text: str, pattern: str) -> Position:
    matches = list(re.finditer(pattern, text))
    return _position_at(text, matches[-1].start(1) if matches else 0)


_TOML_POSITION = re.compile(r"\(at line (\d+), column (\d+)\)")


def toml_key_position(text: str, loc: Loc) -> Position:
    """Where the key at ``loc`` is written in a TOML document (for pyproject.toml's settings)."""
    return TextSearchMap(text, _TOML_KEY).position(loc, of_value=False)


def _parse_toml(text: str, shown: str) -> ParseResult:
    positions = TextSearchMap(text, _TOML_KEY)
    too_deep = _too_deep(text, _TOML_BRACKETS, shown)
    if too_deep:
        return None, positions, too_deep
    readable, huge = _set_aside_huge_integers(text, _TOML_NUMBERS)
    try:
        data = tomllib.loads(readable)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        where = _TOML_POSITION.search(message)
        line, column = (int(where[1]), int(where[2])) if where else (1, 1)
        return (
            None,
            positions,
            [SchemaError(shown, line, column, f"invalid TOML: {_TOML_POSITION.sub('', message).strip()}")],
        )
    too_large = _huge_integer_errors(data, shown, positions, huge)
    if too_large:
        return None, positions, too_large
    return data, positions, []


def load_all(paths: Iterable[str], out_dir: Path) -> tuple[list[SchemaSource], list[SchemaError]]:
    """Discover and parse every schema file for modules written to ``out_dir``, collecting every error."""
    found, errors = discover(paths)
    sources = []
    for item in found:
        source, file_errors = load_file(item, out_dir)
        errors.extend(file_errors)
        if source is not None:
            sources.append(source)
    return sources, errors
