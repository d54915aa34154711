"""Stage 4: the view-model to formatted Python source.

Rendering uses jinja2 with StrictUndefined; the result must parse before black sees it
(a failure there is a bug in sharedgen, reported with the offending text saved).
"""

from __future__ import annotations

import ast
import functools
import tempfile

import black
import jinja2

from sharedgen.errors import InternalError
from sharedgen.model import ModuleModel

# Fixed, never read from the user's configuration: output must not depend on where it runs.
BLACK_MODE = black.Mode(
    target_versions={black.TargetVersion.PY310},
    line_length=88,
    string_normalization=True,
    magic_trailing_comma=True,
    preview=False,
)


def literal(value: object) -> str:
    """A Python literal for a value from a schema: the only way such values enter code."""
    if isinstance(value, list):
        return "[" + ", ".join(map(literal, value)) + "]"
    if isinstance(value, tuple):
        return "(" + ", ".join(map(literal, value)) + ("," if len(value) == 1 else "") + ")"
    if value is None or isinstance(value, (bool, int, float, str, bytes)):
        text = repr(value)
        if ast.literal_eval(text) != value and value == value:
            raise InternalError(f"no exact literal for {value!r}")
        return text
    raise InternalError(f"no literal for {type(value).__name__}")


def _escape_char(char: str) -> str:
    if char == "\\":
        return "\\\\"
    if char == '"':
        return '\\"'
    if char == "\n" or char.isprintable():
        return char
    return char.encode("unicode_escape").decode("ascii")


def docstring(text: str, indent: int) -> str:
    """A triple-quoted literal holding exactly ``text``, its lines indented for a body."""
    lines = "".join(map(_escape_char, text)).split("\n")
    if len(lines) == 1:
        return f'"""{lines[0]}"""'
    pad = " " * indent
    body = "\n".join(pad + line if line else "" for line in lines[1:])
    return f'"""{lines[0]}\n{body}\n{pad}"""'


def comment(text: str) -> str:
    """Text safe inside a ``#`` comment: nothing in it can end the line."""
    return "".join(char if char.isprintable() else char.encode("unicode_escape").decode("ascii") for char in text)


@functools.cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("sharedgen.templates", "."),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )
    env.filters.update(literal=literal, docstring=docstring, comment=comment)
    return env


def render_source(module: ModuleModel) -> str:
    """The unformatted module text."""
    return environment().get_template("module.py.jinja").render(module=module)


def format_source(source: str, name: str) -> str:
    """Parse (our bug if it fails: the text is saved for the report), then format with black."""
    try:
        ast.parse(source)
    except SyntaxError as exc:
        with tempfile.NamedTemporaryFile("w", suffix=f"-{name}.py", prefix="sharedgen-", delete=False) as saved:
            saved.write(source)
        raise InternalError(
            f"rendered code for {name} does not parse ({exc.msg}, line {exc.lineno}); text saved to {saved.name}"
        ) from exc
    return black.format_str(source, mode=BLACK_MODE)


def render_module(module: ModuleModel, name: str) -> str:
    return format_source(render_source(module), name)
