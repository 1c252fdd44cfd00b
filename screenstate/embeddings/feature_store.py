"""The feature store: every path from a screenshot to its features goes through here.

    content hash -> memory LRU -> disk cache (one entry per channel) -> encode

The classifier, batch jobs (driver and actor pool), the service, the state checker, the
review page and ``suggest`` all ask a :class:`FeatureStore`. A screen is keyed by its
content (file bytes, or pixels for in-memory images), so a changed file is a new key and
never served stale; an identical screen is encoded once. Only the channels whose features
are missing are encoded: adding a channel does not re-run OCR. A disk entry that fails to
load is deleted and encoded again (see :class:`~screenstate.embeddings.cache.FeatureCache`).

    store = FeatureStore(encoder, disk="~/.cache/screenstate", memory=64)
    feats = store.features([load_with_hash("frame.png", lazy=True)])   # one ScreenFeatures per image

Features are opaque here: a channel's ``dumps``/``loads``/``model_id`` say how to store them.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from PIL import Image

from screenstate.embeddings.cache import FeatureCache, MemoryFeatureCache
from screenstate.embeddings.encoder import Encoder
from screenstate.embeddings.features import ScreenExamples, ScreenFeatures, ScreenPrepared
from screenstate.embeddings.images import DEFAULT_MAX_PIXELS, ImageInput, load_image, read_image_file
from screenstate.errors import InvalidImageError
from screenstate.hashing import bytes_hash, pixel_hash
from screenstate.lru import LRU
from screenstate.schema import Column

#: the features of one image, one (opaque here) feature per channel
Features = ScreenFeatures


class LoadedImage:
    """An input's content hash, a short name for messages, and its RGB pixels.

    Pixels of files and bytes are decoded on first use of ``image``, so a screen whose
    features are already stored (same bytes) is never decoded; a corrupt input raises
    :class:`InvalidImageError` naming it at that point.
    """

    __slots__ = ("content_hash", "source", "_image", "_decode")

    def __init__(
        self,
        image: Image.Image | None,
        content_hash: str,
        source: str,
        decode: Callable[[], Image.Image] | None = None,
    ) -> None:
        if image is None and decode is None:
            raise ValueError("LoadedImage: give the image or a way to decode it")
        self.content_hash = content_hash
        self.source = source
        self._image = image
        self._decode = decode

    @property
    def image(self) -> Image.Image:
        if self._image is None:
            if self._decode is None:  # pragma: no cover - the constructor requires one of them
                raise ValueError("LoadedImage: no image and no way to decode it")
            self._image = self._decode()
        return self._image


def load_with_hash(src: ImageInput, max_pixels: int = DEFAULT_MAX_PIXELS, lazy: bool = False) -> LoadedImage:
    """Hash any input's content (file bytes for paths/bytes, pixels otherwise) and decode it;
    ``lazy`` leaves decoding of files and bytes to the first use of ``.image``."""
    if isinstance(src, (str, os.PathLike)):
        p = Path(src)
        data = read_image_file(p)  # one read: the hashed bytes are the decoded bytes

        def decode_file() -> Image.Image:
            try:
                return load_image(data, max_pixels)
            except InvalidImageError as e:
                raise InvalidImageError(str(e).replace("image bytes", str(p), 1)) from e

        return _bytes_input(data, str(p), decode_file, lazy)
    if isinstance(src, (bytes, bytearray, memoryview)):
        data = bytes(src)
        return _bytes_input(data, f"{len(data)} bytes", functools.partial(load_image, data, max_pixels), lazy)
    img = load_image(src, max_pixels)
    return LoadedImage(img, pixel_hash(img), f"{type(src).__name__} {img.size[0]}x{img.size[1]}")


def _bytes_input(data: bytes, source: str, decode: Callable[[], Image.Image], lazy: bool) -> LoadedImage:
    return LoadedImage(None if lazy else decode(), bytes_hash(data), source, decode)


def channel_model_ids(encoder: Encoder) -> str:
    """What the stored bytes of ``encoder``'s features depend on, one channel per line
    (encoding processes and the process that stores their output must agree on it)."""
    return "\n".join(ch.model_id for ch in encoder.channels)


def dumps_features(encoder: Encoder, features: Features) -> list[bytes]:
    """One image's features as bytes, one entry per channel in encoder order (how features
    cross processes: Ray actors return them, the driver stores them)."""
    return [ch.dumps(features.get(ch.name)) for ch in encoder.channels]


@runtime_checkable
class EmbedsTexts(Protocol):
    """A channel whose example texts cost a model run to embed (CLIP's prompt ensembles):
    it keeps them in ``text_embeddings`` by ``text_key``; the store persists them on disk
    under ``text_model_id``, so a new process does not run the text model again."""

    text_embeddings: LRU[str, Any]

    @property
    def text_model_id(self) -> str: ...

    def text_key(self, text: str, augment: bool) -> str: ...

    def dumps_text(self, embedding: Any) -> bytes:
        """One example text's embedding as bytes (not an image feature: see ``dumps``)."""
        ...

    def loads_text(self, data: bytes) -> Any: ...


class FeatureStore:
    """Features of images for one encoder (see the module docstring).

    ``disk``: a :class:`FeatureCache`, its directory, or None (memory only); ``memory``:
    how many recent screens keep their decoded features in memory (0 turns it off).
    ``encodes`` counts images actually run through the encoder (tests, benchmarks).
    """

    def __init__(
        self,
        encoder: Encoder,
        disk: FeatureCache | str | os.PathLike[str] | None = None,
        memory: int | MemoryFeatureCache = 64,
    ) -> None:
        self.encoder = encoder
        self.disk = FeatureCache(Path(disk)) if isinstance(disk, (str, os.PathLike)) else disk
        self.memory = memory if isinstance(memory, MemoryFeatureCache) else MemoryFeatureCache(memory)
        self.encodes = 0

    def for_encoder(self, encoder: Encoder) -> FeatureStore:
        """A store for another encoder sharing this one's disk cache (a fresh memory: memory
        entries hold every channel of the encoder they were made for)."""
        return FeatureStore(encoder, self.disk, self.memory.max_items)

    # -- lookups ----------------------------------------------------------------------
    def cached(self, content_hash: str) -> Features | None:
        """Every channel's features from memory or disk, or None if any is missing."""
        found = self._lookup(content_hash)
        return found if len(found.names) == len(self.encoder.channels) else None

    def _lookup(self, h: str) -> Features:
        """The channels whose features of screen ``h`` are stored (all of them from memory;
        from disk channel by channel: a channel added later is not there yet)."""
        hit = self.memory.get(h)
        if hit is not None:
            return hit
        if self.disk is None:
            return ScreenFeatures()
        found: dict[str, Any] = {}
        for ch in self.encoder.channels:
            feat = self.disk.load(ch.model_id, h, ch.loads)  # a damaged entry is a miss (and healed)
            if feat is not None:
                found[ch.name] = feat
        out = ScreenFeatures.from_channels(found)
        if len(found) == len(self.encoder.channels):
            self.memory.put(h, out)
        return out

    # -- storing ------------------------------------------------------------------------
    def put(self, content_hash: str, features: Features, only: Sequence[str] | None = None) -> None:
        """Keep features in memory and on disk (``only``: write just these channels to disk)."""
        self.memory.put(content_hash, features)
        if self.disk is None:
            return
        for ch in self.encoder.channels:
            if only is None or ch.name in only:
                self.disk.put(ch.model_id, content_hash, ch.dumps(features.get(ch.name)))

    def put_serialized(self, content_hash: str, blobs: Sequence[bytes]) -> Features:
        """Store features that arrive as bytes (one per channel, from :func:`dumps_features`
        in another process) and return them decoded. Keyed by hash: storing the same screen
        twice (a retried batch) changes nothing."""
        channels = self.encoder.channels
        if len(blobs) != len(channels):
            raise ValueError(f"expected {len(channels)} feature blobs ({self.encoder.channel_names}), got {len(blobs)}")
        decoded: dict[str, Any] = {}
        for ch, blob in zip(channels, blobs):
            if self.disk is not None:
                self.disk.put(ch.model_id, content_hash, blob)
            decoded[ch.name] = ch.loads(blob)
        feats = ScreenFeatures.from_channels(decoded)
        self.memory.put(content_hash, feats)
        return feats

    # -- examples -----------------------------------------------------------------------
    def encode_examples(
        self, columns: list[Column], augment: bool = True, image_features: list[Features] | None = None
    ) -> ScreenExamples:
        """The encoder's example features; text embeddings of channels that keep them
        (:class:`EmbedsTexts`) come from and go to the disk cache."""
        texts = [c.text for c in columns if c.text is not None]
        persisted = [ch for ch in self.encoder.channels if isinstance(ch, EmbedsTexts)] if self.disk and texts else []
        fresh: dict[str, list[str]] = {}
        for ch in persisted:
            assert isinstance(ch, EmbedsTexts) and self.disk is not None
            fresh[ch.name] = []
            for key in dict.fromkeys(ch.text_key(t, augment) for t in texts):
                if key in ch.text_embeddings:
                    continue
                feat = self.disk.load(ch.text_model_id, key, ch.loads_text)
                if feat is None:
                    fresh[ch.name].append(key)
                else:
                    ch.text_embeddings.put(key, feat)
        examples = self.encoder.encode_examples(columns, augment=augment, image_features=image_features)
        for ch in persisted:
            assert isinstance(ch, EmbedsTexts) and self.disk is not None
            for key in fresh[ch.name]:
                feat = ch.text_embeddings.get(key)
                if feat is not None:
                    self.disk.put(ch.text_model_id, key, ch.dumps_text(feat))
        return examples

    # -- encoding -----------------------------------------------------------------------
    def features(self, loaded: Sequence[LoadedImage], pool: ThreadPoolExecutor | None = None) -> list[Features]:
        """Features of every input, in order: stored ones are looked up, identical inputs
        are encoded once, and only by the channels whose features are not stored. ``pool``
        decodes and preprocesses in threads."""
        out: list[Features | None] = [None] * len(loaded)
        todo: dict[str, list[int]] = {}
        partial: dict[str, Features] = {}
        n_channels = len(self.encoder.channels)
        for i, li in enumerate(loaded):
            h = li.content_hash
            if h in todo:
                todo[h].append(i)
                continue
            found = self._lookup(h)
            if len(found.names) == n_channels:
                out[i] = found
            else:
                partial[h] = found
                todo[h] = [i]
        groups: dict[tuple[str, ...], list[str]] = {}
        for h in todo:
            missing = tuple(n for n in self.encoder.channel_names if n not in partial[h].names)
            groups.setdefault(missing, []).append(h)
        for missing, hashes in groups.items():
            sub = self.encoder if len(missing) == n_channels else self.encoder.subset(missing)

            def prepare(li: LoadedImage, sub: Encoder = sub) -> ScreenPrepared:
                return sub.prepare(li.image)  # decodes a lazily loaded input

            firsts = [loaded[todo[h][0]] for h in hashes]
            prepared = list(pool.map(prepare, firsts)) if pool else [prepare(li) for li in firsts]
            feats = sub.encode(prepared)
            self.encodes += len(feats)
            for h, f in zip(hashes, feats):
                full = partial[h].merged(f)
                self.put(h, full, only=missing)
                for i in todo[h]:
                    out[i] = full
        done = [f for f in out if f is not None]
        if len(done) != len(out):  # pragma: no cover - every input was found or encoded above
            raise RuntimeError("feature store: an input got no features")
        return done

    def encode_prepared(self, hashes: Sequence[str], prepared: Sequence[ScreenPrepared]) -> list[Features]:
        """Encode images prepared elsewhere (a batch job prepares them in Ray tasks) and store them."""
        feats = self.encoder.encode(list(prepared))
        self.encodes += len(feats)
        for h, f in zip(hashes, feats):
            self.put(h, f)
        return feats
