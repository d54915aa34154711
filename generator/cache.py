"""Remembers which files sharedgen wrote, so that unchanged schemas skip rendering and black.

A generated file is reused as it is when its header names the same generator version,
schema path and schema hash as a new render would, and its content is byte for byte a
file this cache recorded as written by this exact generator (code, templates and black) with the
same settings (``[tool.sharedgen] redis``). An edited file is therefore never mistaken for a fresh
one. Delete the folder to start over.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from importlib import metadata, resources
from pathlib import Path

from sharedgen import __version__

MAX_ENTRIES = 20_000


def generator_fingerprint() -> str:
    """Identifies this generator's code and templates, so that editing either invalidates the cache."""
    digest = hashlib.sha256(f"{__version__} black {metadata.version('black')}".encode())
    for package in (Path(__file__).parent, Path(str(resources.files("sharedgen.templates")))):
        for path in sorted(package.iterdir()):
            if path.suffix in (".py", ".jinja"):
                digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def cache_file() -> Path:
    default = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "sharedgen"
    root = Path(os.environ.get("SHAREDGEN_CACHE_DIR") or default)
    return root / f"outputs-{__version__}-{generator_fingerprint()}.json"


def _digest(text: str, settings: str) -> str:
    """Identifies a file's text as written under ``settings`` (the project's settings the text depends on)."""
    return hashlib.sha256((f"{settings}\0{text}" if settings else text).encode("utf-8")).hexdigest()


class OutputCache:
    """The digests of files written by this sharedgen and this black."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or cache_file()
        try:
            self.known: dict[str, int] = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            self.known = {}
        self.changed = False

    def reuse(self, existing: Path, header: str, settings: str = "") -> str | None:
        """The existing file's text if it is what a new render with ``settings`` would produce, else None."""
        try:
            text = existing.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return None
        if text.split("\n", 1)[0] != header or _digest(text, settings) not in self.known:
            return None
        return text

    def remember(self, text: str, settings: str = "") -> None:
        digest = _digest(text, settings)
        if digest not in self.known:
            self.known[digest] = len(self.known)
            self.changed = True

    def save(self) -> None:
        """Write the cache atomically; a cache that cannot be written is only a lost speed-up."""
        if not self.changed:
            return
        newest = sorted(self.known, key=self.known.__getitem__)[-MAX_ENTRIES:]
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, temp = tempfile.mkstemp(dir=self.path.parent, suffix=".tmp")
            with os.fdopen(fd, "w", encoding="utf-8") as file:
                json.dump({digest: index for index, digest in enumerate(newest)}, file)
            os.replace(temp, self.path)
        except OSError:
            pass
