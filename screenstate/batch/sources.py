"""Reading a batch job's frame files inside Ray tasks: a local directory, or a URI every node can read.

A URI root (``s3://``, ``gs://``, ``file://`` on a shared mount, anything pyarrow or fsspec
can open) is listed on the driver and read on the workers. A plain local path is read on
the driver's node only: on a multi-node cluster the job pins its read tasks there and the
bytes travel to the encoders through Ray's object store, a few frames per block.
These functions run inside Ray tasks, so they import neither torch nor the models.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from screenstate.embeddings.images import read_image_file
from screenstate.errors import InvalidImageError
from screenstate.hashing import bytes_hash
from screenstate.recordings.listing import printable
from screenstate.recordings.uri import Root, filesystem

__all__ = ["Root", "fetch_batch", "hash_batch", "hash_frame", "read_frame", "unwire_path", "wire_path"]


def read_frame(root: Root, path: str) -> tuple[bytes | None, str | None]:
    """(bytes, None) or (None, error naming the frame)."""
    name = root.display(path)
    if root.uri is None:  # never blocks on a FIFO; names broken links and loops
        try:
            return read_image_file(path), None
        except InvalidImageError as e:
            return None, str(e)
    try:
        with filesystem(root.uri)[0].open_input_stream(path) as f:
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


#: a block of rows by column: Ray hands stages numpy arrays, the local path plain lists
Columns = Mapping[str, "Sequence[Any] | np.ndarray"]


def wire_path(path: str) -> bytes:
    """A path as it travels in Ray blocks: its bytes (Arrow strings must be valid UTF-8,
    file names need not be)."""
    return os.fsencode(path)


def unwire_path(value: Any) -> str:
    """Inverse of :func:`wire_path` (a ``str`` passes through)."""
    return os.fsdecode(bytes(value)) if isinstance(value, (bytes, np.bytes_)) else str(value)


def fetch_batch(batch: Columns, root: Root) -> dict[str, list[Any]]:
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
