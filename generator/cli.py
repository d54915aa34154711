"""The command line: a thin shell over the pipeline (see CONTRACT: build, check, schema)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from sharedgen import __version__
from sharedgen.cache import OutputCache
from sharedgen.errors import InternalError, SchemaErrors
from sharedgen.pipeline import generate
from sharedgen.spec import json_schema
from sharedgen.write import Status, apply_plan, plan_outputs

EXIT_OK, EXIT_STALE, EXIT_INVALID, EXIT_INTERNAL = 0, 1, 2, 3
DEFAULT_SCHEMAS = "schemas"
DEFAULT_OUTPUT = "generated"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sharedgen",
        description="Generate typed multiprocessing shared-memory structs from schema files.",
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
        command.add_argument(
            "paths", nargs="*", metavar="PATH", help=f"schema files or folders (default: {DEFAULT_SCHEMAS})"
        )
        command.add_argument(
            "-o", "--output", metavar="DIR", default=DEFAULT_OUTPUT, help=f"output folder (default: {DEFAULT_OUTPUT})"
        )
    commands.add_parser(
        "schema",
        help="print the JSON Schema of schema files",
        description="Print the JSON Schema of schema files, for editors.",
        epilog="example: sharedgen schema > sharedgen.schema.json",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "schema":
            print(json.dumps(json_schema(), indent=2, sort_keys=True))
            return EXIT_OK
        out_dir = Path(args.output)
        cache = OutputCache()
        plan = plan_outputs(generate(args.paths or [DEFAULT_SCHEMAS], out_dir=out_dir, cache=cache), out_dir)
    except SchemaErrors as exc:
        for error in exc.errors:
            print(error, file=sys.stderr)
        count = len(exc.errors)
        print(f"sharedgen: {count} error{'s' * (count != 1)}; nothing written", file=sys.stderr)
        return EXIT_INVALID
    except InternalError as exc:
        return _internal_error(str(exc))
    except Exception as exc:  # a bug: one line to report, never a traceback
        return _internal_error(f"{type(exc).__name__}: {exc}")
    if args.command == "build":
        try:
            changed = apply_plan(plan)
        except OSError as exc:
            print(f"sharedgen: cannot write {exc.filename}: {exc.strerror}", file=sys.stderr)
            return EXIT_INVALID
        cache.save()
        for item in changed:
            verb = "removed" if item.status is Status.ORPHANED else "wrote"
            print(f"{verb} {item.path.as_posix()}")
        return EXIT_OK
    outdated = [item for item in plan if item.status is not Status.FRESH]
    for item in outdated:
        print(f"{item.path.as_posix()}: {item.reason}", file=sys.stderr)
        sys.stdout.write(item.diff())
    if outdated:
        print(f"sharedgen: {len(outdated)} file(s) out of date; run sharedgen build", file=sys.stderr)
        return EXIT_STALE
    return EXIT_OK


def _internal_error(what: str) -> int:
    print(f"sharedgen: internal error: {what}; please report it with the schema that caused it", file=sys.stderr)
    return EXIT_INTERNAL
