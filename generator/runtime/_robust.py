"""Locks that survive their holders: robust process-shared pthread mutexes, and the journals
and parked marks that the next holder finishes when a holder died part-way."""

from __future__ import annotations

import ctypes as _ctypes
import errno as _errno
import functools as _functools
import os as _os
import sys as _sys
import time as _time
from collections.abc import Callable as _Callable
from collections.abc import Iterable as _Iterable
from collections.abc import Sequence as _Sequence
from typing import Any as _Any


class _Timespec(_ctypes.Structure):
    _fields_ = [("tv_sec", _ctypes.c_long), ("tv_nsec", _ctypes.c_long)]


class _Pthread:
    """libc's robust mutex calls. Calls that cannot block keep the GIL: that makes them a third cheaper."""

    def __init__(self) -> None:
        blocking, quick = _ctypes.CDLL(None), _ctypes.PyDLL(None)
        self.timedlock = blocking.pthread_mutex_timedlock
        self.trylock = quick.pthread_mutex_trylock
        self.unlock = quick.pthread_mutex_unlock
        # The same call with its result dropped, for a release that follows this thread's own
        # acquire: its only failure (not the holder) cannot happen there, and no result is cheaper.
        self.unlock_unchecked = quick["pthread_mutex_unlock"]
        self.unlock_unchecked.restype = None
        self.consistent = quick.pthread_mutex_consistent
        self.init = quick.pthread_mutex_init
        self.attr_init = quick.pthread_mutexattr_init
        self.attr_destroy = quick.pthread_mutexattr_destroy
        self.attr_settype = quick.pthread_mutexattr_settype
        self.attr_setpshared = quick.pthread_mutexattr_setpshared
        self.attr_setrobust = quick.pthread_mutexattr_setrobust


def _load_pthread() -> _Pthread | None:
    """Robust process-shared mutexes where the platform has them (Linux); else None."""
    if not _sys.platform.startswith("linux"):
        return None
    try:
        return _Pthread()
    except (OSError, AttributeError):
        return None


pthread = _load_pthread()
# <pthread.h> on Linux (glibc and musl alike).
_PTHREAD_MUTEX_RECURSIVE = _PTHREAD_PROCESS_SHARED = _PTHREAD_MUTEX_ROBUST = 1
# Longest a wait runs in C before Python gets to handle a signal such as Ctrl-C.
_WAIT_SLICE = 0.1


def _check_pthread(result: int) -> None:
    if result:
        raise OSError(result, _os.strerror(result))


# A journaled field: its mark, its shared bytes, its staged bytes, what stores a value in the
# staged bytes, and whether that leaves some of them as they were.
_JournalSlot = tuple[int, memoryview, memoryview, _Callable[[_Any], None], bool]


class Journal:
    """Makes one group's write all or nothing even if the writing process dies part-way.

    The new bytes of every field written are staged in the block, and the field marked, before
    any field changes; a writer that died leaves the write pending, for the next process taking
    the lock to finish. Only the fields a write sets are staged and copied.
    """

    __slots__ = (
        "_area",
        "_flag",
        "_marks",
        "_no_marks",
        "_all_marks",
        "_staged",
        "_slots",
        "_all_slots",
    )

    def __init__(
        self,
        area: memoryview,
        fields: _Sequence[tuple[int, _Any, _Any]],
        staging: dict[int, int],
    ) -> None:
        """area: the group's journal (journal_size + 1 bytes: the staged bytes, one mark per
        field, the pending flag); fields: the group's (index, storage, Field)s; staging: where
        each journaled field's bytes are staged, by index (Group.staging)."""
        self._area, self._flag = area, len(area) - 1
        self._marks = area[self._flag - len(staging) : self._flag]
        self._no_marks, self._all_marks = bytes(len(staging)), b"\1" * len(staging)
        self._staged = area[: self._flag - len(staging)]
        # By the field's index among the struct's; a field too big to journal has none.
        self._slots: dict[int, _JournalSlot] = {}
        for index, storage, field in fields:
            if index not in staging:
                continue
            target = memoryview(storage).cast("B")
            staged = area[staging[index] :][: target.nbytes]
            store = field.writer(type(storage).from_buffer(staged))
            mark = len(self._slots)
            self._slots[index] = (
                mark,
                target,
                staged,
                store,
                field.storage == "string",
            )
        self._all_slots = tuple(self._slots.values())

    def commit(self, writes: _Iterable[tuple[int, object]]) -> None:
        """Write checked values to fields of the group, given by index (None keeps a field; one
        too big to journal is the caller's to write)."""
        marks, slots = self._marks, self._slots
        staged = []
        try:
            for index, value in writes:
                if value is None or index not in slots:
                    continue
                slot = slots[index]
                mark, target, saved, store, partial = slot
                if partial:
                    saved[:] = target
                store(value)
                marks[mark] = 1
                staged.append(slot)
            if staged:
                self._apply(staged)
        except BaseException:
            self.finish()  # see _apply
            raise

    def commit_packed(self, data: bytes) -> None:
        """Write every field of a packed group (Layout's packing): its bytes, as packed."""
        try:
            self._staged[:] = data
            self._marks[:] = self._all_marks
            self._apply(self._all_slots)
        except BaseException:
            self.finish()  # see _apply
            raise

    def _apply(self, staged: _Sequence[_JournalSlot]) -> None:
        """Copy the staged fields, all marked, to the block. An exception on the way (Ctrl-C)
        goes to finish(): before the pending flag is set it drops the write and its marks, after
        it completes the write; no mark outlives the write either way."""
        self._area[self._flag] = 1
        self._copy(staged)
        self._area[self._flag] = 0
        self._marks[:] = self._no_marks

    def finish(self) -> None:
        """Complete a write whose writer died (called holding the lock, after a takeover) or
        was interrupted, if it had set the pending flag; else drop it."""
        if self._area[self._flag]:
            marks = self._marks
            self._copy([s for s in self._all_slots if marks[s[0]]])
            self._area[self._flag] = 0
        self._marks[:] = self._no_marks

    @staticmethod
    def _copy(staged: _Sequence[_JournalSlot]) -> None:
        for _, target, saved, _, _ in staged:
            target[:] = saved


class ParkedMark:
    """A group's parked mark (see read_consistently): a holder that died parked leaves it odd,
    and whoever takes its lock over makes it even again before changing the group."""

    __slots__ = ("_marks", "_index")

    def __init__(self, marks: _Any, index: int) -> None:
        self._marks, self._index = marks, index

    def finish(self) -> None:
        if self._marks[self._index] % 2:
            self._marks[self._index] += 1


# A recoverable lock's shared words: room for a pthread_mutex_t anywhere, then how many times
# a process took the lock over from a holder that died.
_MUTEX_WORDS = 8
LOCK_WORDS = _MUTEX_WORDS + 1


class RecoverableLock:
    """A re-entrant lock that survives its holder: a robust, process-shared pthread mutex.

    When the holder dies, the kernel hands the lock to the next waiter, which finishes the
    group write the holder was in the middle of. Structs sharing the lock may keep that write
    in a journal the waiter's process does not have, so the waiter also counts the takeover
    in the shared words, and each process, on taking the lock after a takeover it has not
    seen, finishes any write pending in its own journals.
    """

    __slots__ = (
        "_pthread",
        "_mutex",
        "_address",
        "_takeovers",
        "_journals",
        "_takeovers_seen",
    )

    def __init__(self, words: _Any, initialize: bool = True) -> None:
        """A lock in ``words`` (LOCK_WORDS of shared memory): a new one, or (initialize=False)
        the one another process made there."""
        assert pthread is not None, "made only where the platform has robust mutexes"
        self._pthread = pthread
        self._mutex = words
        if initialize:
            self._initialize()
        self._open()

    def _initialize(self) -> None:
        pthread = self._pthread
        attributes = (_ctypes.c_uint64 * 2)()
        _check_pthread(pthread.attr_init(attributes))
        try:
            _check_pthread(pthread.attr_settype(attributes, _PTHREAD_MUTEX_RECURSIVE))
            _check_pthread(pthread.attr_setpshared(attributes, _PTHREAD_PROCESS_SHARED))
            _check_pthread(pthread.attr_setrobust(attributes, _PTHREAD_MUTEX_ROBUST))
            _check_pthread(pthread.init(self._mutex, attributes))
        finally:
            pthread.attr_destroy(attributes)

    def _open(self) -> None:
        """This process's view of the shared takeover count (views do not travel); no journals yet."""
        # The mutex passed by reference: ctypes converts that argument fastest.
        self._address = _ctypes.byref(self._mutex)
        self._takeovers = memoryview(self._mutex).cast("B").cast("Q")[_MUTEX_WORDS:]
        self._journals: list[Journal | ParkedMark] = (
            []
        )  # of the groups this lock guards, in this process
        self._takeovers_seen = 0

    def __getstate__(self) -> object:
        return self._mutex

    def __setstate__(self, state: _Any) -> None:
        assert pthread is not None, "unpickled on the machine that made it"
        self._mutex = state
        self._pthread = pthread
        self._open()

    def guard(self, journal: Journal | ParkedMark) -> None:
        """Have this process finish the journal's write, should its writer die, when it next takes the lock."""
        self._journals.append(journal)
        self._takeovers_seen = (
            -1
        )  # it may hold a write a takeover elsewhere could not reach

    def acquire(self, block: bool = True, timeout: float | None = None) -> bool:
        result = self._pthread.trylock(self._address)
        if (
            result
        ):  # busy, or its holder died; the common case, 0 (free or already ours), skips this
            return self._settle(result, block, timeout)
        if self._takeovers[0] != self._takeovers_seen:
            self._catch_up()
        return True

    def _settle(self, result: int, block: bool, timeout: float | None) -> bool:
        """After a first try that did not simply take the lock: wait, or take it over."""
        if result == _errno.EBUSY and block:
            result = self._wait(timeout)
        if result == _errno.EOWNERDEAD:
            # The holder died: the lock is ours, and a group it guards may be half-written.
            self._takeovers[0] += 1
            result = self._pthread.consistent(self._address)
        if result in (_errno.EBUSY, _errno.ETIMEDOUT):
            return False
        _check_pthread(result)
        if self._takeovers[0] != self._takeovers_seen:
            self._catch_up()
        return True

    def settle_first_try(self, result: int) -> bool:
        """After a quick_calls() try that answered ``result`` (not 0): whether the lock is now
        this thread's (its holder died; the lock is taken over), or busy."""
        return self._settle(result, False, None)

    def _catch_up(self) -> None:
        """Finish the writes pending in this process's journals: a takeover happened. Called
        holding the lock, as its acquire's last step: an exception part-way (Ctrl-C) finishes
        them again and lets the lock go before it goes on, the acquire having failed."""
        self._takeovers_seen = self._takeovers[0]
        try:
            for journal in self._journals:
                journal.finish()
        except BaseException:
            for journal in self._journals:
                journal.finish()
            self._pthread.unlock(self._address)
            raise

    def quick_calls(self) -> tuple[_Callable[[], int], _Callable[[], None]]:
        """One C call each: a try that answers 0 when it took the lock (busy, a dead holder:
        another number), and the release of a lock this thread took."""
        return (
            _functools.partial(self._pthread.trylock, self._address),
            _functools.partial(self._pthread.unlock_unchecked, self._address),
        )

    def calls(
        self, own_block: bool
    ) -> tuple[_Callable[[bool], bool], _Callable[[], None]]:
        """acquire and release as the hot paths call them: the first try and the release are one
        C call each. own_block: the lock guards one named block's groups, whose journals are in the
        block: a takeover by another process needs no catching up, that process having finished
        the write. Else (an anonymous struct's lock, which structs of other processes may share)
        acquire catches up with a takeover it has not seen, as acquire() does.
        """
        trylock, release = self.quick_calls()
        settle = self._settle
        if own_block:

            def acquire(block: bool = True, timeout: float | None = None) -> bool:
                result = trylock()
                return settle(result, block, timeout) if result else True

            return acquire, release
        takeovers, catch_up = self._takeovers, self._catch_up

        def acquire_catching_up(
            block: bool = True, timeout: float | None = None
        ) -> bool:
            result = trylock()
            if result:
                return settle(result, block, timeout)
            if takeovers[0] != self._takeovers_seen:
                catch_up()
            return True

        return acquire_catching_up, release

    def _wait(self, timeout: float | None) -> int:
        """Wait in slices, so that Python handles signals such as Ctrl-C between them."""
        deadline = None if timeout is None else _time.time() + timeout
        while True:
            now = _time.time()
            if deadline is not None and now >= deadline:
                return _errno.ETIMEDOUT
            until = (
                now + _WAIT_SLICE
                if deadline is None
                else min(deadline, now + _WAIT_SLICE)
            )
            moment = _Timespec(int(until), int(until % 1 * 1e9))
            result: int = self._pthread.timedlock(self._address, _ctypes.byref(moment))
            if result != _errno.ETIMEDOUT:
                return result

    def release(self) -> None:
        if self._pthread.unlock(self._address):
            raise RuntimeError("cannot release a lock this thread does not hold")

    def __enter__(self) -> bool:
        return self.acquire()

    def __exit__(self, *exc_info: object) -> None:
        self.release()
