"""Preparing frames in this process's threads, without Ray: what a small job on one machine
uses (``encode_in="local"``, or ``"auto"`` with no Ray address and at most
:data:`LOCAL_MAX_FRAMES` frames to encode). Starting a local Ray costs seconds and hundreds
of MB before the first frame (``benchmarks/bench_startup.py``); for a few hundred frames,
whose OCR in this process dominates anyway, threads that read and decode the next frames
while this process encodes are enough. Same blocks as ``encode.prepared_for_driver``."""

from __future__ import annotations

import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from screenstate.batch.prepare import prepare_batch
from screenstate.batch.sources import Root, fetch_batch, wire_path

#: at most this many frames to encode are prepared in threads when no Ray address is given
LOCAL_MAX_FRAMES = 256


def prepared_in_threads(
    root: Root, todo: dict[str, str], preparer: Any, max_pixels: int, per_block: int = 4
) -> Iterator[dict[str, list[Any]]]:
    """Blocks {hash, path, prepared, error} of ``todo`` (hash -> path), in order, read and
    prepared by a few threads ahead of the caller."""
    items = list(todo.items())
    blocks = [items[i : i + per_block] for i in range(0, len(items), per_block)]

    def one(block: list[tuple[str, str]]) -> dict[str, list[Any]]:
        fetched = fetch_batch({"hash": [h for h, _ in block], "path": [wire_path(p) for _, p in block]}, root)
        return prepare_batch(fetched, preparer, max_pixels)

    with ThreadPoolExecutor(max_workers=max(1, min(4, os.cpu_count() or 1))) as pool:
        yield from pool.map(one, blocks)
