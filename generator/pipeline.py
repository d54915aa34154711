"""The stages joined: schema paths in, formatted modules out (or every error found)."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from sharedgen.cache import OutputCache
from sharedgen.errors import SchemaError, SchemaErrors
from sharedgen.load import load_all
from sharedgen.model import ModuleModel, build_module
from sharedgen.render import header_line, render_module
from sharedgen.spec import parse_spec

PARALLEL_FROM = 4  # modules to render before a process pool pays for itself


@dataclass(frozen=True)
class GeneratedModule:
    module_name: str
    schema_path: str  # as the user spelled it
    source: str
    reused: bool = False  # the file in the output folder was read and holds exactly `source`


def generate(
    paths: Iterable[str],
    *,
    out_dir: Path = Path("generated"),
    cache: OutputCache | None = None,
    redis: bool = False,
) -> list[GeneratedModule]:
    """Validate every schema first; render only when all are valid, else raise SchemaErrors.

    The modules are for ``out_dir``: their headers name each schema as seen from there. With
    ``cache``, a module whose file there is known to be this version's output for the same
    schema and settings is taken as it is instead of being rendered again. ``redis``: every
    struct gets its Redis twin (``[tool.sharedgen] redis = true``), not only those asking for it.
    """
    settings = "redis" if redis else ""  # what the output depends on beside the schema
    sources, errors = load_all(paths, out_dir)
    models: list[tuple[str, str, ModuleModel]] = []
    owners: dict[str, str] = {}
    for source in sources:
        spec, spec_errors = parse_spec(source)
        errors.extend(spec_errors)
        if source.module_name in owners:
            message = f"module {source.module_name!r} is also generated from {owners[source.module_name]}"
            errors.append(SchemaError(source.display_path, 1, 1, message))
        owners.setdefault(source.module_name, source.display_path)
        if spec is not None:
            model = build_module(spec, source_path=source.source_path, source_hash=source.source_hash, redis=redis)
            models.append((source.module_name, source.display_path, model))
    if errors:
        raise SchemaErrors(errors)

    texts: dict[str, str] = {}
    if cache is not None:
        for name, _, model in models:
            reused = cache.reuse(out_dir / f"{name}.py", header_line(model), settings)
            if reused is not None:
                texts[name] = reused
    pending = [(model, name) for name, _, model in models if name not in texts]
    if len(pending) >= PARALLEL_FROM and (os.cpu_count() or 1) > 1:
        from concurrent.futures import ProcessPoolExecutor  # only a build that renders needs it

        with ProcessPoolExecutor() as pool:  # black dominates the time, and it is CPU-bound
            rendered = list(pool.map(render_module, *zip(*pending, strict=True)))
    else:
        rendered = [render_module(model, name) for model, name in pending]
    for (_, name), text in zip(pending, rendered, strict=True):
        texts[name] = text
    if cache is not None:
        for text in texts.values():
            cache.remember(text, settings)
    rendered_names = {name for _, name in pending}
    return [GeneratedModule(name, shown, texts[name], name not in rendered_names) for name, shown, _ in models]
