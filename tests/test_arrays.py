"""Array fields at memory speed (CONTRACT §6): shapes, views, buffer writes, copies, torn arrays."""

from __future__ import annotations

import array
import contextlib
import gc
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest
from conftest import TESTS, build_schema, import_generated

CODES = "bBhHiIlLqQfd?"


@pytest.fixture(scope="session")
def frames(tmp_path_factory: pytest.TempPathFactory) -> ModuleType:
    return import_generated(TESTS / "schemas" / "frames.yaml", "frames", tmp_path_factory.mktemp("frames"))


@pytest.fixture
def name() -> Any:
    made = f"test-arrays-{uuid.uuid4().hex[:12]}"
    yield made
    with contextlib.suppress(FileNotFoundError):
        os.unlink(f"/dev/shm/sharedgen-{made}")


def field_name(code: str, dims: int) -> str:
    return ("x" if code == "?" else code) + str(dims)


def sample(code: str, shape: tuple[int, ...], seed: int) -> np.ndarray:
    """Values of the C type spanning its range (extremes included)."""
    rng = np.random.default_rng(seed)
    dtype = np.dtype(code)
    if code == "?":
        return rng.integers(0, 2, shape).astype(bool)
    if dtype.kind == "f":
        values = rng.standard_normal(shape).astype(dtype) * 1000
        values.flat[0] = np.finfo(dtype).max
        return values
    info = np.iinfo(dtype)
    values = rng.integers(info.min, info.max, shape, dtype=dtype, endpoint=True)
    values.flat[0], values.flat[-1] = info.min, info.max
    return values


@pytest.mark.parametrize("code", CODES)
@pytest.mark.parametrize("dims", [1, 2])
def test_every_code_reads_and_writes_as_numpy_does(frames: ModuleType, code: str, dims: int) -> None:
    s = frames.Codes()
    name = field_name(code, dims)
    shape = (5,) if dims == 1 else (2, 3)
    assert frames.Codes.__sharedgen_fields__[name]["shape"] == shape
    for seed in range(3):
        values = sample(code, shape, seed)
        setattr(s, name, values)  # a buffer of the field's format: one copy
        copied = getattr(s, f"copy_{name}")()
        assert isinstance(copied, memoryview) and copied.shape == shape
        assert np.asarray(copied).dtype == np.dtype(code)
        assert np.array_equal(np.asarray(copied), values)
        read = getattr(s, name)
        assert (read if dims == 1 else read.tolist()) == values.tolist()
        with getattr(s, f"view_{name}")() as view:
            assert view.format == code and view.shape == shape and not view.readonly
            live = np.asarray(view)
            assert live.dtype == np.dtype(code) and np.array_equal(live, values)
            live[...] = values[::-1] if dims == 1 else values[::-1, ::-1]  # in place, no copy
        assert np.array_equal(np.asarray(getattr(s, f"copy_{name}")()), live)
        # Sequences and buffers of other formats are checked item by item, as numpy would convert them.
        setattr(s, name, values.tolist())
        assert np.array_equal(np.asarray(getattr(s, f"copy_{name}")()), values)
        out = np.empty(shape, dtype=code)
        assert getattr(s, f"copy_{name}")(out) is out and np.array_equal(out, values)
        snapshot = getattr(s.snapshot(), name)
        assert (list(snapshot) if dims == 1 else snapshot.tolist()) == values.tolist()


@pytest.mark.parametrize("code", CODES)
def test_a_value_out_of_range_or_of_another_shape_changes_nothing(frames: ModuleType, code: str) -> None:
    s = frames.Codes()
    name = field_name(code, 2)
    before = sample(code, (2, 3), 7)
    setattr(s, name, before)
    wrong_shape = [np.zeros((3, 2), dtype=code), [[0, 0, 0]], [[0, 0], [0, 0]]]
    wrong_shape += [np.zeros(6, dtype=code)] if code != "B" else [np.zeros(5, dtype=code)]  # B: bytes of its size
    for value in wrong_shape:
        with pytest.raises(ValueError, match="shape|bytes"):
            setattr(s, name, value)
    if code != "?":
        info = np.finfo(code) if code in "fd" else np.iinfo(code)
        too_big = before.tolist()
        too_big[1][2] = int(info.max) * 4 + 1 if code not in "fd" else float(info.max) * 10 if code == "f" else 10**400
        with pytest.raises((OverflowError, TypeError)):
            setattr(s, name, too_big)
        if code not in "fd":
            with pytest.raises(TypeError):
                setattr(s, name, before.astype(np.float64))  # a float is never truncated into an int
    else:
        with pytest.raises(TypeError):
            setattr(s, name, [[1, 0, 1], [0, 1, 0]])
    with pytest.raises(TypeError):
        setattr(s, name, "abcdef")
    assert np.array_equal(np.asarray(getattr(s, f"copy_{name}")()), before)


def test_bytes_array_array_and_memoryview_are_buffers_too(frames: ModuleType) -> None:
    s = frames.Frames()
    frame = bytes(range(256)) * (480 * 640 * 3 // 256)
    s.frame = frame  # bytes of the right size into a B array
    assert s.copy_frame().tobytes() == frame
    s.frame = bytearray(480 * 640 * 3)
    assert not any(s.copy_frame().tobytes())
    s.frame = memoryview(frame).cast("B", (480, 640, 3))
    assert s.copy_frame().tobytes() == frame
    with pytest.raises(ValueError):
        s.frame = frame[:-1]
    assert s.copy_frame().tobytes() == frame
    s.data = array.array("d", range(20000))
    assert s.data[:3] == [0.0, 1.0, 2.0] and s.data[-1] == 19999.0
    s.data = np.arange(20000.0)[::-1][::-1]  # not C-contiguous is copied first
    transposed = np.arange(6, dtype=np.intc).reshape(3, 2).T
    s.grid = transposed
    assert s.grid.tolist() == transposed.tolist()


def test_copy_out_refuses_a_buffer_that_does_not_fit(frames: ModuleType) -> None:
    s = frames.Frames()
    with pytest.raises(TypeError):
        s.copy_frame(bytes(480 * 640 * 3))  # read-only
    with pytest.raises(TypeError):
        s.copy_frame(np.empty((480, 640, 3), np.int16))
    with pytest.raises(ValueError):
        s.copy_frame(np.empty((640, 480, 3), np.uint8))
    out = bytearray(480 * 640 * 3)
    s.frame = np.full((480, 640, 3), 9, np.uint8)
    assert s.copy_frame(out) is out and set(out) == {9}


def test_defaults_are_filled_without_being_built_at_import(frames: ModuleType) -> None:
    s = frames.Frames()
    assert s.data == [1.5] * 20000 and s.small == [1, 2, 3] and s.grid.tolist() == [[7, 7, 7]] * 2
    assert frames.Frames.__init__.__kwdefaults__["data"] is None  # the schema's default, filled by the runtime
    assert frames.Frames(data=None).data[0] == 1.5
    source = Path(frames.__file__).read_text()
    assert "20000" not in source.split("__sharedgen_layout__")[0]


def test_a_view_ends_with_its_block(frames: ModuleType) -> None:
    s = frames.Frames()
    with s.view_frame() as view:
        kept = np.asarray(view)
        kept[0, 0, 0] = 7
    with pytest.raises(ValueError):
        view.tolist()  # released
    kept[0, 0, 1] = 8  # the array made from it stays mapped (outside the lock)
    assert s.copy_frame()[0, 0, 1] == 8
    assert not isinstance(s.view_frame(), memoryview)  # it is entered with `with`


def test_a_lock_false_array_gives_a_lasting_view(frames: ModuleType) -> None:
    s = frames.Codes()
    view = s.view_cube()
    assert view.shape == (2, 3, 4) and view.format == "d"
    np.asarray(view)[1, 2, 3] = 5.0
    assert s.cube.tolist()[1][2][3] == 5.0 and s.copy_cube()[1, 2, 3] == 5.0


def test_add_takes_an_index_per_dimension(frames: ModuleType) -> None:
    s = frames.Frames()
    assert s.add_grid((1, 2), 5) == 12 and s.add_grid((-1, -1)) == 13
    for bad in [(2, 0), (0, 3), (0,), (0, 0, 0), 0]:
        with pytest.raises(IndexError):
            s.add_grid(bad)  # type: ignore[arg-type]
    with pytest.raises(OverflowError):
        s.add_grid((0, 0), 2**31)
    assert s.grid.tolist() == [[7, 7, 7], [7, 7, 13]]
    with s.batch() as batch:
        for _ in range(3):
            batch.add_grid((0, 1), 2)
        batch.add_data(19999, 1.0)
        batch.add_small(-1)
    assert s.grid.tolist() == [[7, 13, 7], [7, 7, 13]] and s.data[-1] == 2.5 and s.small == [1, 2, 4]


def test_a_locked_block_reads_an_array_only_when_it_uses_it(frames: ModuleType) -> None:
    s = frames.Frames()
    s.frame = np.full((480, 640, 3), 3, np.uint8)
    with s.locked_frame() as group:
        group.seq += 1
        assert "frame" in group._lazy  # never read, so never copied
    with s.locked_frame() as group:
        group.frame[0, 0, 0] = 200  # a copy of the frame, written back whole
        group.seq += 1
    assert s.seq == 2 and s.copy_frame()[0, 0, 0] == 200
    with pytest.raises(RuntimeError):
        with s.locked_data() as data:
            pass
        print(data.grid)  # read after the block: no longer under the lock
    s.update_data(grid=np.ones((2, 3), np.intc), small=[0, 0, 0])
    assert s.grid.tolist() == [[1, 1, 1]] * 2 and s.small == [0, 0, 0]


def test_a_changed_shape_is_a_layout_change(tmp_path: Path, name: str) -> None:
    one = build_schema(tmp_path, "structs:\n  Img:\n    fields:\n      px: {type: B, shape: [4, 6]}\n")
    other = build_schema(tmp_path, "structs:\n  Img:\n    fields:\n      px: {type: B, shape: [6, 4]}\n")
    with one.Img.create(name) as made:
        made.px = np.arange(24, dtype=np.uint8).reshape(4, 6)
        with pytest.raises(ValueError, match="shape"):
            other.Img.attach(name)
        with one.Img.attach(name) as again:
            assert again.px.tolist() == made.px.tolist()


# Hostile lifetimes: each snippet runs in a fresh interpreter under faulthandler; it must exit 0.
HOSTILE = {
    "array_outlives_block": """
        s = Frames()
        with s.view_frame() as v:
            a = np.asarray(v)
        del s, v
        gc.collect()
        for _ in range(3):
            a[:] = 1; assert a.sum() == a.size
    """,
    "struct_collected_under_an_array": """
        def make():
            s = Frames()
            with s.view_frame() as v:
                return np.asarray(v)
        arrays = [make() for _ in range(50)]
        gc.collect()
        junk = [bytearray(10**6) for _ in range(50)]
        for a in arrays:
            a[:] = 2; assert int(a[-1, -1, -1]) == 2
    """,
    "close_while_a_view_lives": """
        s = Frames.create(NAME)
        with s.view_frame() as v:
            a = np.asarray(v)
            s.close()
            a[:] = 5
        Frames.attach(NAME).unlink()
        a[:] = 6; assert int(a.sum()) == 6 * a.size
        del a, v; gc.collect()
    """,
    "unlink_and_close_under_a_lasting_view": """
        s = Codes.create(NAME)
        v = s.view_cube()
        s.unlink(); s.close()
        np.asarray(v)[:] = 1.5
        assert v.tolist()[1][2][3] == 1.5
        try:
            s.cube
        except ValueError:
            pass
        else:
            raise AssertionError("a closed struct refuses use")
    """,
    "fork_while_a_view_lives": """
        s = Frames.create(NAME)
        with s.view_frame() as v:
            a = np.asarray(v)
            pid = os.fork()
            if pid == 0:
                a[0, 0, 0] = 42  # the child's copy of the view: same memory, not under the lock
                os._exit(0)
            assert os.waitpid(pid, 0)[1] == 0
        assert s.copy_frame()[0, 0, 0] == 42
        s.frame = np.zeros((480, 640, 3), np.uint8)  # the parent's view ended: the array is whole
        s.unlink(); s.close()
    """,
    "a_held_view_outlives_its_struct": """
        s = Frames.create(NAME)
        held = []
        with s.view_frame() as v:
            held.append(v)  # held by another object (as torch holds it): not released
        s.unlink(); s.close(); del s, v; gc.collect()
        junk = [bytearray(10**6) for _ in range(50)]
        held[0][0, 0, 0] = 3; assert held[0][0, 0, 0] == 3
        t = Frames()
        with t.view_frame() as w:
            held.append(w)
        del t, w; gc.collect()
        junk += [bytearray(10**6) for _ in range(50)]
        held[1][479, 639, 2] = 4; assert held[1].tolist()[479][639][2] == 4
    """,
    "views_in_a_loop": """
        for round in range(200):
            s = Frames.create(NAME) if round % 2 else Frames()
            with s.view_frame() as v:
                a = np.asarray(v)
                b = a[::2]
            if round % 2:
                s.unlink(); s.close()
            del s
            b[:] = round % 256
            if round % 7 == 0:
                gc.collect()
    """,
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_views_never_dangle(frames: ModuleType, case: str, name: str) -> None:
    package = frames.__name__.rpartition(".")[0]
    program = "\n".join(
        [
            "import gc, os, sys",
            "import numpy as np",
            f"sys.path.insert(0, {str(Path(frames.__file__).parents[1])!r})",
            f"from {package}.frames import Codes, Frames",
            f"NAME = {name!r}",
            textwrap.dedent(HOSTILE[case]),
        ]
    )
    result = subprocess.run(
        [sys.executable, "-X", "faulthandler", "-c", program], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr


# torch's names for the C types it has (it has no unsigned types but uint8 on every version).
TORCH_DTYPES = {
    "b": "int8",
    "B": "uint8",
    "h": "int16",
    "i": "int32",
    "q": "int64",
    "f": "float32",
    "d": "float64",
    "?": "bool",
}


@pytest.mark.parametrize("code", sorted(TORCH_DTYPES))
def test_torch_frombuffer_of_a_view_shares_the_array(frames: ModuleType, code: str) -> None:
    torch = pytest.importorskip("torch")
    s = frames.Codes()
    name = field_name(code, 2)
    values = sample(code, (2, 3), seed=3)
    with getattr(s, f"view_{name}")() as view:
        tensor = torch.frombuffer(view, dtype=getattr(torch, TORCH_DTYPES[code])).reshape(2, 3)
        assert tensor.data_ptr() == np.asarray(view).ctypes.data  # the live block, not a copy
        tensor[:] = torch.from_numpy(values)
        assert np.array_equal(np.asarray(view), values)
    assert np.array_equal(np.asarray(getattr(s, f"copy_{name}")()), values)
    lasting = torch.frombuffer(s.view_cube(), dtype=torch.float64)  # lock: false: a lasting view
    lasting[5] = 2.5
    assert s.copy_cube().tolist()[0][1][1] == 2.5


def test_a_torch_tensor_of_a_view_outlives_its_struct_safely(frames: ModuleType, name: str) -> None:
    pytest.importorskip("torch")
    package = frames.__name__.rpartition(".")[0]
    program = "\n".join(
        [
            "import gc, sys",
            "import torch",
            f"sys.path.insert(0, {str(Path(frames.__file__).parents[1])!r})",
            f"from {package}.frames import Codes, Frames",
            f"NAME = {name!r}",
            textwrap.dedent("""
                s = Frames.create(NAME)
                with s.view_frame() as v:
                    t = torch.frombuffer(v, dtype=torch.uint8)
                s.unlink(); s.close(); del s, v; gc.collect()
                junk = [bytearray(10**6) for _ in range(50)]
                t[:] = 3; assert int(t.sum()) == 3 * t.numel()
                c = Codes()
                cube = torch.frombuffer(c.view_cube(), dtype=torch.float64)
                del c; gc.collect()
                cube[:] = 1.5; assert float(cube.sum()) == 36.0
                """),
        ]
    )
    result = subprocess.run(
        [sys.executable, "-X", "faulthandler", "-c", program], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr


def torn_error(module: ModuleType) -> type[Exception]:
    error: type[Exception] = sys.modules[module.__name__.rpartition(".")[0] + ".sharedgen_runtime"].TornArrayError
    return error


def writer_killed_in_a_view(name: str, frames_file: str, ready: Any) -> None:
    sys.path.insert(0, str(Path(frames_file).parents[1]))
    module = __import__(f"{Path(frames_file).parent.name}.frames", fromlist=["Frames"])
    s = module.Frames.attach(name)
    with s.view_frame() as view:
        live = np.asarray(view)
        live[:240] = 255  # half a frame
        ready.set()
        time.sleep(60)


@pytest.mark.interpreters
def test_a_writer_killed_inside_a_view_leaves_the_array_known_torn(ctx: Any, frames: ModuleType, name: str) -> None:
    s = frames.Frames.create(name)
    try:
        for round in range(3):
            s.update_frame(seq=round)
            ready = ctx.Event()
            writer = ctx.Process(target=writer_killed_in_a_view, args=(name, frames.__file__, ready))
            writer.start()
            assert ready.wait(60)
            os.kill(writer.pid, signal.SIGKILL)
            writer.join()
            for read in (lambda: s.frame, s.copy_frame, s.snapshot, lambda: s.view_frame().__enter__()):
                with pytest.raises(torn_error(frames)):
                    read()
            assert s.seq == round  # the other fields of the group read as before
            s.frame = bytes(480 * 640 * 3)  # a whole write repairs it
            assert not np.asarray(s.copy_frame()).any() and s.snapshot().seq == round
    finally:
        s.close()


def test_a_named_struct_of_a_gibibyte_costs_no_memory_up_front(tmp_path: Path, name: str) -> None:
    big = build_schema(
        tmp_path,
        "structs:\n  Big:\n    max_shared_bytes: 1073741832\n    fields:\n"
        "      data: {type: B, shape: [1024, 1024, 1024]}\n      seq: {type: q}\n",
    )
    page = os.sysconf("SC_PAGE_SIZE")

    def resident() -> int:
        return int(Path("/proc/self/statm").read_text().split()[1]) * page

    before = resident()
    with big.Big.create(name) as made, big.Big.attach(name) as attached:
        made.seq = 3
        assert attached.seq == 3
        with attached.view_data() as view:
            assert view.shape == (1024, 1024, 1024)
            view[1023, 1023, 1023] = 9
        assert resident() - before < 64 << 20  # the block's pages are not touched up front
        made.unlink()


def test_shape_is_checked_in_the_schema(tmp_path: Path) -> None:
    cases = {
        "x: {type: i, shape: [2, 3], length: 6}": "length or shape, not both",
        "x: {type: c, shape: [4]}": "numeric and bool",
        "x: {type: i, shape: []}": "at least 1",
        "x: {type: i, shape: [2, 0]}": "at least 1",
        "x: {type: i, shape: [2, 2], default: [[1, 2], [3, 4]]}": "one value for every item",
        "x: {type: d, shape: [2000, 2000]}": "write max_shared_bytes: 32000000",
        "x: {type: i, length: 5000, default: [" + ", ".join(["1", "2"] * 2500) + "]}": "more than 4096",
        "x: {type: i, shape: [2]}\n      view_x: {type: i}": "collides",
    }
    for field, message in cases.items():
        schema = tmp_path / "bad.yaml"
        schema.write_text(f"structs:\n  S:\n    fields:\n      {field}\n")
        result = subprocess.run(
            [sys.executable, "-m", "sharedgen", "build", str(schema), "-o", str(tmp_path / "out")],
            capture_output=True,
            text=True,
        )
        assert result.returncode == 2 and message in result.stderr, (field, result.stderr)
        assert "bad.yaml:" in result.stderr and "S" in result.stderr


def fill_rows(struct: Any, rows: range) -> None:
    for row in rows:
        with struct.view_grid() as view:
            np.asarray(view)[row % 2] += 1


@pytest.mark.interpreters
def test_processes_write_through_views_under_the_lock(ctx: Any, frames: ModuleType) -> None:
    from conftest import run_all

    s = frames.Frames(ctx=ctx, grid=[[0, 0, 0], [0, 0, 0]])
    run_all(ctx, fill_rows, [(s, range(200)) for _ in range(3)])
    assert s.grid.tolist() == [[300, 300, 300], [300, 300, 300]]


def test_an_anonymous_struct_block_is_freed_only_after_the_last_array(frames: ModuleType) -> None:
    arrays = []
    for _ in range(20):
        s = frames.Frames()
        with s.view_frame() as view:
            arrays.append(np.asarray(view))
        del s, view
    gc.collect()
    others = [frames.Frames() for _ in range(20)]
    for index, kept in enumerate(arrays):
        kept[:] = index
    for other in others:
        assert not np.asarray(other.copy_frame()).any()  # no block was handed out twice
    assert all(int(kept[5, 5, 1]) == index for index, kept in enumerate(arrays))


def test_arrays_work_without_numpy(frames: ModuleType, tmp_path: Path) -> None:
    """Generated code needs only the standard library: in a venv without numpy, memoryviews do it all."""
    venv = tmp_path / "bare"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    program = textwrap.dedent(f"""
        import array, sys
        sys.path.insert(0, {str(Path(frames.__file__).parents[1])!r})
        try:
            import numpy
        except ImportError:
            pass
        else:
            raise SystemExit("numpy is importable here")
        from {frames.__name__} import Frames
        s = Frames()
        s.frame = bytes(range(256)) * 3600
        with s.view_frame() as v:
            assert v.shape == (480, 640, 3) and v[0, 0, 1] == 1
            v[0, 0, 0] = 200
        out = bytearray(921600)
        assert s.copy_frame(out) is out and out[0] == 200
        s.data = array.array("d", [2.0]) * 20000
        assert s.data[:2] == [2.0, 2.0] and s.copy_data().format == "d"
        s.grid = [[1, 2, 3], [4, 5, 6]]
        assert s.grid.tolist() == [[1, 2, 3], [4, 5, 6]] and s.add_grid((1, 1)) == 6
        print("ok")
        """)
    result = subprocess.run([str(venv / "bin" / "python"), "-c", program], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and result.stdout == "ok\n", result.stderr


REPO = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    ("example", "options", "expected"),
    [
        ("frames.py", ["--seconds", "0.5"], ["producer: ", "consumer: "]),
        ("pool_grid.py", ["--start-method", "spawn", "--workers", "2"], ["rows done: 500", "checksum: "]),
    ],
)
def test_the_array_examples_run(example: str, options: list[str], expected: list[str]) -> None:
    if example == "frames.py":
        options = [*options, "--name", f"test-frames-{uuid.uuid4().hex[:8]}"]
    result = subprocess.run(
        [sys.executable, str(REPO / "examples" / example), *options], capture_output=True, text=True, timeout=180
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == len(expected), result.stdout
    assert all(line.startswith(start) for line, start in zip(lines, expected)), result.stdout  # noqa: B905
    if example == "frames.py":
        assert "none torn" in lines[1]


def test_show_summarises_big_arrays_and_json_gives_every_item_or_a_summary_on_request() -> None:
    """sharedgen show of a named struct with a frame: text summarises it; --json has every item, or
    with --summary its shape, type, first items, min and max."""
    from generated.frames import Frames

    name = f"test-show-{os.getpid()}"
    frames = Frames.create(name, seq=3)
    try:
        frames.frame = bytes(range(256)) * (480 * 640 * 3 // 256)

        def show(*args: str) -> str:
            result = subprocess.run(
                [sys.executable, "-m", "sharedgen", "show", name, *args],
                capture_output=True,
                text=True,
                cwd=REPO,
                timeout=120,
            )
            assert result.returncode == 0, result.stderr
            return result.stdout

        text = show()
        assert "  seq = 3\n" in text
        assert "  frame = array B (480, 640, 3): [0, 1, 2, 3, 4, ...] min 0 max 255\n" in text
        complete = json.loads(show("--json"))["fields"]
        assert len(complete["frame"]) == 480 and len(complete["frame"][0][0]) == 3
        assert complete["frame"][0][1] == [3, 4, 5]
        summary = json.loads(show("--json", "--summary"))["fields"]
        assert summary == {
            "seq": 3,
            "frame": {"shape": [480, 640, 3], "type": "B", "first": [0, 1, 2, 3, 4], "min": 0, "max": 255},
        }
    finally:
        frames.unlink()
        frames.close()
