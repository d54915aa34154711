"""Locks and waiting: what a struct needs of a lock, re-entrancy for plain locks, the choice
of a lock that survives its holder, and the wait that spins, sleeps and times out."""

from __future__ import annotations

import ctypes as _ctypes
import os as _os
import sys as _sys
import threading as _threading
import typing as _typing
import weakref as _weakref
from collections.abc import Callable as _Callable
from collections.abc import Mapping as _Mapping
from multiprocessing.context import BaseContext as _BaseContext
from types import TracebackType as _TracebackType
from typing import Any as _Any
from typing import Protocol as _Protocol

if _typing.TYPE_CHECKING:
    from ._robust import Journal, ParkedMark, RecoverableLock


class Lock(_Protocol):
    """What a struct needs of a lock: a multiprocessing RLock (the default) or Lock."""

    def acquire(self, block: bool = True, timeout: float | None = None) -> bool: ...

    def release(self) -> None: ...

    def __enter__(self) -> bool: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: _TracebackType | None,
        /,
    ) -> None: ...


def make_locks(
    owner: str,
    groups: tuple[str, ...],
    given: _Mapping[str, Lock] | None,
    new_lock: _Callable[[], Lock],
) -> dict[str, Lock]:
    """One lock per group: the one given for it (made re-entrant), else a new re-entrant one."""
    given = dict(given or {})
    unknown = sorted(set(given) - set(groups))
    if unknown:
        raise ValueError(
            f"{owner} has no lock group {unknown[0]!r} (groups: {', '.join(groups)})"
        )
    return {
        group: reentrant(given[group]) if group in given else new_lock()
        for group in groups
    }


class ReentrantLock:
    """A lock given as not re-entrant (a multiprocessing Lock), made re-entrant in this process.

    Methods called inside a locked block take their group's lock again; with a plain Lock they
    would wait for themselves. The lock itself is shared; who holds it, and how often, is not.
    """

    __slots__ = ("lock", "_owner", "_depth", "__weakref__")

    def __init__(self, lock: Lock) -> None:
        self.lock = lock
        self._owner: int | None = None
        self._depth = 0

    def __reduce__(self) -> tuple[object, ...]:
        return reentrant, (self.lock,)

    def acquire(self, block: bool = True, timeout: float | None = None) -> bool:
        me = _threading.get_ident()
        if self._owner != me:
            if not self.lock.acquire(block, timeout):
                return False
            self._owner = me
        self._depth += 1
        return True

    def release(self) -> None:
        if self._owner != _threading.get_ident():
            raise RuntimeError("cannot release a lock this thread does not hold")
        self._depth -= 1
        if not self._depth:
            self._owner = None
            self.lock.release()

    def forget(self) -> None:
        """In a fork child: the parent's threads hold nothing here."""
        self._owner, self._depth = None, 0

    def __enter__(self) -> bool:
        return self.acquire()

    def __exit__(self, *exc_info: object) -> None:
        self.release()


# One wrapper per lock in each process, so that structs sharing a lock share who holds it.
reentrant_locks: _weakref.WeakKeyDictionary[_Any, ReentrantLock] = (
    _weakref.WeakKeyDictionary()
)


def reentrant(lock: Lock) -> Lock:
    """The lock itself when it is re-entrant, else this process's re-entrant wrapper of it."""
    synchronize = _sys.modules.get("multiprocessing.synchronize")
    if (
        isinstance(lock, ReentrantLock)
        or recoverable(lock) is not None
        or (synchronize is not None and isinstance(lock, synchronize.RLock))
    ):
        return lock
    wrapper = reentrant_locks.get(lock)
    if wrapper is None:
        wrapper = reentrant_locks[lock] = ReentrantLock(lock)
    return wrapper


class LockTimeoutError(TimeoutError):
    """A lock group's lock not acquired in time: ``struct`` and ``group`` name it."""

    def __init__(self, struct: str, group: str, message: str) -> None:
        super().__init__(message)
        self.struct, self.group = struct, group


def lock_timeout_error(
    owner: str,
    group: str,
    seconds: float,
    why: str = "a process may have died holding it",
) -> LockTimeoutError:
    """The error of every lock not taken in time, here and on Redis."""
    return LockTimeoutError(
        owner,
        group,
        f"{owner}: lock group {group!r} not acquired within {seconds} s ({why})",
    )


# Tries of a busy lock before sleeping on it. Critical sections here last a few hundred
# nanoseconds, and each release of a lock another process sleeps on costs a system call.
SPINS = 30


def wait_for_lock(
    lock: Lock,
    timeout: float | None,
    owner: str,
    group: str,
    attempt: _Callable[[bool], bool] | None = None,
) -> None:
    """Take a lock (usually one that was busy at a first try): try a few times, then sleep on it.
    attempt: a cheaper first try of the same lock than its acquire() (a named struct's).
    """
    attempt = attempt or lock.acquire
    for _ in range(SPINS):
        if attempt(False):
            return
    if not lock.acquire(True, timeout):
        raise lock_timeout_error(owner, group, timeout or 0.0)


def _forget_holders() -> None:
    """In a fork child: the parent's threads hold none of the re-entrant wrappers here."""
    for wrapper in reentrant_locks.values():
        wrapper.forget()


if hasattr(_os, "register_at_fork"):
    _os.register_at_fork(after_in_child=_forget_holders)


def recoverable(lock: object) -> RecoverableLock | None:
    """The lock, if it survives its holder (a robust mutex); else None. Robust mutexes are
    imported with the first struct that needs them, so none exists before their module is.
    """
    robust = _sys.modules.get(f"{__package__}._robust")
    if robust is not None and isinstance(lock, robust.RecoverableLock):
        return _typing.cast("RecoverableLock", lock)
    return None


def new_recoverable_lock(ctx: _BaseContext) -> Lock:
    """A lock that recovers from a dead holder where the platform allows (Linux), else an RLock."""
    from . import _robust

    if _robust.pthread is None:
        return ctx.RLock()
    return _robust.RecoverableLock(ctx.RawArray(_ctypes.c_uint64, _robust.LOCK_WORDS))


def enlist(lock: Lock, journal: Journal | ParkedMark) -> None:
    """Let a recoverable lock finish this journal's write (or end this parked mark) if its holder dies."""
    robust = recoverable(lock)
    if robust is not None:
        robust.guard(journal)
