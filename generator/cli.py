"""The command line: a thin shell over the pipeline (see CONTRACT: build, check, schema).

Defaults come from ``[tool.sharedgen]`` of the nearest ``pyproject.toml`` (``schemas`` and
``output``, relative to that file), then from the built-in ``schemas`` and ``generated``;
arguments on the command line win over both. ``redis = true`` there gives every struct its
Redis twin.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from sharedgen import __version__
from sharedgen.cache import OutputCache
from sharedgen.errors import InternalError, SchemaError, SchemaErrors
from sharedgen.load import toml_key_position, tomllib
from sharedgen.pipeline import generate
from sharedgen.spec import json_schema
from sharedgen.write import Status, apply_plan, plan_outputs

EXIT_OK, EXIT_STALE, EXIT_INVALID, EXIT_INTERNAL, EXIT_BUSY = 0, 1, 2, 3, 4
# How long sharedgen show waits for a busy lock before it says what it waits for.
SHOW_PATIENCE = 1.0


@dataclass(frozen=True)
class Config:
    schemas: tuple[str, ...] = ("schemas",)
    output: str = "generated"
    redis: bool = False  # every struct gets its Redis twin


def load_config(start: Path) -> Config:
    """``[tool.sharedgen]`` of the nearest pyproject.toml at or above ``start``."""
    for folder in (start, *start.parents):
        if (folder / "pyproject.toml").is_file():
            return _read_config(folder / "pyproject.toml", start)
    return Config()


def _read_config(pyproject: Path, start: Path) -> Config:
    shown = os.path.relpath(pyproject, start)
    text = pyproject.read_text(encoding="utf-8")
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SchemaErrors.single(shown, f"invalid TOML: {exc}") from None

    def config_error(message: str, *key: str) -> SchemaErrors:
        line, column = toml_key_position(text, ("tool", "sharedgen", *key))
        return SchemaErrors([SchemaError(shown, line, column, f"[tool.sharedgen] {message}")])

    tool = document.get("tool", {})
    table = tool.get("sharedgen", {}) if isinstance(tool, dict) else {}
    if not isinstance(table, dict):
        raise config_error("must be a table (schemas = [...], output = '...')")
    unknown = sorted(set(table) - {"schemas", "output", "redis"})
    if unknown:
        raise config_error(f"has unknown key {unknown[0]!r} (known: schemas, output, redis)", unknown[0])
    schemas = table.get("schemas", list(Config.schemas))
    schemas = [schemas] if isinstance(schemas, str) else schemas
    if not isinstance(schemas, list) or not all(isinstance(item, str) for item in schemas):
        raise config_error("schemas must be a path or a list of paths (strings)", "schemas")
    output = table.get("output", Config.output)
    if not isinstance(output, str):
        raise config_error("output must be a path (a string)", "output")
    redis = table.get("redis", Config.redis)
    if not isinstance(redis, bool):
        raise config_error("redis must be true or false", "redis")
    relative = os.path.relpath(pyproject.parent, start)
    return Config(
        schemas=tuple(os.path.normpath(os.path.join(relative, s)) for s in schemas),
        output=os.path.normpath(os.path.join(relative, output)),
        redis=redis,
    )


class Console:
    """Output for people: `-q` keeps only errors, `-v` adds what stayed; colour only on a terminal."""

    def __init__(self, verbosity: int, stream: TextIO = sys.stderr) -> None:
        self.verbosity = verbosity
        self.colour = stream.isatty() and "NO_COLOR" not in os.environ and os.environ.get("TERM") != "dumb"

    def paint(self, text: str, code: str) -> str:
        return f"\033[{code}m{text}\033[0m" if self.colour else text

    def error(self, line: str) -> None:
        print(line.replace(": error: ", ": " + self.paint("error", "1;31") + ": ", 1), file=sys.stderr)

    def info(self, line: str, *, level: int = 0) -> None:
        if self.verbosity >= level:
            print(line)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sharedgen",
        description="Generate typed multiprocessing shared-memory structs from schema files.",
        epilog="Defaults can be set in [tool.sharedgen] of pyproject.toml: schemas = [...], output = '...',"
        " redis = true (a Redis twin for every struct).",
    )
    parser.add_argument("--version", action="version", version=f"sharedgen {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, help_text, example in (
        ("build", "write one module per schema file", "sharedgen build schemas/ -o generated/"),
        ("check", "report stale, missing or orphaned modules with a diff; write nothing", "sharedgen check"),
    ):
        command = commands.add_parser(
            name,
            help=help_text,
            description=f"{help_text[0].upper()}{help_text[1:]}.",
            epilog=f"example: {example}",
        )
        command.add_argument("paths", nargs="*", metavar="PATH", help="schema files or folders (default: schemas)")
        command.add_argument("-o", "--output", metavar="DIR", help="output folder (default: generated)")
        if name == "build":
            command.add_argument(
                "--fail-on-change",
                action="store_true",
                help="exit 1 when a file was written or removed (for hooks: new files fail the commit too)",
            )
        noise = command.add_mutually_exclusive_group()
        noise.add_argument("-q", "--quiet", action="store_const", const=-1, dest="verbosity", help="print errors only")
        noise.add_argument(
            "-v", "--verbose", action="store_const", const=1, dest="verbosity", help="also list unchanged files"
        )
        command.set_defaults(verbosity=0)
    commands.add_parser(
        "schema",
        help="print the JSON Schema of schema files",
        description="Print the JSON Schema of schema files, for editors.",
        epilog="example: sharedgen schema > sharedgen.schema.json",
    )
    listing = commands.add_parser(
        "ls",
        help="list the named structs on this machine",
        description="List the named structs on this machine: name, struct, size, and whether their creator runs.",
    )
    listing.add_argument("--json", action="store_true", help="a JSON list of objects")
    show = commands.add_parser(
        "show",
        help="print a named struct's fields, decoded from the description in its header",
        description="Print a named struct's fields, read as snapshot() reads them; no user code is imported.",
        epilog="example: sharedgen show stats --watch 1",
    )
    show.add_argument("name", metavar="NAME")
    show.add_argument("--json", action="store_true", help="a JSON object: name, struct, locked, fields")
    show.add_argument(
        "--summary",
        action="store_true",
        help="with --json: an array of more than 16 items as its shape, type, first items, min and max",
    )
    show.add_argument(
        "--watch", type=_seconds(above_zero=True), metavar="SECONDS", help="read again every SECONDS until interrupted"
    )
    waiting = show.add_mutually_exclusive_group()
    waiting.add_argument(
        "--timeout",
        type=_seconds(above_zero=False),
        metavar="SECONDS",
        help="give up (exit 4) when a lock is held longer than SECONDS (default: wait, saying for what)",
    )
    waiting.add_argument(
        "--unlocked",
        action="store_true",
        help="read without taking the locks: never waits, but a write under way may show half done",
    )
    remove = commands.add_parser(
        "rm",
        help="remove a named struct's name (processes attached keep working until they close)",
        description="Remove a named struct's name; processes attached keep working until they close.",
    )
    remove.add_argument("names", nargs="+", metavar="NAME")
    return parser


def _seconds(above_zero: bool) -> Callable[[str], float]:
    """An argument type: a finite number of seconds, at least zero (or above it)."""

    def seconds(text: str) -> float:
        value = float(text)
        if not math.isfinite(value) or value < 0 or (above_zero and value == 0):
            raise argparse.ArgumentTypeError(
                f"{text!r} is not a number of seconds {'above' if above_zero else 'from'} 0"
            )
        return value

    return seconds


def main(argv: Sequence[str] | None = None) -> int:
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper):  # a path the terminal cannot show is escaped, not a crash
            stream.reconfigure(errors="backslashreplace")
    args = _parser().parse_args(argv)
    console = Console(getattr(args, "verbosity", 0))
    try:
        if args.command == "schema":
            print(json.dumps(json_schema(), indent=2, sort_keys=True))
            return EXIT_OK
        if args.command in ("ls", "show", "rm"):
            return _live(args)
        config = load_config(Path.cwd())
        out_dir = Path(args.output or config.output)
        cache = OutputCache()
        paths = args.paths or list(config.schemas)
        modules = generate(paths, out_dir=out_dir, cache=cache, redis=config.redis)
        plan = plan_outputs(modules, out_dir)
        if args.command == "build":
            changed = apply_plan(plan)
            cache.save()
    except SchemaErrors as exc:
        for error in exc.errors:
            console.error(str(error))
        count = len(exc.errors)
        console.error(f"sharedgen: {count} error{'s' * (count != 1)}; nothing written")
        return EXIT_INVALID
    except OSError as exc:
        console.error(f"sharedgen: error: {exc.filename}: {exc.strerror}")
        return EXIT_INVALID
    except InternalError as exc:
        return _internal_error(str(exc))
    except Exception as exc:  # a bug: one line to report, never a traceback
        return _internal_error(f"{type(exc).__name__}: {exc}")

    if not modules:
        console.info(f"sharedgen: no schema files found in {', '.join(paths)}")
    if args.command == "build":
        for item in changed:
            console.info(f"{'removed' if item.status is Status.ORPHANED else 'wrote'} {item.path.as_posix()}")
        for item in plan:
            if item.status is Status.FRESH:
                console.info(f"unchanged {item.path.as_posix()}", level=1)
        return EXIT_STALE if changed and args.fail_on_change else EXIT_OK
    outdated = [item for item in plan if item.status is not Status.FRESH]
    for item in outdated:
        console.error(f"{item.path.as_posix()}: {item.reason}")
        if console.verbosity >= 0:
            sys.stdout.write(item.diff())
    for item in plan:
        if item.status is Status.FRESH:
            console.info(f"fresh {item.path.as_posix()}", level=1)
    if outdated:
        console.error(f"sharedgen: {len(outdated)} file(s) out of date; run sharedgen build")
        return EXIT_STALE
    return EXIT_OK


def _live(args: argparse.Namespace) -> int:
    """ls, show and rm: named structs of this machine."""
    from sharedgen import live

    if args.command == "ls":
        found = live.named_structs()
        if args.json:
            print(json.dumps(found, indent=2))
            return EXIT_OK
        for item in found:
            state = "creator running" if item.get("creator_alive") else "creator gone"
            what = item["struct"] or f"? ({item.get('error')})"
            print(f"{item['name']}\t{what}\t{item['size']} bytes\t{state if item['struct'] else ''}".rstrip())
        return EXIT_OK
    if args.command == "rm":
        status = EXIT_OK
        for name in args.names:  # every name there is removed, whatever the others are
            try:
                live.remove(name)
            except FileNotFoundError:
                print(f"sharedgen: no named struct {name!r}", file=sys.stderr)
                status = max(status, EXIT_STALE)
            except (ValueError, OSError) as exc:  # a refused name, a permission
                print(f"sharedgen: {exc}", file=sys.stderr)
                status = EXIT_INVALID
        return status
    try:
        while True:
            shown = _read_named(args)
            _print_struct(shown, args.json, args.watch is not None, args.summary)
            if args.watch is None:
                return EXIT_OK
            time.sleep(max(args.watch, 0.05))
    except FileNotFoundError:
        print(f"sharedgen: no named struct {args.name!r}", file=sys.stderr)
        return EXIT_STALE
    except BrokenPipeError:  # the reader went away (show --watch | head): nothing more to say
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no error when Python flushes at exit
        return EXIT_OK
    except TimeoutError as exc:
        print(f"sharedgen: {exc}", file=sys.stderr)
        return EXIT_BUSY
    except (ValueError, OSError) as exc:  # NamedStructError, a refused name, a permission
        print(f"sharedgen: {exc}", file=sys.stderr)
        return EXIT_INVALID
    except KeyboardInterrupt:
        return EXIT_OK


def _read_named(args: argparse.Namespace) -> dict[str, Any]:
    """show's read: under the locks (saying what it waits for when one is busy), or without them."""
    from sharedgen import live
    from sharedgen.runtime._locks import LockTimeoutError

    if args.unlocked:
        return live.snapshot(args.name, locked=False)
    patience = SHOW_PATIENCE if args.timeout is None else min(SHOW_PATIENCE, args.timeout)
    try:
        try:
            return live.snapshot(args.name, wait=patience)
        except LockTimeoutError as exc:
            if args.timeout is not None and args.timeout <= patience:
                raise
            print(
                f"sharedgen: {args.name}: waiting for lock group {exc.group!r}, which another process holds"
                " (--timeout SECONDS gives up; --unlocked reads without the locks)",
                file=sys.stderr,
                flush=True,
            )
        return live.snapshot(args.name, wait=None if args.timeout is None else args.timeout - patience)
    except LockTimeoutError as exc:
        raise TimeoutError(
            f"{args.name}: lock group {exc.group!r} still held by another process after {args.timeout} s"
            " (--unlocked reads without the locks)"
        ) from None


def _print_struct(shown: dict[str, Any], as_json: bool, watching: bool, summarised: bool = False) -> None:
    """One reading: a JSON object (a line each when watching), or lines of text. Watched readings
    say when they were taken; on a terminal each is drawn over the last, in a pipe they follow one
    another, a blank line apart."""
    when = time.strftime("%Y-%m-%dT%H:%M:%S") if watching else None
    if as_json:
        fields = {
            name: (_summary(value) if summarised else None) or _plain(value) for name, value in shown["fields"].items()
        }
        text = json.dumps({**shown, **({"time": when} if when else {}), "fields": fields})
    else:
        head = f"{shown['name']}: {shown['struct']}"
        if not shown["locked"]:
            head += " (read without its locks: a write under way may show half done)"
        lines = [head + (f" at {when}" if when else "")]
        lines += [f"  {name} = {_shown(value)}" for name, value in shown["fields"].items()]
        text = "\n".join(lines)
        if watching and not sys.stdout.isatty():
            text += "\n"
    if watching and sys.stdout.isatty():
        text = "\x1b[H\x1b[J" + text  # redraw in place
    print(text, flush=True)


# Arrays of more items than this are summarised by show's text: shape, type, first items, min and max.
SHOWN_ITEMS = 16


def _summary(value: object) -> dict[str, Any] | None:
    """A big array's summary: its shape, item type, first items, min and max (None: not one)."""
    if isinstance(value, memoryview):
        flat: memoryview = value.cast("B").cast(value.format)  # type: ignore[call-overload]
        items, shape, kind = flat.tolist(), list(value.shape or ()), value.format
    elif isinstance(value, tuple) and len(value) > SHOWN_ITEMS:
        items, shape, kind = list(value), [len(value)], type(value[0]).__name__
    else:
        return None
    if len(items) <= SHOWN_ITEMS:
        return None
    return {"shape": shape, "type": kind, "first": items[:5], "min": min(items), "max": max(items)}


def _shown(value: object) -> str:
    """A field's value as show's text prints it: big arrays summarised (--json gives every item)."""
    summary = _summary(value)
    if summary is None:
        return repr(value.tolist() if isinstance(value, memoryview) else value)
    first = ", ".join(map(repr, summary["first"]))
    shape = tuple(summary["shape"])
    return f"array {summary['type']} {shape}: [{first}, ...] min {summary['min']!r} max {summary['max']!r}"


def _plain(value: object) -> object:
    """A field's value as JSON holds it: bytes as text (undecodable bytes escaped), arrays as lists."""
    if isinstance(value, memoryview):
        return value.tolist()
    if isinstance(value, bytes):
        return value.decode("utf-8", "backslashreplace")
    if isinstance(value, tuple):
        return [_plain(item) for item in value]
    return value


def _internal_error(what: str) -> int:
    print(f"sharedgen: internal error: {what}; please report it with the schema that caused it", file=sys.stderr)
    return EXIT_INTERNAL
