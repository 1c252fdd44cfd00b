"""Content hashing: every key screenstate derives from content (image bytes and pixels,
files, model ids, settings) is a BLAKE2b hex digest made here.

One function family so that cache keys stay comparable across modules: the same bytes
give the same key whether a batch job, the service or the review page hashed them.

>>> digest(b"abc", size=4)
'63906248'
>>> digest("abc", size=4) == digest(b"abc", size=4)
True
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PIL import Image

#: digest size (bytes) of content keys: 128 bits, collision-free for any real cache
CONTENT_DIGEST = 16


def digest(data: bytes | str, size: int = CONTENT_DIGEST) -> str:
    """Hex digest of ``data`` (text is UTF-8 encoded) in ``size`` bytes."""
    return hashlib.blake2b(data.encode() if isinstance(data, str) else data, digest_size=size).hexdigest()


def digest_parts(parts: Iterable[bytes | str], size: int = CONTENT_DIGEST) -> str:
    """Hex digest of a stream of parts (hashed in order, without joining them in memory)."""
    h = hashlib.blake2b(digest_size=size)
    for p in parts:
        h.update(p.encode() if isinstance(p, str) else p)
    return h.hexdigest()


def bytes_hash(data: bytes) -> str:
    """Content hash of encoded bytes (cheap: no decode)."""
    return digest(data)


def pixel_hash(img: Image.Image) -> str:
    """Content hash of decoded pixels (same picture, same hash, whatever the file format)."""
    return digest_parts((f"{img.mode}{img.size}", img.tobytes()))


def file_hash(path: str | Path, size: int = CONTENT_DIGEST, chunk: int = 1 << 22) -> str:
    """Content hash of a (large) file, streamed."""

    def blocks() -> Iterable[bytes]:
        with open(path, "rb") as f:
            while block := f.read(chunk):
                yield block

    return digest_parts(blocks(), size)
