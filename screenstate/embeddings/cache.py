"""On-disk cache of image features keyed by (content hash, channel model id).

One file per entry under ``root/<model-id digest>/<hash[:2]>/<hash>.bin``, written
atomically (temp file + rename), so concurrent workers and interrupted runs never leave
a half-written entry. Changing class definitions never invalidates it: only the image
content and the channel's weights/settings (its ``model_id``) are in the key.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path


def default_cache_dir() -> Path:
    env = os.environ.get("SCREENSTATE_CACHE")
    if env:
        return Path(env)
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "screenstate"


class FeatureCache:
    """A directory of serialised features."""

    def __init__(self, root: str | Path | None = None) -> None:
        self.root = Path(root) if root is not None else default_cache_dir()
        self.hits = 0
        self.misses = 0

    def _path(self, model_id: str, content_hash: str) -> Path:
        mid = hashlib.blake2b(model_id.encode(), digest_size=8).hexdigest()
        return self.root / mid / content_hash[:2] / f"{content_hash}.bin"

    def get(self, model_id: str, content_hash: str) -> bytes | None:
        try:
            data = self._path(model_id, content_hash).read_bytes()
        except OSError:
            self.misses += 1
            return None
        self.hits += 1
        return data

    def put(self, model_id: str, content_hash: str, data: bytes) -> None:
        path = self._path(model_id, content_hash)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
