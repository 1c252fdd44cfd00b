"""The Ray Data preprocessing stage: validate, decode and prepare frames from their bytes.
Kept free of torch so worker processes start fast."""

from __future__ import annotations

import pickle
from typing import Any

from screenstate.batch.sources import Columns, unwire_path
from screenstate.embeddings.images import load_image
from screenstate.errors import InvalidImageError
from screenstate.recordings.listing import printable


def prepare_batch(batch: Columns, preparer: Any, max_pixels: int) -> dict[str, list[Any]]:
    """Rows {hash, path, data, error} (from ``sources.fetch_batch``) -> {hash, path,
    prepared (pickled), error}; a bad file is an error row, a fetch error passes through."""
    out: dict[str, list[Any]] = {"hash": [], "path": [], "prepared": [], "error": []}
    for h, p, data, err in zip(batch["hash"], batch["path"], batch["data"], batch["error"]):
        out["hash"].append(str(h))
        out["path"].append(p)  # bytes (sources.wire_path), passed through
        if err:
            out["prepared"].append(b"")
            out["error"].append(str(err))
            continue
        try:
            img = load_image(bytes(data), max_pixels)
            out["prepared"].append(pickle.dumps(preparer(img), protocol=5))
            out["error"].append("")
        except (InvalidImageError, OSError) as e:
            out["prepared"].append(b"")
            out["error"].append(printable(str(e).replace("image bytes", printable(unwire_path(p)), 1)))
    return out
