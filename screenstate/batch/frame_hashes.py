"""Content hashes of a recording's frames (the feature store's keys): read and hashed in
threads here for a local root, in Ray tasks on the workers for a URI root (the bytes stay
where they were read). A frame that cannot be read gets an error instead of a hash."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from screenstate.batch.sources import Root, hash_batch, hash_frame
from screenstate.recordings.frame import Frame
from screenstate.recordings.listing import printable


def hash_file(frame: Frame, root: Root) -> tuple[str | None, str | None]:
    """(content hash, None) or (None, error) of one listed frame."""
    if frame.error is not None:  # a broken link, a FIFO: known from listing, never opened
        return None, f"{printable(frame.file)}: {frame.error}"
    return hash_frame(root, str(frame.file))


def hash_local(root: Root, frames: list[Frame], threads: int = 8) -> list[tuple[str | None, str | None]]:
    """(hash, error) of every frame of a local root, in order."""
    with ThreadPoolExecutor(max_workers=threads) as pool:
        return list(pool.map(lambda f: hash_file(f, root), frames))


def hash_on_ray(root: Root, paths: list[str]) -> dict[str, tuple[str | None, str | None]]:
    """Content hashes of a URI root's frames, read on the workers: path -> (hash, error)."""
    import ray

    ds: Any = ray.data.from_items([{"path": p} for p in paths], override_num_blocks=max(1, -(-len(paths) // 16)))
    ds = ds.map_batches(hash_batch, fn_kwargs={"root": root}, batch_format="numpy", num_cpus=0.25)
    out: dict[str, tuple[str | None, str | None]] = {}
    for b in ds.iter_batches(batch_size=None, batch_format="numpy"):
        for p, h, e in zip(b["path"], b["hash"], b["error"]):
            out[str(p)] = (str(h) or None, str(e) or None)
    return out
