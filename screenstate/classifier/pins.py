"""Pins: a corrected screen and its near-duplicates get the state the user gave, and nothing else does.

A correction in the review page (or ``screenstate label --pin``) fixes *that screen*: the
class file's ``pins`` list holds the screenshot and its state (null: none of the above).
Every screen that is a near-duplicate of a pinned screenshot gets the pin's state,
whatever the decision rule says; every other screen is decided by the rule alone, so a pin
can never make another screen worse (an exemplar can: it moves every score).

Near-duplicate is decided on pixels, not on a model's similarity (two dialogs of one
theme on one desktop are 0.99 alike to the visual channel): both screens reduced to one
mean colour per ``TILE``-px tile (:func:`tile_means`, stored with the visual features),
and at most ``PIN_TILES`` tiles (under a quarter of a small screen's) differ by more than
``PIN_NOISE`` levels in some channel:
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
#: screenshots of one *scene* (one session: the same desktop, windows and content, another
#: dialog or a typed field) differ in at most this share of their tiles; the few-shot rule
#: learns only from screenshots of different scenes (label_once: two states of one session
#: differ in 1-4 % of their tiles, a page or session of its own in over 60 %)
SCENE_SHARE = 0.05
#: a screen that keeps more than half of its tiles from some exemplar (the same desktop,
#: windows and screen size: a replay of the recorded session, its plain desktop frames
#: included, which differ from the exemplars in 6-42 % of their tiles; every other session
#: of the held-out sets has another screen size) is decided by the rule learned on that session
#: (``classifier/replay.py``; label_once)
REPLAY_SHARE = 0.5


def tile_means(rgb: np.ndarray) -> np.ndarray:
    """Mean colour of every ``TILE``-px tile of an RGB uint8 [h, w, 3] screen, uint8
    [ceil(h / TILE), ceil(w / TILE), 3] (partial edge tiles average what they hold)."""
    import cv2

    h, w = rgb.shape[:2]
    rows, cols = math.ceil(h / TILE), math.ceil(w / TILE)
    pad = np.pad(rgb, ((0, rows * TILE - h), (0, cols * TILE - w), (0, 0)), mode="edge")
    return np.asarray(cv2.resize(pad, (cols, rows), interpolation=cv2.INTER_AREA), dtype=np.uint8)


def near_limit(n_tiles: int | np.ndarray, share: float = 0.0) -> np.ndarray:
    """How many changed tiles a near-duplicate of a screen of ``n_tiles`` tiles may have:
    ``PIN_TILES`` (or ``share`` of the screen, when more), and never a quarter of the
    screen or more (a small screen whose every tile changed is another screen)."""
    n = np.asarray(n_tiles, dtype=np.float64)
    return np.minimum(np.maximum(PIN_TILES, share * n), np.ceil(n / 4) - 1)


def _tile_counts(screens: Sequence[np.ndarray | None]) -> np.ndarray:
    """How many tiles each screen's grid has (0 without one), int64 [screens]."""
    return np.array([0 if s is None else s.shape[0] * s.shape[1] for s in screens], dtype=np.int64)


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

    def nearest(self, screens: Sequence[np.ndarray | None]) -> tuple[np.ndarray, np.ndarray]:
        """Per screen, the pin with the fewest changed tiles (the later pin on a tie: the
        newer correction) and how many changed, int64 [screens] each; (-1, -1) for a screen
        without a tile grid (None) or of a size no pin has. Pins of the screen's size are
        compared in one array operation."""
        best_k = np.full(len(screens), -1, dtype=np.int64)
        best_n = np.full(len(screens), -1, dtype=np.int64)
        for i, s in enumerate(screens):
            if s is None or s.shape not in self._stacks:
                continue
            stack, ks = self._stacks[s.shape]
            changed = _changed(stack, s[None])
            best = len(ks) - 1 - int(np.argmin(changed[::-1]))
            best_k[i], best_n[i] = ks[best], changed[best]
        return best_k, best_n

    def match(self, screens: Sequence[np.ndarray | None]) -> np.ndarray:
        """Per screen, the pin it is a near-duplicate of (:meth:`nearest`, at most
        :func:`near_limit` changed tiles), or -1; int64 [screens]."""
        k, n = self.nearest(screens)
        return np.where((n >= 0) & (n <= near_limit(_tile_counts(screens))), k, -1)

    def same_scene(self, screens: Sequence[np.ndarray | None]) -> np.ndarray:
        """Per screen, whether it shows the session of some pinned screenshot: less than
        ``REPLAY_SHARE`` of its tiles changed (a replay of the recorded session), bool [screens]."""
        _, n = self.nearest(screens)
        return (n >= 0) & (n < REPLAY_SHARE * _tile_counts(screens))


def instances(
    tiles: Sequence[np.ndarray | None], share: float = 0.0, within: Sequence[int] | None = None
) -> np.ndarray:
    """Groups of screenshots: int64 [screenshots]. A screenshot joins the first group whose
    first screenshot it is a near-duplicate of (:func:`near_limit`: ``PIN_TILES`` changed
    tiles, or ``share`` of them: with ``SCENE_SHARE``, one scene), else starts its own; one
    without a tile grid (None) is a group of its own. With ``within`` (a label per
    screenshot: its class), only screenshots of one label are compared. Each screenshot is
    compared with the groups' first screenshots in one array operation (2000 distinct
    screenshots of 15 classes: about 4 s on 2 cores, once per class file).

    >>> a = np.zeros((4, 6, 3), np.uint8); b = a.copy(); b[0, 0] = 200
    >>> c = a.copy(); c[1:4, 1:5] = 200
    >>> instances([a, b, c, None]).tolist()
    [0, 0, 2, 3]
    >>> instances([a, b, c], within=[0, 1, 1]).tolist()
    [0, 1, 2]
    """
    out = np.arange(len(tiles), dtype=np.int64)
    # per (label, screen shape): the groups' first screenshots, int16 [capacity, ...], and which ones
    firsts: dict[tuple[int, tuple[int, ...]], tuple[np.ndarray, list[int]]] = {}
    for i, t in enumerate(tiles):
        if t is None:
            continue
        key = (0 if within is None else int(within[i]), t.shape)
        stack, ids = firsts.get(key, (np.empty((4, *t.shape), np.int16), []))
        if ids:
            changed = _changed(stack[: len(ids)], t)
            hit = np.flatnonzero(changed <= near_limit(t.shape[0] * t.shape[1], share))
            if hit.size:
                out[i] = out[ids[int(hit[0])]]
                continue
        if len(ids) == len(stack):  # grow by doubling
            stack = np.concatenate([stack, np.empty_like(stack)])
        stack[len(ids)] = t
        ids.append(i)
        firsts[key] = (stack, ids)
    return out
