"""Errors reported to users as ``PATH:LINE:COL: error: MESSAGE``."""

from __future__ import annotations

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
