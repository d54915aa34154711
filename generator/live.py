"""Named structs on this machine, for operators: ``sharedgen ls``, ``show`` and ``rm``.

A block is decoded from the description in its header, with the runtime's own code: a struct
class is made from the description, so no user code is imported.
"""

from __future__ import annotations

import collections
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
    locks time out after ``lock_timeout`` seconds (None: wait)."""
    try:
        name = description["struct"]
        fields = tuple(
            (f["name"], f["type"], f["length"], f["lock"], f["shards"])
            + ((tuple(f["shape"]), None) if "shape" in f else ())  # an array's shape
            for f in description["fields"]
        )
        groups = tuple(description["groups"])
        if not all(isinstance(n, str) and n.isidentifier() for n in [name, *groups, *(f[0] for f in fields)]):
            raise ValueError("names that are not identifiers")
        snapshot = collections.namedtuple(f"{name}Snapshot", [f[0] for f in fields], rename=True)  # type: ignore[misc]
        layout = runtime.Layout(name, fields, groups=groups, lock_timeout=lock_timeout, snapshot=snapshot)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise NamedStructError(f"the block's description makes no struct: {exc}") from None
    return type(name, (runtime.SharedStruct,), {"__slots__": layout.slots(), "__sharedgen_layout__": layout})


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
