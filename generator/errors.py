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
