"""The Ray Data preprocessing stage: read, validate, decode and prepare frames. Kept free
of torch so worker processes start fast."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import numpy as np

from screenstate.embeddings.images import bytes_hash, load_image, read_image_file
from screenstate.errors import InvalidImageError


def prepare_batch(batch: dict[str, np.ndarray], preparer: Any, max_pixels: int) -> dict[str, list[Any]]:
    """Rows {hash, path} -> {hash, path, prepared (pickled), error}; a bad file is an error row.

    The bytes read here are hashed again and must match the row's hash: features are
    cached under that hash, so a file that changed since it was hashed is an error row
    (rerun to classify its new content), never new pixels stored under the old hash."""
    out: dict[str, list[Any]] = {"hash": [], "path": [], "prepared": [], "error": []}
    for h, p in zip(batch["hash"], batch["path"]):
        out["hash"].append(str(h))
        out["path"].append(str(p))
        try:
            data = read_image_file(Path(str(p)))
            if bytes_hash(data) != str(h):
                raise InvalidImageError(
                    f"{p}: file changed while the job was reading it (its content no longer matches the "
                    "hash taken when the job listed it); nothing was cached for it, rerun to classify it"
                )
            img = load_image(data, max_pixels)
            out["prepared"].append(pickle.dumps(preparer(img), protocol=5))
            out["error"].append("")
        except (InvalidImageError, OSError) as e:
            out["prepared"].append(b"")
            out["error"].append(str(e).replace("image bytes", str(p), 1))
    return out
