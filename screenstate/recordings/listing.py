"""Directory entries of a recording, each accounted for: a frame (readable or with the
reason it is not), or a named skip. Nothing under ROOT disappears without a word.

- Broken symbolic links, link loops, FIFOs, sockets and devices are frames with an
  ``error`` (they are never opened in a way that could block).
- Symbolic links to directories are followed; a link that leads back into a directory
  already being walked is a named skip (a cycle), not an endless walk.
- Hidden files with an image suffix are named skips.
- File names that are not valid UTF-8 (bytes such as ``caf\\xe9.png`` from old Windows
  shares) are kept: Python holds them as surrogate escapes, and :func:`printable` writes
  them with backslash escapes (``caf\\xe9.png``) in CSV, JSON, Parquet, HTML and messages.
"""

from __future__ import annotations

import errno
import logging
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from screenstate.embeddings.images import special_file_kind
from screenstate.schema import IMAGE_SUFFIXES, natural_key

log = logging.getLogger("screenstate")

#: files that are never frames (OS metadata) and side files written next to recordings
IGNORED_NAMES = frozenset({".ds_store", "thumbs.db", "desktop.ini"})
SIDE_FILES = frozenset({".csv", ".json", ".jsonl", ".txt", ".md", ".parquet", ".html"})


def printable(text: str | os.PathLike[str]) -> str:
    """``text`` as valid UTF-8: bytes of a non-UTF-8 file name (surrogate escapes) become
    backslash escapes, e.g. ``caf\\xe9_frame.png``; valid names are unchanged."""
    s = os.fspath(text)
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        return os.fsencode(s).decode("utf-8", "backslashreplace")
    return s


@dataclass(frozen=True)
class Skipped:
    """A directory entry that is not read as a frame, and why (shown in the summary)."""

    path: Path
    reason: str

    def describe(self) -> str:
        return f"{printable(self.path)}: {self.reason}"


@dataclass(frozen=True)
class Entry:
    """One directory entry: ``kind`` is ``dir``, ``frame`` or ``other`` (not a frame:
    side files, OS metadata); ``problem`` says why a ``frame`` cannot be read."""

    path: Path
    kind: str
    problem: str | None = None


def entry_problem(path: Path) -> str | None:
    """Why ``path`` cannot be read as a frame file (None for a regular file); never opens it."""
    try:
        st = os.stat(path)
    except OSError as e:
        if e.errno == errno.ELOOP:
            return "symbolic link loop"
        if path.is_symlink():
            try:
                target = os.readlink(path)
            except OSError:
                target = "?"
            return f"broken symbolic link (target {printable(target)} does not exist)"
        return f"cannot read ({e.strerror or e})"
    kind = special_file_kind(st.st_mode)
    return f"{kind}, not a regular file" if kind is not None else None


def classify_entry(path: Path) -> Entry:
    """Sort one directory entry into a frame, a directory or something else."""
    name = path.name
    if name.lower() in IGNORED_NAMES or path.suffix.lower() in SIDE_FILES:
        return Entry(path, "other")
    try:
        is_dir = stat.S_ISDIR(os.stat(path).st_mode)
    except OSError:
        is_dir = False
    if is_dir:
        return Entry(path, "dir")
    return Entry(path, "frame", entry_problem(path))


def list_dir(directory: Path) -> list[Entry]:
    """Entries of ``directory`` in natural order; hidden images are logged and skipped by callers."""
    return [classify_entry(p) for p in sorted(directory.iterdir(), key=natural_key)]


def is_hidden(path: Path) -> bool:
    return path.name.startswith(".")


def is_hidden_image(path: Path) -> bool:
    return is_hidden(path) and path.suffix.lower() in IMAGE_SUFFIXES


def walk_frames(directory: Path, skipped: list[Skipped]) -> Iterator[Entry]:
    """Frame entries under ``directory`` (recursively, following directory links once),
    in natural order of their paths; skips are appended to ``skipped``."""
    out: list[Entry] = []
    seen: set[tuple[int, int]] = set()

    def visit(d: Path) -> None:
        try:
            st = os.stat(d)
        except OSError as e:
            skipped.append(Skipped(d, f"directory cannot be read ({e.strerror or e})"))
            return
        key = (st.st_dev, st.st_ino)
        if key in seen:
            skipped.append(Skipped(d, "symbolic link back to a directory already read (a cycle); not read again"))
            return
        seen.add(key)
        try:
            entries = list_dir(d)
        except OSError as e:
            skipped.append(Skipped(d, f"directory cannot be read ({e.strerror or e})"))
            return
        for entry in entries:
            if entry.kind == "dir":
                visit(entry.path)
            elif entry.kind == "frame":
                if is_hidden_image(entry.path):
                    skipped.append(Skipped(entry.path, "hidden file (name starts with '.'); rename it to include it"))
                elif not is_hidden(entry.path):
                    out.append(entry)

    visit(directory)
    yield from sorted(out, key=lambda e: natural_key(e.path))


def count_images(directory: Path, limit: int = 100_000) -> int:
    """Image files under ``directory`` (for messages about directories that are not read)."""
    n = 0
    for _, _, files in os.walk(directory):
        n += sum(Path(f).suffix.lower() in IMAGE_SUFFIXES for f in files)
        if n >= limit:
            break
    return n


def log_skipped(skipped: list[Skipped]) -> None:
    for s in skipped:
        log.warning("not read: %s", s.describe())
