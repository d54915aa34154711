"""Named structs: a struct's block in a file of /dev/shm that any process of the machine maps
by name. Imported when a process first creates or attaches a named struct (or a tool reads one).
"""

# The functions here are SharedStruct's named-struct methods, kept apart so that a process that
# names no struct never imports them: they set up the struct's own members.
# pyright: reportPrivateUsage=false

from __future__ import annotations

import ctypes as _ctypes
import errno as _errno
import functools as _functools
import importlib as _importlib
import os as _os
import stat as _stat
import struct as _struct
import sys as _sys
import time as _time
from contextlib import suppress as _suppress
from typing import Any as _Any
from typing import TypeVar as _TypeVar
from typing import cast as _cast

from ._base import ready
from ._layout import Layout, aligned
from ._locks import Lock
from ._process import pid_namespace, process_start
from ._robust import LOCK_WORDS, RecoverableLock, pthread
from ._setup import initial_values, write_initial
from ._struct import Closed, SharedStruct

_Self = _TypeVar("_Self", bound="SharedStruct[_Any]")

# Named structs: a struct's block in a file of /dev/shm that any process of the machine maps by
# name. The block starts with a header, written last by its creator:
#
#   0   magic (8 bytes), the format version, the description's length, where the fields
#       start, the block's size
#   64  the description: JSON of the struct's name, layout fingerprint, platform ABI and fields
#       (type code, length, lock group, shards, offset), and where each lock lives
#   ... the fields, as in an anonymous struct's block; then one robust mutex per lock group
#       and per sharded field.
#
# Nothing here registers with multiprocessing's resource tracker: a name lives until unlinked.

NAME_PREFIX = (
    "sharedgen-"  # of the files in /dev/shm, so that operators see whose they are
)
SHM_DIR = "/dev/shm"
FORMAT_VERSION = 2
_MAGIC = b"sharedgn"
_FIXED = _struct.Struct("=8sIIQQ")
_HEADER_ROOM = 64
# How long an attacher waits for a creator to publish the header.
READY_TIMEOUT = 5.0


class NamedStructError(ValueError):
    """A named block that this struct class cannot use: not sharedgen's, damaged, or made for
    another layout, format version or platform."""


def shm_path(name: object) -> str:
    """The file of a named struct; names the platform refuses raise ValueError."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"a named struct's name must be a non-empty str, not {name!r}")
    if "/" in name or "\0" in name or name in (".", ".."):
        raise ValueError(
            f"a named struct's name cannot be '.' or '..', nor contain '/' or NUL: {name!r}"
        )
    if len((NAME_PREFIX + name).encode("utf-8", "surrogateescape")) > 255:
        raise ValueError(
            f"a named struct's name is at most {255 - len(NAME_PREFIX)} bytes: {name!r}"
        )
    return f"{SHM_DIR}/{NAME_PREFIX}{name}"


@_functools.cache
def platform_abi() -> str:
    """What a block's mutexes and C types depend on: OS, machine, C library, pointer size."""
    platform = _importlib.import_module("platform")
    libc = platform.libc_ver()[0] or "unknown-libc"
    return f"{_sys.platform}-{platform.machine()}-{libc}-{8 * _ctypes.sizeof(_ctypes.c_void_p)}bit"


@_functools.cache
def _description(layout: Layout) -> dict[str, _Any]:
    """A struct's layout as tools read it (sharedgen show), and its fingerprint: made once per
    struct class, not at every attach (a named struct passed to Pool.map is attached per task).
    """
    fields = [
        {
            "name": f.name,
            "type": f.code,
            "length": f.length,
            "lock": None if f.group is None else layout.groups[f.group].name,
            "shards": f.shards,
            "offset": f.offset,
            "size": _ctypes.sizeof(f.ctype),
            # Arrays only, so that the layouts of structs without them keep their fingerprints.
            **({"shape": list(f.shape)} if f.storage == "array" else {}),
        }
        for f in layout.fields
    ]
    json = _importlib.import_module("json")
    hashlib = _importlib.import_module("hashlib")
    shape = json.dumps([fields, [g.name for g in layout.groups]], sort_keys=True)
    return {
        "struct": layout.name,
        "fingerprint": hashlib.sha256(shape.encode()).hexdigest()[:32],
        "abi": platform_abi(),
        "fields": fields,
        "groups": [g.name for g in layout.groups],
        "lock_timeout": layout.lock_timeout,
    }


class _Block:
    """Where a named struct's parts are in its block."""

    def __init__(self, layout: Layout, data: int) -> None:
        self.data = data
        self.locks = aligned(self.data + layout.size, 64)
        lock_bytes = 8 * LOCK_WORDS
        self.group_locks = tuple(
            self.locks + i * lock_bytes for i in range(len(layout.groups))
        )
        sharded = [f.name for f in layout.fields if f.shards]
        self.shard_locks = {
            name: self.locks + (len(layout.groups) + i) * lock_bytes
            for i, name in enumerate(sharded)
        }
        self.size = self.locks + (len(layout.groups) + len(sharded)) * lock_bytes


def _differences(expected: dict[str, _Any], found: dict[str, _Any]) -> str:
    """How a block's layout differs from the class's, field by field."""
    mine = {f["name"]: f for f in expected["fields"]}
    theirs = {f["name"]: f for f in found.get("fields", [])}
    notes = [f"field {n!r} only in the block" for n in theirs if n not in mine]
    notes += [f"field {n!r} missing from the block" for n in mine if n not in theirs]
    for name in mine.keys() & theirs.keys():
        for key in ("type", "length", "shape", "lock", "shards", "offset"):
            if mine[name].get(key) != theirs[name].get(key):
                notes.append(
                    f"field {name!r} {key} {theirs[name].get(key)!r} in the block, {mine[name].get(key)!r} here"
                )
    if not notes and list(mine) != list(theirs):
        notes.append("the fields are in another order")
    return "; ".join(sorted(notes)) or "the lock groups differ"


def describe(name: str) -> dict[str, _Any]:
    """The description in a named struct's header, read from its file without mapping it (for
    tools): FileNotFoundError if there is none, NamedStructError as read_header()."""
    # Not through a link, and without waiting on a FIFO: anyone may put files in /dev/shm.
    flags = _os.O_RDONLY | _os.O_NOFOLLOW | _os.O_NONBLOCK | _os.O_CLOEXEC
    with open(_os.open(shm_path(name), flags), "rb") as block:
        status = _os.fstat(block.fileno())
        if not _stat.S_ISREG(status.st_mode):
            raise NamedStructError(f"{name} is not a sharedgen struct (not a file)")
        size = status.st_size
        head = block.read(_HEADER_ROOM)
        if size >= _HEADER_ROOM and head[:8] == _MAGIC:
            head += block.read(_FIXED.unpack_from(head)[2])
    return read_header(head, size, name)


# What a description must hold, and of what type (read_header refuses any other as damaged).
_DESCRIBED = {
    "struct": str,
    "fingerprint": str,
    "abi": str,
    "fields": list,
    "groups": list,
    "creator": dict,
}


def read_header(block: _Any, size: int, shown: str) -> dict[str, _Any]:
    """A block's description, checked: NamedStructError for anything that is not a whole,
    published sharedgen block of this format version and platform."""
    if size == 0 or (size >= _HEADER_ROOM and not bytes(block[:8]).strip(b"\0")):
        raise NamedStructError(
            f"{shown} is not finished: its creator is still at work, or died creating it "
            f"(remove it with: sharedgen rm {shown})"
        )
    if size < _HEADER_ROOM:
        raise NamedStructError(
            f"{shown} is not a sharedgen struct ({size} bytes, too short)"
        )
    magic, version, length, data, total = _FIXED.unpack_from(block, 0)
    if magic != _MAGIC:
        raise NamedStructError(
            f"{shown} is not a sharedgen struct (no sharedgen header)"
        )
    if version != FORMAT_VERSION:
        raise NamedStructError(
            f"{shown} has block format {version}; this sharedgen reads format "
            f"{FORMAT_VERSION}. It was made by another version of sharedgen, whose processes "
            f"can go on using it; to use it from this one, remove it when they are done "
            f"(sharedgen rm {shown}) and create it again"
        )
    if total != size or not _HEADER_ROOM + length <= data <= size:
        raise NamedStructError(
            f"{shown} is damaged: its header says {total} bytes, the block has {size}"
        )
    json = _importlib.import_module("json")
    try:
        text = bytes(block[_HEADER_ROOM : _HEADER_ROOM + length]).decode("utf-8")
        parsed: object = json.loads(text)
        if not isinstance(parsed, dict):
            raise TypeError
        description = _cast("dict[str, _Any]", parsed)
        if any(not isinstance(description.get(k), t) for k, t in _DESCRIBED.items()):
            raise TypeError
        timeout = description.get("lock_timeout")
        if timeout is not None and type(timeout) not in (int, float):
            raise TypeError
        abi = description["abi"]
    except (UnicodeDecodeError, ValueError, TypeError, KeyError):
        raise NamedStructError(
            f"{shown} is damaged: its description does not parse"
        ) from None
    if abi != platform_abi():
        raise NamedStructError(
            f"{shown} was made on platform {abi}; this is {platform_abi()} (locks differ)"
        )
    description["data_offset"] = data
    return description


def _map(path: str, shown: str, deadline: float) -> tuple[_Any, int]:
    """The named block mapped, once its creator has published the header (waiting until deadline)."""
    mmap = _importlib.import_module("mmap")
    fd = _os.open(path, _os.O_RDWR | _os.O_NOFOLLOW | _os.O_CLOEXEC)
    try:
        while True:
            size = _os.fstat(fd).st_size
            if (
                0 < size < _HEADER_ROOM
            ):  # a creator sizes the file in one step: not ours
                raise NamedStructError(
                    f"{shown} is not a sharedgen struct ({size} bytes, too short)"
                )
            if size >= _HEADER_ROOM:
                block = mmap.mmap(fd, size)
                magic = block[:8]
                if magic == _MAGIC or magic.strip(b"\0"):
                    return block, size
                block.close()  # not published yet: its creator is still at work, or died
            if _time.monotonic() >= deadline:
                raise NamedStructError(
                    f"{shown} was never finished by its creator (it may have died creating it); "
                    f"remove it with: sharedgen rm {shown}"
                )
            _time.sleep(0.001)
    finally:
        _os.close(fd)


def open_named(
    cls: type[_Self],
    name: str,
    values: tuple[object, ...] | None,
    mode: int,
    exclusive: bool,
) -> _Self:
    """Create (values given) or attach to a named struct; exclusive: the name must be new."""
    layout = cls.__sharedgen_layout__
    path = shm_path(name)
    if pthread is None:
        raise OSError(
            f"named structs need robust process-shared mutexes, which {_sys.platform} lacks"
        )
    ready(cls)
    struct = cls.__new__(cls)
    struct._name, struct._start_method = name, "named"
    if values is not None:
        checked = initial_values(layout, values)
        try:
            _create_block(struct, path, checked, mode)
            return struct
        except FileExistsError:
            if exclusive:
                raise FileExistsError(
                    _errno.EEXIST, f"a named struct {name!r} exists", path
                ) from None
    try:
        block, size = _map(path, name, _time.monotonic() + READY_TIMEOUT)
    except FileNotFoundError:
        raise FileNotFoundError(
            _errno.ENOENT, f"no named struct {name!r}", path
        ) from None
    description = read_header(block, size, name)
    namespace = description["creator"].get("pid_namespace")
    if namespace is not None and namespace != pid_namespace():
        raise NamedStructError(
            f"{name!r} was made in another pid namespace ({namespace}; this process is in "
            f"{pid_namespace()}): its locks and shards know processes by pid, which two "
            "namespaces share (containers sharing /dev/shm need one pid namespace: --pid=host, "
            "or --pid=container:)"
        )
    mine = _description(layout)
    found = description.get("struct")
    if found != layout.name:
        raise NamedStructError(f"{name!r} holds struct {found!r}, not {layout.name}")
    if description.get("fingerprint") != mine["fingerprint"]:
        raise NamedStructError(
            f"{name!r} holds another layout of {layout.name} (a schema changed since it was "
            f"made, or code generated from an older one): {_differences(mine, description)}"
        )
    plan = _Block(layout, description["data_offset"])
    if plan.size != size:
        raise NamedStructError(
            f"{name!r} is damaged: {size} bytes, expected {plan.size}"
        )
    struct._block, struct._base = block, plan.data
    struct._open()
    _bind_locks(struct, plan, initialize=False)
    return struct


def _create_block(
    struct: SharedStruct[_Any], path: str, values: list[_Any], mode: int
) -> None:
    """Make the block, fill it, and publish its header last (attachers wait for that)."""
    layout = struct.__sharedgen_layout__
    json = _importlib.import_module("json")
    mmap = _importlib.import_module("mmap")
    description = dict(_description(layout))  # the cached one stays the layout's alone
    pid = _os.getpid()
    description["creator"] = {
        "pid": pid,
        "start": process_start(pid),
        "pid_namespace": pid_namespace(),
    }
    text = json.dumps(description, separators=(",", ":")).encode()
    plan = _Block(layout, aligned(_HEADER_ROOM + len(text), 64))
    flags = _os.O_RDWR | _os.O_CREAT | _os.O_EXCL | _os.O_NOFOLLOW | _os.O_CLOEXEC
    fd = _os.open(path, flags, mode)
    try:
        _os.fchmod(fd, mode)  # as asked, whatever the umask
        _os.ftruncate(fd, plan.size)
        block = mmap.mmap(fd, plan.size)
    except BaseException:
        _os.unlink(path)
        raise
    finally:
        _os.close(fd)
    struct._block, struct._base = block, plan.data
    try:
        struct._open()
        write_initial(struct, values)
        _bind_locks(struct, plan, initialize=True)
    except BaseException:  # never leave a block that attachers would wait for
        _os.unlink(path)
        raise
    block[_HEADER_ROOM : _HEADER_ROOM + len(text)] = text
    _FIXED.pack_into(
        block, 0, bytes(8), FORMAT_VERSION, len(text), plan.data, plan.size
    )
    block[:8] = _MAGIC


def _bind_locks(struct: SharedStruct[_Any], plan: _Block, initialize: bool) -> None:
    """The locks of a named struct, in its block: robust mutexes that survive their holders."""
    layout, block = struct.__sharedgen_layout__, struct._block
    words = _ctypes.c_uint64 * LOCK_WORDS

    def lock(offset: int) -> Lock:
        return RecoverableLock(words.from_buffer(block, offset), initialize)

    struct._shard_locks = {name: lock(at) for name, at in plan.shard_locks.items()}
    locks = {
        group.name: lock(at)
        for group, at in zip(layout.groups, plan.group_locks, strict=True)
    }
    struct._bind(locks)


def close(struct: SharedStruct[_Any]) -> None:
    """Unmap a named struct in this process; its members become a marker that refuses any use."""
    block, closed = struct._block, Closed(_cast(str, struct._name))
    # Not a __getattr__ on the class: CPython then reads no attribute of the struct by its fast path.
    for kind in type(struct).__mro__:
        for slot in kind.__dict__.get("__slots__", ()):
            if slot != "_name" and hasattr(struct, slot):
                setattr(struct, slot, closed)
    with _suppress(BufferError):  # a view still in use: the map goes with it
        block.close()


def unlink(name: str) -> None:
    _os.unlink(shm_path(name))
