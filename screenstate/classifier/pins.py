"""Pins: a corrected screen and its near-duplicates get the state the user gave, and nothing else does.

A correction in the review page (or ``screenstate label --pin``) fixes *that screen*: the
class file's ``pins`` list holds the screenshot and its state (null: none of the above).
Every screen that is a near-duplicate of a pinned screenshot gets the pin's state,
whatever the decision rule says; every other screen is decided by the rule alone, so a pin
can never make another screen worse (an exemplar can: it moves every score).

Near-duplicate is decided on pixels, not on a model's similarity (two dialogs of one
theme on one desktop are 0.99 alike to the visual channel): both screens reduced to one
mean colour per ``TILE``-px tile (:func:`tile_means`, stored with the visual features),
and at most ``PIN_TILES`` tiles differ by more than ``PIN_NOISE`` levels in some channel:
a moved cursor, a blinking caret, a typed character or an advancing progress bar, not
another dialog. Chosen on the bundled example, screens-dev's recording and qt-featherpad's
sessions (same-state neighbours: median 0-2 changed tiles; two different states: at least
19); ``python benchmarks/run.py pins_reach`` pins every frame of every labelled recording
in turn: no frame of another label among 582 near-duplicates (docs/CONSTANTS.md). The rule
is model-agnostic and runs on uint8 tile grids only.

>>> a = np.zeros((4, 6, 3), np.uint8)
>>> b = a.copy(); b[0, 0] = 200          # one tile changed: a cursor
>>> c = a.copy(); c[1:4, 1:5] = 200      # 12 tiles: a dialog
>>> Pins((a,), (3,)).match([b, c, None]).tolist()
[0, -1, -1]
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

#: tile side in pixels (the change gate in ``embeddings/gating.py`` uses the same tiles)
TILE = 32
#: a tile whose mean colour moved by more than this (0-255, largest channel) changed
PIN_NOISE = 4
#: a screen is a near-duplicate of a pin when at most this many tiles changed (the video
#: change gate's ``reuse_tiles``: where the cursor was and where it is now)
PIN_TILES = 8


def tile_means(rgb: np.ndarray) -> np.ndarray:
    """Mean colour of every ``TILE``-px tile of an RGB uint8 [h, w, 3] screen, uint8
    [ceil(h / TILE), ceil(w / TILE), 3] (partial edge tiles average what they hold)."""
    import cv2

    h, w = rgb.shape[:2]
    rows, cols = math.ceil(h / TILE), math.ceil(w / TILE)
    pad = np.pad(rgb, ((0, rows * TILE - h), (0, cols * TILE - w), (0, 0)), mode="edge")
    return np.asarray(cv2.resize(pad, (cols, rows), interpolation=cv2.INTER_AREA), dtype=np.uint8)


def _changed(stack: np.ndarray, screen: np.ndarray) -> np.ndarray:
    """Changed tiles between each grid of an int16 [..., rows, cols, 3] stack and ``screen``."""
    return (np.abs(stack - screen.astype(np.int16)).max(-1) > PIN_NOISE).sum((-2, -1))


def changed_tiles(a: np.ndarray, b: np.ndarray) -> int:
    """How many tiles of two tile grids differ by more than ``PIN_NOISE``; a grid of another
    shape (another screen size) differs everywhere."""
    if a.shape != b.shape:
        return max(a.size, b.size)
    return int(_changed(a.astype(np.int16), b))


@dataclass(frozen=True, eq=False)
class Pins:
    """Pinned screenshots (tile grids) and their states (a class index, -1: none of the above)."""

    tiles: tuple[np.ndarray, ...]
    states: tuple[int, ...]

    def __post_init__(self) -> None:
        if len(self.tiles) != len(self.states):
            raise ValueError(f"Pins: {len(self.tiles)} tile grids for {len(self.states)} states")

    @functools.cached_property
    def _stacks(self) -> dict[tuple[int, ...], tuple[np.ndarray, list[int]]]:
        """Screen shape -> (int16 stack of the pins of that shape, their indices), built once."""
        by_shape: dict[tuple[int, ...], list[int]] = {}
        for k, p in enumerate(self.tiles):
            by_shape.setdefault(p.shape, []).append(k)
        return {shape: (np.stack([self.tiles[k] for k in ks]).astype(np.int16), ks) for shape, ks in by_shape.items()}

    def match(self, screens: Sequence[np.ndarray | None]) -> np.ndarray:
        """Per screen, the pin it is a near-duplicate of (the one with the fewest changed
        tiles; the later pin on a tie: the newer correction), or -1; int64 [screens]. A
        screen without a tile grid (None) matches nothing. Pins of the screen's size are
        compared in one array operation."""
        out = np.full(len(screens), -1, dtype=np.int64)
        for i, s in enumerate(screens):
            if s is None or s.shape not in self._stacks:
                continue
            stack, ks = self._stacks[s.shape]
            changed = _changed(stack, s[None])
            best = len(ks) - 1 - int(np.argmin(changed[::-1]))  # the later pin on a tie
            if changed[best] <= PIN_TILES:
                out[i] = ks[best]
        return out
