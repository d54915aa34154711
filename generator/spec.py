"""Stage 2: the schema language as pydantic models, with every rule it has.

A document that validates here always renders to a valid module: names cannot collide
with generated members, defaults fit their C types, every group name is an identifier.
"""

from __future__ import annotations

import builtins
import difflib
import keyword
import math
import re
import unicodedata
from collections.abc import Callable
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError
from sharedgen.errors import SchemaError, describe, suggest_name
from sharedgen.load import Loc, SchemaSource, shortened_int
from sharedgen.runtime._types import SHARD_BYTES
from sharedgen.typecodes import FLOAT32_MAX, TYPE_CODES, Kind, TypeCode

MAX_LENGTH = (1 << 31) - 1
# Dimensions of a `shape` field, and the items of an array whose default may be a list of items
# (a longer list is a module of megabytes built item by item: fill the array after making it).
MAX_DIMENSIONS = 8
MAX_DEFAULT_ITEMS = 4096
# Shared memory one struct may take unless its schema raises the cap (`max_shared_bytes`).
DEFAULT_MAX_SHARED_BYTES = 16 << 20
# Soft keywords (`match`, `case`, `type`, `_`) are keywords only at the start of their own
# statements, where a generated name never stands: `s.match`, `match=1` and a class body's
# `match: int` read as names on every Python the generated code runs on, so they are allowed
# (`_` is refused as a leading underscore). The builtin `type` is not used by generated code.
# Builtins that generated class bodies evaluate (annotations, decorators): a property or
# parameter of that name would replace them there.
CLASS_SCOPE_BUILTINS = frozenset(
    {
        "BaseException",
        "classmethod",
        "TimeoutError",
        "bool",
        "bytes",
        "dict",
        "float",
        "int",
        "list",
        "memoryview",
        "object",
        "property",
        "staticmethod",
        "str",
        "tuple",
    }
)
DEFAULT_GROUP = "default"
# Constructor parameters beside the fields, and members every struct has, each with what it is
# (for the message refusing it). A field called `count` or `index` is allowed: it replaces the
# snapshot's tuple method of that name, as in collections.namedtuple; one called `name` wins over
# the named struct's name.
RESERVED_FIELD_NAMES = {
    "self": "the first parameter of the struct's methods",
    "ctx": "the constructor's parameter ctx= (the multiprocessing context)",
    "locks": "the constructor's parameter locks= (locks shared with other objects)",
    "snapshot": "the struct's method snapshot()",
    "get_lock": "the struct's method get_lock()",
    "batch": "the struct's method batch()",
    "as_dict": "the snapshot's method as_dict()",
    "on_redis": "the struct's method on_redis() (its Redis twin)",
    "create": "the named struct's method create()",
    "attach": "the named struct's method attach()",
    "open": "the named struct's method open()",
    "close": "the named struct's method close()",
    "unlink": "the named struct's method unlink()",
    "mode": "the parameter mode= of create() and open() (the file's permissions)",
}
# Per-field and per-group members: a field may not take one of these names.
FIELD_MEMBER_PREFIXES = ("add_", "exchange_", "compare_and_set_", "view_", "copy_")
GROUP_MEMBER_PREFIXES = ("update_", "locked_")
SNAPSHOT_SUFFIX = "Snapshot"
REDIS_SUFFIX = "OnRedis"  # the Redis twin of a struct


def _fail(message: str, at: Loc = (), rename: str = "") -> PydanticCustomError:
    """A validation error; ``at`` narrows the location below the validated value; ``rename``: the
    kind of name refused (field, struct, group), whose message ends with a valid name to use instead,
    found where the names beside it are known (see spec_errors)."""
    return PydanticCustomError("sharedgen", "{message}", {"message": message, "at": at, "rename": rename})


NameProblem = Callable[[str], str | None]


def _identifier_problem(name: str) -> str | None:
    """Why ``name`` (as Python reads it) cannot name anything generated, or None."""
    if not name.isidentifier():
        return "is not a Python identifier (letters, digits and '_', not starting with a digit)"
    if keyword.iskeyword(name):
        return "is a Python keyword, which cannot name an attribute or a parameter"
    if name.startswith("_"):
        return "starts with '_', which is kept for the generated helpers"
    return None


def _field_problem(name: str) -> str | None:
    if problem := _identifier_problem(name):
        return problem
    if name in RESERVED_FIELD_NAMES:
        return f"is taken by {RESERVED_FIELD_NAMES[name]}"
    if name in CLASS_SCOPE_BUILTINS:
        return f"would shadow the builtin {name!r} in the generated class, which uses it in annotations"
    return None


def _struct_problem(name: str) -> str | None:
    if problem := _identifier_problem(name):
        return problem
    if hasattr(builtins, name):
        return f"would shadow the builtin {name!r} in the generated module"
    return None


def _rename(name: str, valid: Callable[[str], bool], *, prefix: str, capitalize: bool = False) -> str:
    suggestion = suggest_name(name, valid, prefix=prefix, capitalize=capitalize)
    return f"; rename it, e.g. {suggestion!r}" if suggestion else ""


def _checked_name(name: str, what: str, problem: NameProblem, kind: str) -> str:
    """``name`` if it is valid and written as Python reads it (NFKC); else why not."""
    normal = unicodedata.normalize("NFKC", name)
    shown = f"{what} {name!r}" + (f" (read by Python as {normal!r})" if normal != name else "")
    reason = _identifier_problem(name) if not name.isidentifier() else problem(normal)
    if reason:
        raise _fail(f"{shown} {reason}", rename=kind)
    # Python reads identifiers in code in NFKC form (full-width letters and ligatures become plain
    # ones) but not the strings of __slots__ or getattr: only a name already in that form means one thing.
    if normal != name:
        raise _fail(f"{what} {name!r} is read by Python as {normal!r} (NFKC); write {normal!r}")
    return name


def _field_name(name: str) -> str:
    return _checked_name(name, "field name", _field_problem, "field")


def _struct_name(name: str) -> str:
    return _checked_name(name, "struct name", _struct_problem, "struct")


def _group_name(name: str) -> str:
    return _checked_name(name, "lock group", _identifier_problem, "group")


FieldName = Annotated[str, AfterValidator(_field_name)]
StructName = Annotated[str, AfterValidator(_struct_name)]


def _fits_int(value: object, code: TypeCode) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise _fail(f"{value!r} is not an int (type {code.code!r} is C {code.c_name})")
    low, high = code.portable_range
    if not low <= value <= high:
        shown = shortened_int(value)
        raise _fail(f"{shown} is out of range for type {code.code!r} (C {code.c_name}: {low}..{high})")
    return value


def _fits_float(value: object, code: TypeCode) -> float:
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise _fail(f"{value!r} is not a number (type {code.code!r} is C {code.c_name})")
    try:
        number = float(value)
    except OverflowError:  # an int beyond every double
        raise _fail(f"{shortened_int(int(value))} is out of range for type {code.code!r} (C {code.c_name})") from None
    if not math.isfinite(number):
        raise _fail(f"{value!r} is not a finite number")
    if code.code == "f" and abs(number) > FLOAT32_MAX:
        raise _fail(f"{value!r} is out of range for type 'f' (C float)")
    return number


def _fits_bool(value: object, code: TypeCode) -> bool:
    if not isinstance(value, bool):
        raise _fail(f"{value!r} is not true or false (type '?')")
    return value


def _as_bytes(value: object) -> bytes:
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, bytes):
        return value
    raise _fail(f"{value!r} is not a string (type 'c' holds bytes)")


def _as_str(value: object) -> str:
    if not isinstance(value, str):
        raise _fail(f"{value!r} is not a string (type 'u' holds str)")
    if any("\ud800" <= ch <= "\udfff" for ch in value):
        raise _fail(f"{value!r} holds a lone surrogate, which wchar_t cannot hold")
    return value


def _one_char(value: object, code: TypeCode) -> bytes | str:
    text = _as_bytes(value) if code.kind is Kind.BYTES else _as_str(value)
    if len(text) != 1:
        raise _fail(f"{value!r} must be exactly one {'byte' if code.kind is Kind.BYTES else 'character'}")
    return text


def _fits_capacity(value: object, code: TypeCode, length: int) -> bytes | str:
    text = _as_bytes(value) if code.kind is Kind.BYTES else _as_str(value)
    unit = "bytes" if code.kind is Kind.BYTES else "characters"
    if len(text) > length:
        raise _fail(f"{value!r} is {len(text)} {unit} long, more than the capacity of {length}")
    if (text.find(b"\0") if isinstance(text, bytes) else text.find("\0")) >= 0:
        raise _fail(f"{value!r} holds a NUL character, which ends a C string")
    return text


SCALAR_DEFAULT_CHECKS: dict[Kind, Callable[[object, TypeCode], Any]] = {
    Kind.INT: _fits_int,
    Kind.FLOAT: _fits_float,
    Kind.BOOL: _fits_bool,
    Kind.BYTES: _one_char,
    Kind.STR: _one_char,
}


class FieldSpec(BaseModel):
    """One field of a struct: a scalar, an array, or a fixed-capacity string."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: str = Field(description="Type code: one of " + " ".join(TYPE_CODES))
    length: Annotated[StrictInt, Field(ge=1, le=MAX_LENGTH)] | None = Field(
        None, description="Makes the field an array; for 'c' and 'u' a fixed-capacity string."
    )
    shape: Annotated[list[Annotated[StrictInt, Field(ge=1, le=MAX_LENGTH)]], Field(min_length=1)] | None = Field(
        None,
        description="Makes a numeric or bool field an n-dimensional array, in C order ([480, 640, 3]);"
        " length: N is shape: [N].",
    )
    lock: str | StrictBool = Field(
        DEFAULT_GROUP, description="Lock group shared with other fields; false for no lock (single-writer)."
    )
    shards: Annotated[StrictInt, Field(ge=2, le=1024)] | None = Field(
        None,
        description="A striped counter: add_<field> touches only the calling process's slot of this many.",
    )
    default: Any = Field(None, description="Initial value, checked against type, range and capacity.")
    doc: str | None = Field(None, description="Documentation for the generated property.")

    @field_validator("type")
    @classmethod
    def _known_type(cls, code: str) -> str:
        if code not in TYPE_CODES:
            close = difflib.get_close_matches(code, TYPE_CODES, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise _fail(f"unknown type code {code!r}{hint}; expected one of {' '.join(TYPE_CODES)}")
        return code

    @field_validator("lock", mode="before")
    @classmethod
    def _group_name(cls, lock: object) -> object:
        if lock is True:
            return DEFAULT_GROUP
        if isinstance(lock, str):
            _group_name(lock)
        elif lock is not False:
            raise _fail(f"must be a lock group name or false, not {_in_schema_words(lock)}")
        return lock

    @field_validator("default")
    @classmethod
    def _default_fits(cls, value: Any, info: ValidationInfo) -> Any:
        code = TYPE_CODES.get(info.data.get("type", ""))
        if value is None or code is None or "length" not in info.data:
            return value
        length, shape = info.data["length"], info.data.get("shape")
        if length is None and shape is None:
            return SCALAR_DEFAULT_CHECKS[code.kind](value, code)
        if code.kind in (Kind.BYTES, Kind.STR) and length is not None:
            return _fits_capacity(value, code, length)
        if not isinstance(value, list):
            return SCALAR_DEFAULT_CHECKS[code.kind](value, code)
        if shape is not None and len(shape) > 1:
            raise _fail(
                f"a shape field's default is one value for every item, not a list; fill the array after"
                f" making the struct (s.field = an array of shape {shape})"
            )
        items = length if shape is None else shape[0]
        if len(value) != items:
            raise _fail(f"{len(value)} items given for an array of {items}")
        if len(value) > MAX_DEFAULT_ITEMS:
            raise _fail(
                f"a default of {len(value)} different items is more than {MAX_DEFAULT_ITEMS}: give one value"
                " for every item, and fill the array after making the struct (s.field = values)"
            )
        return tuple(SCALAR_DEFAULT_CHECKS[code.kind](item, code) for item in value)

    @model_validator(mode="after")
    def _shape_fits(self) -> FieldSpec:
        if self.shape is None:
            return self
        if self.length is not None:
            raise _fail("give length or shape, not both (length: N is shape: [N])", at=("shape",))
        if self.code.kind not in (Kind.INT, Kind.FLOAT, Kind.BOOL):
            raise _fail(
                f"shape is for numeric and bool types; type {self.type!r} takes length (a fixed-capacity string)",
                at=("shape",),
            )
        if len(self.shape) > MAX_DIMENSIONS:
            raise _fail(f"{len(self.shape)} dimensions are more than {MAX_DIMENSIONS}", at=("shape",))
        return self

    @model_validator(mode="after")
    def _shards_fit(self) -> FieldSpec:
        if self.shards is None:
            return self
        if self.shape is not None:
            raise _fail("shards are for numeric scalar fields (a counter), not arrays or text", at=("shards",))
        if self.code.kind not in (Kind.INT, Kind.FLOAT) or self.length is not None:
            raise _fail("shards are for numeric scalar fields (a counter), not arrays or text", at=("shards",))
        if self.lock is False:
            raise _fail("a sharded field has a lock per shard; it cannot also be lock: false", at=("shards",))
        return self

    @property
    def code(self) -> TypeCode:
        return TYPE_CODES[self.type]

    @property
    def shared_bytes(self) -> int:
        """Shared memory the field takes on the platform where its C type is widest."""
        if self.shards:
            return self.shards * SHARD_BYTES  # a cache line per shard, as the runtime lays them out
        return self.code.largest_size * self.items

    @property
    def dims(self) -> tuple[int, ...] | None:
        """A numeric or bool array's shape (length: N is (N,)); None for scalars and strings."""
        if self.shape is not None:
            return tuple(self.shape)
        if self.length is None or self.code.kind in (Kind.BYTES, Kind.STR):
            return None
        return (self.length,)

    @property
    def items(self) -> int:
        """How many C values the field holds (1 for a scalar; a string's capacity)."""
        return math.prod(self.shape) if self.shape is not None else self.length or 1

    @property
    def group(self) -> str | None:
        """The lock group, or None for a field without one (no lock, or a lock per shard)."""
        return None if self.lock is False or self.shards else str(self.lock)


class StructSpec(BaseModel):
    """A struct: fields in declaration order, grouped by lock."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    doc: str | None = Field(None, description="Documentation for the generated class.")
    lock_timeout: Annotated[StrictFloat | StrictInt, Field(gt=0, allow_inf_nan=False)] | None = Field(
        None, description="Seconds to wait for a lock before raising TimeoutError; absent = wait forever."
    )
    recover_locks: StrictBool = Field(
        False,
        description="Record each lock's holder so that a waiter takes over the lock of a holder that died,"
        " first finishing the group write it was in the middle of.",
    )
    max_shared_bytes: Annotated[StrictInt, Field(ge=1)] = Field(
        DEFAULT_MAX_SHARED_BYTES, description="Cap on the shared memory of one instance, in bytes."
    )
    redis: StrictBool = Field(
        False,
        description="Also generate the struct's Redis twin (on_redis); [tool.sharedgen] redis = true"
        " turns it on for every struct of the project.",
    )
    fields: dict[FieldName, FieldSpec] = Field(min_length=1, description="Fields in declaration order.")

    @model_validator(mode="after")
    def _fits_cap(self) -> StructSpec:
        total = sum(f.shared_bytes for f in self.fields.values())
        if total > self.max_shared_bytes:
            name, largest = max(self.fields.items(), key=lambda item: item[1].shared_bytes)
            where = (
                ("shards",)
                if largest.shards
                else ("shape",) if largest.shape else ("length",) if largest.length else ()
            )
            raise _fail(
                f"the struct needs up to {total} bytes of shared memory, more than max_shared_bytes"
                f" ({self.max_shared_bytes}); to allow it, write max_shared_bytes: {total} in the struct",
                at=("fields", name) + where,
            )
        return self

    @model_validator(mode="after")
    def _no_collisions(self) -> StructSpec:
        members: dict[str, str] = {}
        for group in self.groups:
            for prefix in GROUP_MEMBER_PREFIXES:
                members[prefix + group] = f"method of lock group {group!r}"
        for name in self.fields:
            for prefix in FIELD_MEMBER_PREFIXES:
                members[prefix + name] = f"method of field {name!r}"
        for name in self.fields:
            if name in members:
                hint = _rename(
                    name,
                    lambda c: _field_problem(c) is None and c not in members and c not in self.fields,
                    prefix="field",
                )
                raise _fail(
                    f"field name {name!r} collides with the generated {members[name]}{hint}", at=("fields", name)
                )
        return self

    @property
    def groups(self) -> list[str]:
        """Lock groups in order of first use: the one order in which locks are taken."""
        return list(dict.fromkeys(f.group for f in self.fields.values() if f.group is not None))


class SchemaFile(BaseModel):
    """A schema file: one or more structs."""

    model_config = ConfigDict(extra="forbid", frozen=True, title="sharedgen schema")

    schema_ref: str | None = Field(None, alias="$schema", description="JSON Schema reference, for editors.")
    structs: dict[StructName, StructSpec] = Field(min_length=1, description="Structs by class name.")

    @model_validator(mode="after")
    def _no_class_collisions(self) -> SchemaFile:
        for name in self.structs:
            for suffix, what in ((SNAPSHOT_SUFFIX, "snapshot class"), (REDIS_SUFFIX, "Redis twin")):
                owner = name.removesuffix(suffix)
                if owner != name and owner in self.structs:
                    hint = _rename(name, lambda c: self._free_class_name(c), prefix="Struct", capitalize=True)
                    raise _fail(
                        f"struct name {name!r} is taken by the {what} of struct {owner!r}{hint}", at=("structs", name)
                    )
        return self

    def _free_class_name(self, name: str) -> bool:
        """Whether a struct could be called ``name`` beside the structs of this file."""
        taken = {owner + suffix for owner in self.structs for suffix in ("", SNAPSHOT_SUFFIX, REDIS_SUFFIX)}
        own = {name, name + SNAPSHOT_SUFFIX, name + REDIS_SUFFIX}
        return _struct_problem(name) is None and not own & taken


def twin_errors(source: SchemaSource, schema: SchemaFile, redis_everywhere: bool) -> list[SchemaError]:
    """Fields a struct's Redis twin cannot hold: arrays of several dimensions (a twin stores an
    array item by item, one hash field each, which is no way to move frames or matrices)."""
    errors = []
    for struct_name, struct in schema.structs.items():
        if not (struct.redis or redis_everywhere):
            continue
        for field_name, field in struct.fields.items():
            if field.shape is not None and len(field.shape) > 1:
                why = "redis: true" if struct.redis else "[tool.sharedgen] redis = true"
                message = (
                    f"struct {struct_name!r}, field {field_name!r}, shape: a Redis twin ({why}) holds no array of"
                    " several dimensions; give the field length: instead, or keep the struct out of Redis"
                )
                errors.append(source.error(("structs", struct_name, "fields", field_name, "shape"), message))
    return errors


def json_schema() -> dict[str, Any]:
    """The JSON Schema of schema files, for editors."""
    return SchemaFile.model_json_schema(by_alias=True)


MODELS: dict[int, type[BaseModel]] = {0: SchemaFile, 2: StructSpec, 4: FieldSpec}


def _explain(error: Any, loc: Loc, data: Any) -> tuple[str, bool]:
    """The message for one pydantic error, and whether it points at a value (not a key)."""
    kind = error["type"]
    if kind == "extra_forbidden":
        model = MODELS.get(len(loc) - 1)
        known = [f.alias or name for name, f in model.model_fields.items()] if model else []
        close = difflib.get_close_matches(str(loc[-1]), known, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else f" (expected one of: {', '.join(known)})"
        return f"{describe(loc[:-1])}unknown key {loc[-1]!r}{hint}", False
    if kind == "missing":
        return f"{describe(loc[:-1])}missing required key {loc[-1]!r}", False
    if kind == "sharedgen":  # a rule of ours: about a name (`at` given) or about a value
        ctx = error["ctx"]
        hint = _valid_instead(ctx["rename"], error["input"], loc, data) if ctx["rename"] else ""
        return describe(loc) + ctx["message"] + hint, not ctx["at"]
    if kind == "model_type" and not loc:
        return "the top level must be a mapping with a 'structs' key", False
    if kind == "too_short" and loc and loc[-1] in ("fields", "structs"):
        return f"{describe(loc[:-1])}no {loc[-1]} defined", False
    where = describe(loc) or (f"{loc[0]}: " if loc else "")
    given = _in_schema_words(error.get("input"))
    if kind in ("model_type", "dict_type"):
        return where + _mapping_expected(loc, error.get("input")) + f", not {given}", True
    if kind in EXPECTED:
        expected = "a type code (one of " + " ".join(TYPE_CODES) + ")" if loc[-1:] == ("type",) else EXPECTED[kind]
        return f"{where}must be {expected}, not {given}", True
    if kind in BOUNDS:
        word, key = BOUNDS[kind]
        return f"{where}must be {word} {error['ctx'][key]}, not {given}", True
    # Any other rule (none is known to reach here): pydantic's words, without its class names.
    message = error["msg"].replace("Input should be", "must be")
    message = re.sub(r" or instance of \w+", "", message)
    return where + message[0].lower() + message[1:], True


def _valid_instead(kind: str, name: str, loc: Loc, data: Any) -> str:
    """``; rename it, e.g. 'x'``: a name for a refused ``name`` (of a field, a struct or a lock group
    at ``loc`` of the document ``data``) that is valid and, beside the names next to it, free."""
    if kind == "group":
        return _rename(name, lambda c: _identifier_problem(c) is None, prefix="group")
    neighbours = data
    for key in loc[:-1]:
        neighbours = neighbours.get(key, {}) if isinstance(neighbours, dict) else {}
    others = {str(other) for other in neighbours if other != name} if isinstance(neighbours, dict) else set()
    if kind == "struct":
        classes = {other + suffix for other in others for suffix in ("", SNAPSHOT_SUFFIX, REDIS_SUFFIX)}
        return _rename(
            name,
            lambda c: _struct_problem(c) is None and not {c, c + SNAPSHOT_SUFFIX, c + REDIS_SUFFIX} & classes,
            prefix="Struct",
            capitalize=True,
        )
    locks = [spec.get("lock", DEFAULT_GROUP) for spec in neighbours.values() if isinstance(spec, dict)]
    groups = {DEFAULT_GROUP if lock is True else lock for lock in locks if isinstance(lock, str) or lock is True}
    members = {prefix + other for other in others for prefix in FIELD_MEMBER_PREFIXES}
    members |= {prefix + group for group in groups for prefix in GROUP_MEMBER_PREFIXES}

    def free(candidate: str) -> bool:
        own = {prefix + candidate for prefix in FIELD_MEMBER_PREFIXES}
        return candidate not in others | members and not own & others

    return _rename(name, lambda c: _field_problem(c) is None and free(c), prefix="field")


# What pydantic's error kinds ask for, in the words of a schema file.
EXPECTED = {
    "string_type": "text",
    "int_type": "an integer",
    "int_parsing": "an integer",
    "int_from_float": "an integer",
    "float_type": "a number",
    "float_parsing": "a number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "finite_number": "a finite number",
}
BOUNDS = {
    "greater_than": ("greater than", "gt"),
    "greater_than_equal": ("at least", "ge"),
    "less_than": ("less than", "lt"),
    "less_than_equal": ("at most", "le"),
}


def _mapping_expected(loc: Loc, given: object) -> str:
    """What a mapping expected at ``loc`` holds."""
    if len(loc) == 1:
        return "must be a mapping of struct names to structs"
    if len(loc) == 2:
        return "a struct must be a mapping with a 'fields' key"
    if len(loc) == 3:
        return "must be a mapping of field names to fields"
    if isinstance(given, str) and given in TYPE_CODES:
        return f"a field must be a mapping with a 'type' key (write {{type: {given!r}}})"
    return "a field must be a mapping with a 'type' key, such as {type: 'i'}"


def _in_schema_words(value: object) -> str:
    """A value as a schema file writes it, with what it is (errors show no Python class names)."""
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return f"the number {shortened_int(value) if isinstance(value, int) else repr(value)}"
    if isinstance(value, str):
        return f"the text {value!r}" if len(value) <= 40 else f"a text of {len(value)} characters"
    if isinstance(value, list):
        return "a list" if value else "an empty list"
    if isinstance(value, dict):
        return "a mapping" if value else "an empty mapping"
    return "a value of another kind"


def spec_errors(source: SchemaSource, exc: ValidationError) -> list[SchemaError]:
    """Turn pydantic's errors into ``PATH:LINE:COL`` errors naming struct and field."""
    errors: dict[Loc, SchemaError] = {}
    for error in exc.errors():
        loc = _schema_part(tuple(p for p in error["loc"] if p != "[key]"))
        loc += tuple(error.get("ctx", {}).get("at", ()))
        message, of_value = _explain(error, loc, source.data)
        of_value = of_value and "[key]" not in error["loc"]
        # A union reports one error per member type at the same place: the first says enough.
        errors.setdefault(loc, source.error(loc, message, of_value=of_value))
    return list(errors.values())


def _schema_part(loc: Loc) -> Loc:
    """The part of pydantic's location that names keys of the document (not union member types)."""
    if loc[:1] == ("structs",) and len(loc) > 2:
        return loc[:5] if loc[2] == "fields" else loc[:3]
    return loc[:2]


def parse_spec(source: SchemaSource) -> tuple[SchemaFile | None, list[SchemaError]]:
    """Validate one loaded file; every problem is returned, not just the first."""
    try:
        return SchemaFile.model_validate(source.data, by_alias=True), []
    except ValidationError as exc:
        return None, spec_errors(source, exc)
