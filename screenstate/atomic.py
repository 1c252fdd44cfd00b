"""Atomic file writes: every file screenstate writes (cached features, CSV/JSON/Parquet
outputs, class files, calibrations) appears whole or not at all.

The data goes to a temporary file in the destination's directory, is flushed and
fsync'ed, made mode 0644 (``mkstemp`` creates 0600; a shared cache or an output read by
another user or container must be readable), and renamed over the destination. A crash
or a full disk leaves the old file (or none) and no temporary file behind.

    atomic_write(path, b"...")                 # bytes or text
    with atomic_open(path, "w") as f:          # a file object, e.g. for csv.writer
        csv.writer(f).writerows(rows)
    with atomic_path(path) as tmp:             # for libraries that write by path (Parquet)
        pq.write_table(table, tmp)
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any


def _publish(tmp: str | Path, path: Path) -> None:
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


@contextlib.contextmanager
def atomic_open(path: str | Path, mode: str = "w") -> Iterator[IO[Any]]:
    """A file object for ``mode`` ("w" text with newline="" and UTF-8, or "wb") whose
    content replaces ``path`` atomically when the block ends without an error."""
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_open: mode must be 'w' or 'wb', got {mode!r}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        binary = "b" in mode
        with os.fdopen(fd, mode, encoding=None if binary else "utf-8", newline=None if binary else "") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        _publish(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write(path: str | Path, data: bytes | str) -> None:
    """Replace ``path`` with ``data`` atomically (text is written as UTF-8)."""
    with atomic_open(path, "wb" if isinstance(data, bytes) else "w") as f:
        f.write(data)


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """A temporary path next to ``path`` for a library to write; it is fsync'ed and renamed
    over ``path`` when the block ends without an error."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        yield Path(tmp)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        _publish(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
