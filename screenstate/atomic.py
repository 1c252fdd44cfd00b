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
    with file_lock(classes):                   # one writer of a file at a time (threads, processes)
        ...

A SIGKILL cannot run cleanup, so it may leave a ``.NAME.*.tmp`` file behind (never a
half-written NAME); :func:`remove_stale_temps` deletes them, under the file's lock, when
the next writer starts.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

try:  # POSIX: serialise writers across processes too
    import fcntl
except ImportError:  # pragma: no cover - Windows: the thread lock still serialises one process
    fcntl = None  # type: ignore[assignment]  # typeshed: a module name cannot be None

_THREAD_LOCKS: dict[Path, threading.RLock] = {}
_THREAD_LOCKS_GUARD = threading.Lock()
_HELD = threading.local()  # the paths whose flock this thread holds


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


def lock_path(path: str | Path) -> Path:
    """The hidden lock file of ``path`` (``.NAME.lock`` beside it)."""
    path = Path(path)
    return path.with_name(f".{path.name}.lock")


@contextlib.contextmanager
def file_lock(path: str | Path) -> Iterator[None]:
    """Hold the one writer's lock of ``path``: a re-entrant lock per file for threads and an
    ``flock`` on ``.NAME.lock`` for processes (the review page, ``screenstate label`` and
    the Python API all take it before a read-modify-write of a class file)."""
    path = Path(os.path.realpath(path))
    with _THREAD_LOCKS_GUARD:
        tlock = _THREAD_LOCKS.setdefault(path, threading.RLock())
    with tlock:
        held = getattr(_HELD, "paths", None)
        if held is None:
            held = _HELD.paths = set()
        if fcntl is None or path in held:  # a second flock from this thread would wait for itself
            yield
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(lock_path(path), "a") as fd:
            fcntl.flock(fd, fcntl.LOCK_EX)
            held.add(path)
            try:
                yield
            finally:
                held.discard(path)
                fcntl.flock(fd, fcntl.LOCK_UN)


def remove_stale_temps(folder: str | Path, name: str = "*") -> list[Path]:
    """Delete the temporary files :func:`atomic_open` leaves behind when a writer is killed
    (``.NAME.*.tmp`` in ``folder``); call it holding the lock of the files it names."""
    gone = []
    for tmp in Path(folder).glob(f".{name}.*.tmp"):
        with contextlib.suppress(OSError):
            tmp.unlink()
            gone.append(tmp)
    return gone
