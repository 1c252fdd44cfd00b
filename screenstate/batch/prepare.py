"""The Ray Data preprocessing stage: read, validate, decode and prepare frames. Kept free
of torch so worker processes start fast."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import numpy as np

from screenstate.embeddings.images import load_image
from screenstate.errors import InvalidImageError


def prepare_batch(batch: dict[str, np.ndarray], preparer: Any, max_pixels: int) -> dict[str, list[Any]]:
    """Rows {hash, path} -> {hash, path, prepared (pickled), error}; a bad file is an error row."""
    out: dict[str, list[Any]] = {"hash": [], "path": [], "prepared": [], "error": []}
    for h, p in zip(batch["hash"], batch["path"]):
        out["hash"].append(str(h))
        out["path"].append(str(p))
        try:
            img = load_image(Path(str(p)).read_bytes(), max_pixels)
            out["prepared"].append(pickle.dumps(preparer(img), protocol=5))
            out["error"].append("")
        except (InvalidImageError, OSError) as e:
            out["prepared"].append(b"")
            out["error"].append(str(e).replace("image bytes", str(p), 1))
    return out
