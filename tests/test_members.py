"""The members the runtime makes for each struct class (its fields' properties and methods), when
the class is first used: races for that first use, forks in the middle of it, subclasses, and
the made functions as Python's tools see them."""

from __future__ import annotations

import abc
import inspect
import pickle
import subprocess
import sys
import textwrap
import typing
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from conftest import build_schema
from sharedgen import live
from sharedgen.runtime import NamedStructError

WIDE = "structs:\n" + "".join(
    f"  S{s}:\n    fields:\n" + "".join(f"      f{f}: {{type: q, lock: g{f % 3}}}\n" for f in range(40))
    for s in range(30)
)
HUGE = "structs:\n  Huge:\n    fields:\n" + "".join(f"      f{f}: {{type: i}}\n" for f in range(300))
COUNTER = """
structs:
  Counter:
    fields:
      value: {type: q}
      total: {type: d, shards: 2}
      items: {type: i, shape: [2, 3]}
"""


def run_program(module: ModuleType, body: str) -> subprocess.CompletedProcess[str]:
    """``body`` in a fresh interpreter under faulthandler, with the module's package importable as
    ``generated`` (its name is bound to the module)."""
    package, _, name = module.__name__.rpartition(".")
    program = "\n".join(
        [
            "import os, sys, threading",
            f"sys.path.insert(0, {str(Path(module.__file__ or '').parents[1])!r})",
            f"from {package} import {name} as generated",
            textwrap.dedent(body),
        ]
    )
    return subprocess.run(
        [sys.executable, "-X", "faulthandler", "-c", program], capture_output=True, text=True, timeout=300
    )


def test_importing_makes_no_member_and_first_use_makes_them(tmp_path: Path) -> None:
    module = build_schema(tmp_path, WIDE)
    result = run_program(
        module,
        """
        classes = [getattr(generated, f"S{s}") for s in range(30)]
        assert not any("_members_made" in c.__dict__ or "f0" in c.__dict__ for c in classes)
        assert all(c.__sharedgen_layout__._entries is not None for c in classes)  # not worked out
        s = classes[0](f1=2)  # a first instance
        assert s.add_f1(3) == 5 and "_members_made" in classes[0].__dict__
        assert classes[1].add_f39.__doc__.startswith("Atomically add")  # a read from the class
        assert "f39" in dir(classes[2]) and "_members_made" in classes[2].__dict__
        assert not any("_members_made" in c.__dict__ for c in classes[3:])
        """,
    )
    assert result.returncode == 0, result.stderr


def test_threads_reading_a_class_while_another_makes_its_first_instance(tmp_path: Path) -> None:
    module = build_schema(tmp_path, WIDE)
    result = run_program(
        module,
        """
        errors = []
        def make(cls):
            try:
                cls()
            except Exception as exc:
                errors.append(repr(exc))
        for s in range(30):
            cls = getattr(generated, f"S{s}")
            thread = threading.Thread(target=make, args=(cls,))
            thread.start()
            try:
                for name in ("exchange_f39", "add_f0", "f17"):
                    getattr(cls, name)
            except AttributeError as exc:
                errors.append(repr(exc))
            thread.join()
        assert not errors, errors
        """,
    )
    assert result.returncode == 0, result.stderr


def test_a_fork_while_a_thread_makes_a_class_s_members_leaves_the_child_a_whole_class(tmp_path: Path) -> None:
    module = build_schema(tmp_path, HUGE)
    result = run_program(
        module,
        """
        import importlib
        failures = []
        for round in range(8):
            module = importlib.reload(generated)  # a class not yet made, each round
            thread = threading.Thread(target=lambda: module.Huge.__sharedgen_fields__)
            thread.start()
            pid = os.fork()
            if pid == 0:
                try:
                    s = module.Huge(f299=1)
                    assert s.add_f299() == 2 and s.snapshot().f0 == 0
                except BaseException as exc:
                    print(repr(exc), file=sys.stderr)
                    os._exit(1)
                os._exit(0)
            thread.join()
            if os.waitpid(pid, 0)[1] != 0:
                failures.append(round)
        assert not failures, failures
        """,
    )
    assert result.returncode == 0, result.stderr


def test_a_subclass_gets_the_members_of_the_generated_class(tmp_path: Path) -> None:
    module = build_schema(tmp_path, COUNTER)

    class MyCounter(module.Counter):  # type: ignore[misc, name-defined]
        __slots__ = ()

        def bump(self) -> int:
            value: int = self.add_value()
            return value

    assert MyCounter.__sharedgen_fields__["value"]["type"] == "q"  # before any instance of either
    mine = MyCounter(value=1)
    assert mine.bump() == 2 and mine.value == 2 and isinstance(mine.snapshot(), module.CounterSnapshot)


def test_a_subclass_that_mixes_in_an_abc_takes_a_type_of_both(tmp_path: Path) -> None:
    module = build_schema(tmp_path, COUNTER)

    class Metrics(abc.ABC):
        @abc.abstractmethod
        def report(self) -> str: ...

    with pytest.raises(TypeError, match="metaclass conflict"):
        type("Direct", (module.Counter, Metrics), {"__slots__": ()})
    runtime = sys.modules[module.__name__.rpartition(".")[0] + ".sharedgen_runtime"]

    class Meta(runtime.StructType, abc.ABCMeta):  # type: ignore[misc, name-defined]
        pass

    class Reported(module.Counter, Metrics, metaclass=Meta):  # type: ignore[misc, name-defined]
        __slots__ = ()

        def report(self) -> str:
            return f"value={self.value}"

    reported = Reported(value=3)
    assert reported.report() == "value=3" and reported.add_value(1) == 4 and isinstance(reported, Metrics)


def add_five(add: Any, struct: Any) -> None:
    add(struct, 5)


def test_made_methods_pickle_and_serve_as_process_targets(ctx: Any, everything: ModuleType) -> None:
    pair = everything.Pair(ctx=ctx)
    start = pair.a
    assert pickle.loads(pickle.dumps(everything.Pair.add_a)) is everything.Pair.add_a
    for target, args in ((everything.Pair.add_a, (pair, 5)), (add_five, (everything.Pair.add_a, pair))):
        process = ctx.Process(target=target, args=args)
        process.start()
        process.join(60)
        assert process.exitcode == 0
    assert pair.a == start + 10


def test_made_members_are_named_and_annotated_as_the_class_s_own(tmp_path: Path) -> None:
    module = build_schema(tmp_path, COUNTER)
    add = module.Counter.add_value
    assert (add.__name__, add.__qualname__, add.__module__) == ("add_value", "Counter.add_value", module.__name__)
    assert add.__code__.co_name == "add_value"  # what tracebacks and profilers show
    assert module.Counter.value.fget.__qualname__ == "Counter.value"
    assert str(inspect.signature(add)) == "(self, delta: int = 1) -> int"
    assert str(inspect.signature(module.Counter.add_total)) == "(self, delta: float = 1.0) -> None"
    assert str(inspect.signature(module.Counter.add_items)).startswith("(self, index: tuple, delta: int = 1)")
    assert module.Counter.total.__doc__.endswith("The sum of 2 shards.")


def test_every_generated_class_s_type_hints_resolve_at_run_time(everything: ModuleType) -> None:
    """typing.get_type_hints() (what pydantic, cattrs and typeguard call) over the bases too."""
    classes = [c for c in vars(everything).values() if isinstance(c, type) and c.__module__ == everything.__name__]
    assert len(classes) > 20
    for cls in classes:
        hints = typing.get_type_hints(cls)
        assert all(not isinstance(hint, (str, typing.ForwardRef)) for hint in hints.values()), cls
    pair = typing.get_type_hints(everything.Pair)
    assert typing.get_origin(pair["a"]).__name__ == "Property" and typing.get_args(pair["add_a"])[0] is int


@pytest.mark.parametrize("field", ["snapshot", "close", "__class__", "__getattribute__", "_raw_x", "class"])
def test_a_description_naming_a_field_as_a_struct_member_makes_no_struct(field: str) -> None:
    description = {
        "struct": "Crafted",
        "groups": ["default"],
        "fields": [{"name": field, "type": "q", "length": None, "lock": "default", "shards": None}],
    }
    with pytest.raises(NamedStructError, match="makes no struct"):
        live.struct_class(description)


def test_one_class_serves_every_reading_of_a_description() -> None:
    description = {
        "struct": "Read",
        "groups": ["default"],
        "fields": [{"name": "name", "type": "q", "length": None, "lock": "default", "shards": None}],
    }
    assert live.struct_class(description) is live.struct_class(dict(description))
    assert live.struct_class(description, 1.0) is not live.struct_class(description)
