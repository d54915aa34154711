"""Named structs on this machine, for operators: ``sharedgen ls``, ``show`` and ``rm``.

A block is decoded from the description in its header, with the runtime's own code: a struct
class is made from the description, so no user code is imported.
"""

from __future__ import annotations

import collections
import functools
import json
import keyword
import os
from typing import Any

from sharedgen import runtime
from sharedgen.runtime import NAME_PREFIX, SHM_DIR, NamedStructError


def named_structs() -> list[dict[str, Any]]:
    """Every named struct of this machine's /dev/shm: name, struct, size, creator and whether it runs."""
    found = []
    try:
        entries = sorted(os.scandir(SHM_DIR), key=lambda entry: entry.name)
    except FileNotFoundError:
        return []
    for entry in entries:
        if not entry.name.startswith(NAME_PREFIX):
            continue
        name = entry.name[len(NAME_PREFIX) :]
        item: dict[str, Any] = {"name": name, "struct": None, "size": None}
        try:
            item["size"] = entry.stat(follow_symlinks=False).st_size
            description = runtime.describe(name)
        except (OSError, NamedStructError) as exc:
            item["error"] = str(exc)
        else:
            creator = description["creator"]
            pid, start = creator.get("pid"), creator.get("start")
            # A pid of another pid namespace names another process here.
            here = creator.get("pid_namespace") in (None, runtime.pid_namespace())
            alive = here and isinstance(pid, int) and start is not None and runtime.process_start(pid) == start
            item.update(struct=description["struct"], creator_pid=pid, creator_alive=alive)
        found.append(item)
    return found


def struct_class(description: dict[str, Any], lock_timeout: float | None = None) -> type[runtime.SharedStruct[Any]]:
    """A struct class made from a block's description (NamedStructError if it makes none), whose
    locks time out after ``lock_timeout`` seconds (None: wait). One class per description and
    timeout: ``show --watch`` reads the same block again and again."""
    try:
        return _struct_class(json.dumps(description, sort_keys=True), lock_timeout)
    except TypeError as exc:  # a description json cannot hold makes no struct either
        raise NamedStructError(f"the block's description makes no struct: {exc}") from None


# The struct base's own members: a block whose description names a field so was not made by sharedgen
# (a field may be called `name`, as a schema's may).
_TAKEN = frozenset(dir(runtime.SharedStruct)) - {"name"}


@functools.lru_cache(maxsize=64)
def _struct_class(text: str, lock_timeout: float | None) -> type[runtime.SharedStruct[Any]]:
    try:
        description = json.loads(text)
        name = description["struct"]
        fields = tuple(
            (f["name"], f["type"], f["length"], f["lock"], f["shards"])
            + ((tuple(f["shape"]), None) if "shape" in f else ())  # an array's shape
            for f in description["fields"]
        )
        groups = tuple(description["groups"])
        names = [name, *groups, *(f[0] for f in fields)]
        if not all(isinstance(n, str) and n.isidentifier() and not keyword.iskeyword(n) for n in names):
            raise ValueError("names that are not identifiers")
        if any(f[0].startswith("_") or f[0] in _TAKEN for f in fields):
            raise ValueError("a field named as a member of every struct")
        snapshot = collections.namedtuple(f"{name}Snapshot", [f[0] for f in fields], rename=True)  # type: ignore[misc]
        layout = runtime.Layout(name, fields, groups=groups, lock_timeout=lock_timeout, snapshot=snapshot)
        slots = layout.slots()  # works the table out: a description that makes none fails here
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise NamedStructError(f"the block's description makes no struct: {exc}") from None
    return type(name, (runtime.SharedStruct,), {"__slots__": slots, "__sharedgen_layout__": layout})


def snapshot(name: str, *, wait: float | None = None, locked: bool = True) -> dict[str, Any]:
    """A named struct's fields now: read under its locks as snapshot() reads them (TimeoutError
    when one is held longer than ``wait`` seconds), or (locked=False) as they are, taking none."""
    description = runtime.describe(name)
    struct = struct_class(description, wait).attach(name)
    try:
        values = (struct.snapshot() if locked else struct._peek())._asdict()
    finally:
        struct.close()
    return {"name": name, "struct": description["struct"], "locked": locked, "fields": values}


def remove(name: str) -> None:
    """Remove a named struct's name (FileNotFoundError if there is none)."""
    os.unlink(runtime.shm_path(name))
