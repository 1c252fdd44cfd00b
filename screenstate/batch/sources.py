"""Where a batch job's frames come from: a local directory, or a URI every node can read.

A URI root (``s3://``, ``gs://``, ``file://`` on a shared mount, anything pyarrow or fsspec
can open) is listed on the driver and read on the workers. A plain local path is read on
the driver's node only: on a multi-node cluster the job pins its read tasks there and the
bytes travel to the encoders through Ray's object store, a few frames per block.
These functions run inside Ray tasks, so they import neither torch nor the models.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from screenstate.batch.layout import Frame
from screenstate.batch.listing import IGNORED_NAMES, SIDE_FILES, printable
from screenstate.embeddings.images import read_image_file
from screenstate.errors import InvalidImageError, ScreenstateError
from screenstate.hashing import bytes_hash
from screenstate.schema import IMAGE_SUFFIXES, natural_key


def is_uri(root: str | Path) -> bool:
    """``scheme://...`` (a filesystem URI) rather than a local path."""
    s = str(root)
    return "://" in s and s.split("://", 1)[0].replace("+", "").isalnum()


@dataclass(frozen=True)
class Root:
    """A job's ``--root``: ``uri`` is None for a local directory."""

    path: str
    uri: str | None = None

    @classmethod
    def of(cls, root: str | Path) -> Root:
        if is_uri(root):
            uri = str(root).rstrip("/")
            return cls(_filesystem(uri)[1], uri)
        return cls(str(root))

    def display(self, path: str | Path) -> str:
        """A frame's name in outputs: its local path, or a URI for a URI root."""
        if self.uri is None:
            return str(path)
        rel = str(path)[len(self.path) :].lstrip("/")
        return f"{self.uri}/{rel}" if rel else self.uri


@functools.lru_cache(maxsize=8)
def _filesystem(uri: str) -> tuple[Any, str]:
    """(pyarrow filesystem, path inside it) for ``uri``; pyarrow first, then fsspec."""
    import pyarrow.fs as pafs

    try:
        fs, path = pafs.FileSystem.from_uri(uri)
        return fs, path
    except Exception as arrow_error:  # noqa: BLE001 - any scheme pyarrow lacks: try fsspec
        try:
            import fsspec

            ffs, path = fsspec.core.url_to_fs(uri)
        except Exception as e:  # noqa: BLE001
            raise ScreenstateError(
                f"--root {uri}: cannot open this filesystem ({arrow_error}; fsspec: {e}); "
                "install its fsspec package (s3fs, gcsfs, adlfs...) or use a path on a shared mount"
            ) from e
        return pafs.PyFileSystem(pafs.FSSpecHandler(ffs)), str(path)


def _candidate(name: str) -> bool:
    if name.startswith(".") or name.lower() in IGNORED_NAMES:
        return False
    return Path(name).suffix.lower() not in SIDE_FILES


def discover_uri_frames(root: Root) -> tuple[list[Frame], str]:
    """List a URI root like :func:`~screenstate.batch.layout.discover_frames` lists a local one."""
    import pyarrow.fs as pafs

    assert root.uri is not None
    fs, base = _filesystem(root.uri)
    try:
        top = fs.get_file_info(pafs.FileSelector(base, recursive=False))
    except (OSError, FileNotFoundError) as e:
        raise ScreenstateError(f"--root {root.uri}: cannot list ({e})") from e
    files = sorted(
        (Path(i.path) for i in top if i.type == pafs.FileType.File and _candidate(i.base_name)), key=natural_key
    )
    dirs = sorted(
        (i for i in top if i.type == pafs.FileType.Directory and not i.base_name.startswith(".")),
        key=lambda i: natural_key(Path(i.path)),
    )
    if files or not dirs:
        frames, layout = [Frame(p, None) for p in files], "flat"
    else:
        frames, layout = [], "labeled"
        for d in dirs:
            inside = fs.get_file_info(pafs.FileSelector(d.path, recursive=True))
            paths = sorted(
                (Path(i.path) for i in inside if i.type == pafs.FileType.File and _candidate(i.base_name)),
                key=natural_key,
            )
            frames += [Frame(p, d.base_name) for p in paths]
    if not frames:
        raise ScreenstateError(
            f"--root {root.uri}: no frames found (expected {', '.join(IMAGE_SUFFIXES[:4])} files, "
            "flat or in ROOT/<label>/ directories)"
        )
    return frames, layout


def read_frame(root: Root, path: str) -> tuple[bytes | None, str | None]:
    """(bytes, None) or (None, error naming the frame)."""
    name = root.display(path)
    if root.uri is None:  # never blocks on a FIFO; names broken links and loops
        try:
            return read_image_file(path), None
        except InvalidImageError as e:
            return None, str(e)
    try:
        with _filesystem(root.uri)[0].open_input_stream(path) as f:
            data = f.read()
    except OSError as e:
        return None, f"{name}: cannot read ({getattr(e, 'strerror', None) or e})"
    if not data:
        return None, f"{name}: empty file (0 bytes)"
    return data, None


def hash_frame(root: Root, path: str) -> tuple[str | None, str | None]:
    """(content hash, None) or (None, error)."""
    data, err = read_frame(root, path)
    return (bytes_hash(data), None) if data is not None else (None, err)


def hash_batch(batch: dict[str, np.ndarray], root: Root) -> dict[str, list[str]]:
    """Ray stage for URI roots: {path} -> {path, hash, error}; the bytes stay on the worker."""
    out: dict[str, list[str]] = {"path": [], "hash": [], "error": []}
    for p in batch["path"]:
        h, err = hash_frame(root, str(p))
        out["path"].append(str(p))
        out["hash"].append(h or "")
        out["error"].append(err or "")
    return out


def wire_path(path: str) -> bytes:
    """A path as it travels in Ray blocks: its bytes (Arrow strings must be valid UTF-8,
    file names need not be)."""
    return os.fsencode(path)


def unwire_path(value: Any) -> str:
    """Inverse of :func:`wire_path` (a ``str`` passes through)."""
    return os.fsdecode(bytes(value)) if isinstance(value, (bytes, np.bytes_)) else str(value)


def fetch_batch(batch: dict[str, np.ndarray], root: Root) -> dict[str, list[Any]]:
    """Ray stage: {hash, path} -> {hash, path (as displayed), data, error}. A file whose bytes no longer
    match the hash taken at listing time is an error (its features would be filed under
    another frame's hash). Paths travel as bytes, errors as printable text."""
    out: dict[str, list[Any]] = {"hash": [], "path": [], "data": [], "error": []}
    for h, raw in zip(batch["hash"], batch["path"]):
        p = unwire_path(raw)
        data, err = read_frame(root, p)
        if data is not None and bytes_hash(data) != str(h):
            data, err = (
                None,
                (
                    f"{root.display(p)}: file changed while the job was reading it (its content no longer matches "
                    "the hash taken when the job listed it); nothing was cached for it, rerun to classify it"
                ),
            )
        out["hash"].append(str(h))
        out["path"].append(wire_path(root.display(p)))
        out["data"].append(data or b"")
        out["error"].append(printable(err or ""))
    return out
