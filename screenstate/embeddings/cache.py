"""Caches of image features: on disk keyed by (content hash, channel model id), and a
small in-memory LRU keyed by content hash in front of it.

One file per entry under ``root/<model-id digest>/<hash[:2]>/<hash>.bin``, written
atomically (temp file, fsync, rename; mode 0644 so other users and containers can read a
shared cache), so concurrent workers and interrupted runs never leave a half-written
entry. An entry that is damaged anyway (a truncated copy, a full disk, a zero-length
file) heals: :meth:`FeatureCache.load` treats it as a miss, deletes it and logs once, and
the caller encodes the image again. Changing class definitions never invalidates the
cache: only the image content and the channel's weights/settings (its ``model_id``) are
in the key.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from screenstate.atomic import atomic_write
from screenstate.hashing import digest
from screenstate.lru import LRU

log = logging.getLogger("screenstate")
T = TypeVar("T")


_cache_root: Path | None = None


def set_cache_root(path: str | Path | None) -> None:
    """Where caches go when no directory is given (features, precision calibrations); None
    restores the platform default. The CLI calls this with ``--cache``/``SCREENSTATE_CACHE``:
    the library itself reads no environment variable."""
    global _cache_root
    _cache_root = Path(path).expanduser() if path else None


def default_cache_dir() -> Path:
    """The root set by :func:`set_cache_root`, else the platform's user cache directory
    (platformdirs: ``$XDG_CACHE_HOME/screenstate`` or ``~/.cache/screenstate`` on Linux)."""
    if _cache_root is not None:
        return _cache_root
    import platformdirs

    return Path(platformdirs.user_cache_dir("screenstate", appauthor=False))


class FeatureCache:
    """A directory of serialised features."""

    def __init__(self, root: str | Path | None = None) -> None:
        self.root = Path(root) if root is not None else default_cache_dir()
        self.hits = 0
        self.misses = 0
        self.healed = 0  # damaged entries deleted by load()
        self._warned = False

    def _path(self, model_id: str, content_hash: str) -> Path:
        return self.root / digest(model_id, size=8) / content_hash[:2] / f"{content_hash}.bin"

    def any_missing(self, content_hashes: list[str]) -> bool:
        """Whether some hash has no entry under any model: a cheap guess that needs no loaded
        model (a batch job starts Ray while the models load when some frame must be encoded)."""
        if not self.root.is_dir():
            return bool(content_hashes)
        model_dirs = [d for d in self.root.iterdir() if d.is_dir()]
        return any(not any((d / h[:2] / f"{h}.bin").exists() for d in model_dirs) for h in content_hashes)

    def get(self, model_id: str, content_hash: str) -> bytes | None:
        try:
            data = self._path(model_id, content_hash).read_bytes()
        except OSError:
            self.misses += 1
            return None
        self.hits += 1
        return data

    def load(self, model_id: str, content_hash: str, loads: Callable[[bytes], T]) -> T | None:
        """The entry deserialised by ``loads``, or None. An entry that fails to load is a
        miss: it is deleted (the next ``put`` rewrites it) and the first such entry is logged."""
        data = self.get(model_id, content_hash)
        if data is None:
            return None
        try:
            return loads(data)
        except Exception as e:  # noqa: BLE001 - any damage (BadZipFile, EOFError, ...) is a miss
            path = self._path(model_id, content_hash)
            path.unlink(missing_ok=True)
            self.hits -= 1
            self.misses += 1
            self.healed += 1
            if not self._warned:
                self._warned = True
                log.warning(
                    "feature cache: damaged entry %s (%s: %s) deleted; it is encoded again "
                    "(further damaged entries are healed silently)",
                    path,
                    type(e).__name__,
                    e,
                )
            return None

    def put(self, model_id: str, content_hash: str, data: bytes) -> None:
        atomic_write(self._path(model_id, content_hash), data)  # fsync + rename, mode 0644


class MemoryFeatureCache(LRU[str, Any]):
    """A bounded, thread-safe LRU of decoded features keyed by content hash.

    In front of the disk cache: a replay loop or a service that sees the same screen
    again gets its features back without OCR, decoding or even a disk read, and works
    when no disk cache is configured. ``max_items=0`` turns it off.
    """

    def __init__(self, max_items: int = 64, max_bytes: int | None = None) -> None:
        super().__init__(max_items, max_bytes)
