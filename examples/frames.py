"""A producer writes synthetic video frames into a named struct; a consumer, another program,
reads them by name. Every frame is copied whole under the lock: the consumer never sees a torn one.

    python examples/frames.py [--seconds 2] [--name frames-demo]

The producer makes ``Frames`` by name and starts the consumer as a separate program
(``python examples/frames.py --consume NAME``), which attaches by that name. Frame ``n`` is
filled with the byte ``n % 256`` (and its number in its first 8 bytes), so that the consumer can
check each frame it copies: one value throughout, matching ``seq``. Both print their frame rate.
Needs numpy.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # import generated/ from a checkout

from generated.frames import Frames  # noqa: E402


def produce(name: str, seconds: float) -> None:
    with Frames.create(name) as shared:
        try:
            consumer = subprocess.Popen([sys.executable, __file__, "--consume", name, "--seconds", str(seconds)])
            frame = np.empty((480, 640, 3), np.uint8)
            written, start = 0, time.perf_counter()
            while time.perf_counter() - start < seconds:
                written += 1
                frame.fill(written % 256)  # the synthetic frame, made outside the lock
                with shared.locked_frame() as group:  # the frame and its number change together
                    group.frame = frame  # one copy: a buffer of the field's format and shape
                    group.seq = written
            elapsed = time.perf_counter() - start
            print(f"producer: {written} frames in {elapsed:.1f} s, {written / elapsed:.0f} frames/s", flush=True)
            shared.seq = -1  # the end
            if consumer.wait(timeout=60) != 0:
                raise SystemExit("consumer failed")
        finally:
            shared.unlink()


def consume(name: str) -> None:
    deadline = time.monotonic() + 10
    while True:
        try:
            shared = Frames.attach(name)
            break
        except FileNotFoundError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.01)
    with shared:
        frame = np.empty((480, 640, 3), np.uint8)
        seen, last, start = 0, 0, time.perf_counter()
        while True:
            with shared.view_frame() as live:  # the group's lock: seq and frame of one instant
                seq = shared.seq
                if seq != last:
                    np.copyto(frame, np.asarray(live))  # one copy, then the lock goes
            if seq == -1:
                break
            if seq == last:
                time.sleep(0.0005)
                continue
            if not (frame == seq % 256).all():
                raise SystemExit(f"torn frame {seq}")
            seen, last = seen + 1, seq
        elapsed = time.perf_counter() - start
        print(f"consumer: {seen} whole frames, none torn, {seen / elapsed:.0f} frames/s", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--name", default="frames-demo")
    parser.add_argument("--consume", metavar="NAME", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.consume:
        consume(args.consume)
    else:
        produce(args.name, args.seconds)


if __name__ == "__main__":
    main()
