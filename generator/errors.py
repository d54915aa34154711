"""Errors reported to users as ``PATH:LINE:COL: error: MESSAGE``."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class SchemaError:
    """One problem in one schema file, at a 1-based line and column."""

    path: str
    line: int
    column: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.column}: error: {self.message}"


def describe(loc: tuple[str | int, ...]) -> str:
    """``struct 'X', field 'y', key: `` for the parts of a document path that exist."""
    parts = []
    if len(loc) >= 2 and loc[0] == "structs":
        parts.append(f"struct {loc[1]!r}")
    if len(loc) >= 4 and loc[2] == "fields":
        parts.append(f"field {loc[3]!r}")
    if len(loc) == 5:
        parts.append(str(loc[4]))
    elif len(loc) == 3:
        parts.append(str(loc[2]))
    return ", ".join(parts) + ": " if parts else ""


def suggest_name(name: str, valid: Callable[[str], bool], *, prefix: str, capitalize: bool = False) -> str | None:
    """A name close to ``name`` that ``valid`` accepts: ``name`` as Python reads it, with what is not
    an identifier's character turned into '_', no leading or trailing '_', then with a '_' added
    (PEP 8's way around a keyword: ``class_``) or a number; None when none of these is valid."""
    base = re.sub(r"\W+", "_", unicodedata.normalize("NFKC", name)).strip("_")
    if not base[:1].isidentifier():  # empty, or starting with a digit
        base = f"{prefix}_{base}".rstrip("_")
    candidates = [base] + ([base[0].upper() + base[1:], base + "Struct"] if capitalize else []) + [base + "_"]
    candidates += [f"{base}{number}" for number in range(2, 10)]
    return next((c for c in candidates if c.isidentifier() and valid(c)), None)


class SchemaErrors(Exception):
    """Every problem found in a run; nothing is written when this is raised."""

    def __init__(self, errors: list[SchemaError]) -> None:
        super().__init__("\n".join(map(str, errors)))
        self.errors = sorted(errors)

    @classmethod
    def single(cls, path: str, message: str) -> SchemaErrors:
        return cls([SchemaError(path, 1, 1, message)])


class InternalError(Exception):
    """A bug in sharedgen itself (for example a template that renders invalid Python)."""
