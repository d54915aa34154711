"""The stages joined: schema paths in, formatted modules out (or every error found)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sharedgen.errors import SchemaError, SchemaErrors
from sharedgen.load import load_all
from sharedgen.model import build_module
from sharedgen.render import render_module
from sharedgen.spec import parse_spec


@dataclass(frozen=True)
class GeneratedModule:
    module_name: str
    schema_path: str  # as the user spelled it
    source: str


def generate(paths: Iterable[str]) -> list[GeneratedModule]:
    """Validate every schema first; render only when all are valid, else raise SchemaErrors."""
    sources, errors = load_all(paths)
    specs = []
    owners: dict[str, str] = {}
    for source in sources:
        spec, spec_errors = parse_spec(source)
        errors.extend(spec_errors)
        if source.module_name in owners:
            message = f"module {source.module_name!r} is also generated from {owners[source.module_name]}"
            errors.append(SchemaError(source.display_path, 1, 1, message))
        owners.setdefault(source.module_name, source.display_path)
        if spec is not None:
            specs.append((source, spec))
    if errors:
        raise SchemaErrors(errors)
    return [
        GeneratedModule(
            module_name=source.module_name,
            schema_path=source.display_path,
            source=render_module(
                build_module(spec, source_path=source.source_path, source_hash=source.source_hash),
                source.module_name,
            ),
        )
        for source, spec in specs
    ]
