"""Change gating: features of an ordered stream of screens without re-reading what did not change.

One implementation for every ordered caller (the replay-time ``StateChecker``, batch jobs
over videos and flat recordings). Each frame is compared with the *anchor*, the last frame
whose features were computed, tile by tile on a downscaled copy:

- no tile changed (or at most ``reuse_tiles`` tiles: a moved cursor, a blinking caret)
  -> the anchor's features are reused as they are (``reused``);
- a part changed (at most ``partial_below`` of the tiles) and the encoder has the ``text``
  channel -> text is re-read only inside the changed region, lines elsewhere come from the
  anchor; other channels encode the whole frame (``partial``);
- otherwise (a scene change) -> every channel reads the whole frame (``full``).

Comparing with the anchor, not the previous frame, means slow changes add up: typing a
word one character per frame is re-read once the typed tiles pass ``reuse_tiles``.

    gate = ChangeGate(encoder, GateOptions.for_video())
    step = gate.step(img)          # GateStep(features, how, changed_tiles)
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image, ImageChops

from screenstate.classifier.pins import TILE
from screenstate.embeddings.encoder import Encoder
from screenstate.embeddings.features import ScreenFeatures
from screenstate.embeddings.ocr import TextLine, reading_order
from screenstate.screen.foreground import find_foreground

if TYPE_CHECKING:
    from screenstate.embeddings.text import TextChannel, TextFeatures

#: a partial re-read whose two best classes are closer than this (raw score) is confirmed
#: by a full read: re-reading a crop can change a character ("messages.." vs "..."), which
#: is enough to swap a near-tie, and ordered callers must agree with per-frame results
CONFIRM_MARGIN = 0.01
HOWS = ("full", "partial", "reused", "cached")


@dataclass(frozen=True)
class GateOptions:
    """How frames are compared.

    ``scale``: compare copies shrunk by this factor (box filter; 1 = full resolution);
    ``noise``: a downscaled pixel whose largest channel difference is at most this is
    unchanged (video codecs re-quantise static content at every keyframe);
    ``reuse_tiles``: a change of at most this many TILE-px tiles reuses the anchor's features;
    ``partial_below``: re-read text only in the changed region up to this fraction of tiles.
    """

    scale: int = 1
    noise: int = 0
    reuse_tiles: int = 0
    partial_below: float = 0.5

    def __post_init__(self) -> None:
        if self.scale < 1 or TILE % self.scale:
            raise ValueError(f"scale must divide {TILE} (1, 2, 4, 8, ...), got {self.scale}")
        if not 0 <= self.noise <= 255:
            raise ValueError(f"noise must be in [0, 255], got {self.noise}")
        if self.reuse_tiles < 0 or not 0.0 <= self.partial_below <= 1.0:
            raise ValueError(f"reuse_tiles >= 0 and partial_below in [0, 1], got {self}")

    @classmethod
    def exact(cls) -> GateOptions:
        """Lossless screenshots: any changed pixel counts (the StateChecker's default)."""
        return cls()

    @classmethod
    def for_video(cls) -> GateOptions:
        """Decoded video: 4x downscaled comparison, codec noise up to 24 levels ignored
        (measured on x264 CRF 18-28 screen recordings: re-quantised static tiles stay
        under 12 after 4x averaging, a changed character exceeds 40), and up to 8 tiles
        (two cursor-sized spots: where the cursor was at the anchor and where it is now)
        reuse the anchor's features."""
        return cls(scale=4, noise=24, reuse_tiles=8)


@dataclass(frozen=True)
class GateStep:
    """Features of one frame and the work they cost: ``full``, ``partial``, ``reused`` (the
    anchor's) or ``cached`` (from a feature store)."""

    features: ScreenFeatures
    how: str
    changed_tiles: int

    def __post_init__(self) -> None:
        if self.how not in HOWS:
            raise ValueError(f"how must be one of {HOWS}, got {self.how!r}")


@dataclass(frozen=True)
class LazyFrame:
    """A frame whose full-size pixels are made only when it must be read: decoded video
    gives the comparison copy cheaply (FFmpeg scales and converts in one pass), and most
    frames are never converted to a full RGB image."""

    size: tuple[int, int]  # full size (w, h)
    small: Image.Image  # RGB, shrunk by the gate's scale
    load: Callable[[], Image.Image]


def _small(img: Image.Image, scale: int) -> Image.Image:
    """RGB copy shrunk by ``scale`` (box filter)."""
    return img.reduce(scale) if scale > 1 else img


def changed_tiles(anchor: Image.Image, cur: Image.Image, scale: int, noise: int, size: tuple[int, int]) -> np.ndarray:
    """Bool [rows, cols] of TILE-px tiles (of the full-size frame ``size`` = (w, h)) where
    the shrunk frames differ by more than ``noise`` in some channel (C passes through
    PIL; an unchanged frame costs one difference and a bounding box)."""
    w, h = size
    rows, cols = math.ceil(h / TILE), math.ceil(w / TILE)
    diff = ImageChops.difference(anchor, cur)
    if diff.getbbox() is None:
        return np.zeros((rows, cols), dtype=bool)
    if diff.mode != "L":
        r, g, b = diff.convert("RGB").split()
        diff = ImageChops.lighter(ImageChops.lighter(r, g), b)  # per-pixel max over channels
    changed = np.asarray(diff) > noise
    t = TILE // scale
    ph, pw = rows * t - changed.shape[0], cols * t - changed.shape[1]
    if ph > 0 or pw > 0:
        changed = np.pad(changed, ((0, max(0, ph)), (0, max(0, pw))))
    changed = changed[: rows * t, : cols * t]
    return np.asarray(changed.reshape(rows, t, cols, t).any(axis=(1, 3)))


def partial_text(text: TextChannel, img: Image.Image, tiles: np.ndarray, anchor_text: TextFeatures) -> TextFeatures:
    """Text features of ``img`` re-reading only the changed tiles' bounding box (grown to
    whole anchor lines it cuts, so no line is read in pieces); lines outside it are the
    anchor's. Returns the anchor's features unchanged when the re-read region shows the
    same text as before (a cursor over a field), which saves the sentence embeddings."""
    if text.pictograms is not None:  # pictograms are found on the whole screen: read it all
        return text.encode([img])[0]
    ys, xs = np.nonzero(tiles)
    margin = TILE
    x0 = max(0, int(xs.min()) * TILE - margin)
    y0 = max(0, int(ys.min()) * TILE - margin)
    x1 = min(img.size[0], (int(xs.max()) + 1) * TILE + margin)
    y1 = min(img.size[1], (int(ys.max()) + 1) * TILE + margin)
    prev_lines = anchor_text.lines

    def outside(b: tuple[float, ...]) -> bool:
        return b[2] <= x0 or b[0] >= x1 or b[3] <= y0 or b[1] >= y1

    for _ in range(3):
        cut = [ln.box for ln in prev_lines if not outside(ln.box)]
        nx0 = min([x0, *(int(b[0]) for b in cut)])
        ny0 = min([y0, *(int(b[1]) for b in cut)])
        nx1 = max([x1, *(math.ceil(b[2]) for b in cut)])
        ny1 = max([y1, *(math.ceil(b[3]) for b in cut)])
        if (nx0, ny0, nx1, ny1) == (x0, y0, x1, y1):
            break
        x0, y0 = max(0, nx0 - 4), max(0, ny0 - 4)
        x1, y1 = min(img.size[0], nx1 + 4), min(img.size[1], ny1 + 4)
    keep = [ln for ln in prev_lines if outside(ln.box)]
    inside = [ln for ln in prev_lines if not outside(ln.box)]
    crop = img.crop((x0, y0, x1, y1))
    new = [
        TextLine((b[0] + x0, b[1] + y0, b[2] + x0, b[3] + y0), ln.text, ln.confidence)
        for ln in text.read_lines(crop)
        for b in [ln.box]
    ]
    if sorted(ln.text for ln in new) == sorted(ln.text for ln in inside):
        return anchor_text
    return text.features_from_lines(reading_order([*keep, *new]), find_foreground(img))


class ChangeGate:
    """Features for an ordered stream of frames (see the module docstring).

    ``encoder``'s ``prepare`` runs on the frame as given: callers resize first. The gate
    keeps a reference to the anchor's pixels only as a small array, so callers may reuse
    their frame buffers.
    """

    def __init__(self, encoder: Encoder, options: GateOptions | None = None) -> None:
        self.encoder = encoder
        self.options = options or GateOptions.exact()
        self.text = encoder.text
        self.counts = dict.fromkeys(HOWS, 0)
        self.reset()

    def reset(self) -> None:
        """Forget the anchor (the next frame is read in full)."""
        self._anchor_small: Image.Image | None = None
        self._anchor_size: tuple[int, int] | None = None
        self._anchor_feats: ScreenFeatures | None = None

    @property
    def anchor_features(self) -> ScreenFeatures | None:
        return self._anchor_feats

    def compare(self, frame: Image.Image | LazyFrame) -> tuple[np.ndarray | None, Image.Image]:
        """(changed tiles vs the anchor or None without a comparable anchor, the frame's small copy)."""
        small = frame.small if isinstance(frame, LazyFrame) else _small(frame, self.options.scale)
        if self._anchor_small is None or self._anchor_size != frame.size or self._anchor_small.size != small.size:
            return None, small
        return changed_tiles(self._anchor_small, small, self.options.scale, self.options.noise, frame.size), small

    def step(
        self,
        frame: Image.Image | LazyFrame,
        confirm: Callable[[ScreenFeatures], bool] | None = None,
        cached: Callable[[], ScreenFeatures | None] | None = None,
        cached_before_partial: bool = True,
    ) -> GateStep:
        """Features of the next frame. ``confirm(features)`` is asked after a partial read;
        True re-reads the text of the whole frame (a near tie between two states).
        ``cached()`` is asked when the frame must be read: features it returns (from a
        feature store) are used instead (``how`` = ``cached``) and become the anchor.
        ``cached_before_partial`` False asks it only before a full read (for callers whose
        store key costs a full-frame hash, more than a partial read may save)."""
        tiles, small = self.compare(frame)
        size = frame.size
        n_changed = tiles_of(size) if tiles is None else int(tiles.sum())
        if tiles is not None and self._anchor_feats is not None and n_changed <= self.options.reuse_tiles:
            self.counts["reused"] += 1
            return GateStep(self._anchor_feats, "reused", n_changed)
        partial = (
            self.text is not None
            and tiles is not None
            and self._anchor_feats is not None
            and tiles.mean() <= self.options.partial_below
        )
        stored = cached() if cached is not None and (cached_before_partial or not partial) else None
        if stored is not None:
            self._set_anchor(small, size, stored)
            self.counts["cached"] += 1
            return GateStep(stored, "cached", n_changed)
        img = frame.load() if isinstance(frame, LazyFrame) else frame
        enc = self.encoder
        if partial:
            assert tiles is not None and self._anchor_feats is not None and self.text is not None
            others = {ch.name: ch.encode([ch.prepare(img)])[0] for ch in enc.channels if ch is not self.text}
            anchor_text = self._anchor_feats.text
            assert anchor_text is not None  # the anchor was encoded by this encoder, text included
            text = partial_text(self.text, img, tiles, anchor_text)
            feats = ScreenFeatures.from_channels(others).merged(ScreenFeatures(text=text))
            how = "partial"
            if confirm is not None and confirm(feats):
                feats = feats.replace(text=self.text.encode([self.text.prepare(img)])[0])
                how = "full"
        else:
            feats = enc.encode([enc.prepare(img)])[0]
            how = "full"
        self._set_anchor(small, size, feats)
        self.counts[how] += 1
        return GateStep(feats, how, n_changed)

    def _set_anchor(self, small: Image.Image, size: tuple[int, int], feats: ScreenFeatures) -> None:
        # a copy: callers (screen grabbers, decoders) may reuse the buffer behind ``small``
        self._anchor_small, self._anchor_size, self._anchor_feats = small.copy(), size, feats


def tiles_of(size: tuple[int, int]) -> int:
    """Number of TILE-px tiles covering a (w, h) frame."""
    return math.ceil(size[0] / TILE) * math.ceil(size[1] / TILE)
