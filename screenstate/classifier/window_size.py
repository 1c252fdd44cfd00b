"""A dialog keeps its size: "none of the above" for screens whose window cannot be the class's.

Screens of two sessions differ in size, theme, window positions and what lies behind, but a
dialog's size in pixels is its toolkit's and its content's. A class whose screenshot
exemplars all show a window in front of others (a dialog over an editor) is a window of
about that size: a screen whose foreground window is several times wider or taller than
every one of them shows something else (the editor, a terminal, the desktop), however
alike the two look after both are scaled to one grid.

``ScreenClassifier`` applies it where the class file's rule learned no none of the above
(the two-stage rule; a class file named from one recording uses it for every other
session). There the scores of other sessions' screens overlap (label_once: unnamed frames
0.68-0.82, frames of a named state 0.72-0.87) and the window sizes do not (unnamed frames
0.53-3.4 from the best class's exemplars, named ones 0.01-0.43 where the finder saw the
dialog; dev qt-featherpad sessions B, C, D).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from screenstate.classifier.columns import ExampleColumns

#: largest |log(width ratio)| + |log(height ratio)| between a screen's foreground window and
#: the nearest window exemplar of its class (label_once dev: 0.9 and 1.2 did the same,
#: 0.5-0.7 lost named frames; docs/CONSTANTS.md)
MAX_SIZE_RATIO = 1.0


def size_distance(screens: np.ndarray, windows: np.ndarray) -> np.ndarray:
    """|log(w / w')| + |log(h / h')| of every screen window [n, 2] against every exemplar
    window [m, 2] (float32 [n, m]; NaN where either is NaN: no window).

    >>> size_distance(np.array([[400, 150]], np.float32), np.array([[400, 150], [800, 150]], np.float32)).round(3)
    array([[0.   , 0.693]], dtype=float32)
    """
    with np.errstate(invalid="ignore", divide="ignore"):
        d = np.abs(np.log(screens[:, None, :]) - np.log(windows[None, :, :])).sum(-1)
    return d.astype(np.float32)


@dataclass(frozen=True, eq=False)
class WindowSizes:
    """Per column of a class file, the size (width, height) in pixels of the window its
    screenshot shows in front of others (NaN: a text example, or no window in front)."""

    columns: ExampleColumns
    sizes: np.ndarray  # float32 [columns, 2]

    def __post_init__(self) -> None:
        n = len(self.columns.example_class)
        if self.sizes.shape != (n, 2):
            raise ValueError(f"WindowSizes.sizes: expected shape ({n}, 2), got {tuple(self.sizes.shape)}")

    @functools.cached_property
    def _shots(self) -> np.ndarray:
        """bool [columns, classes]: each class's positive screenshot columns (once per class file)."""
        c = self.columns
        one_hot = c.example_class[:, None] == np.arange(c.n_classes)[None, :]
        return one_hot & (c.is_image & ~c.is_negative)[:, None]

    @functools.cached_property
    def _windowed(self) -> np.ndarray:
        has = np.isfinite(self.sizes).all(1)[:, None]
        return self._shots.any(0) & ~(self._shots & ~has).any(0)

    def windowed(self) -> np.ndarray:
        """bool [classes]: classes with positive screenshot exemplars, every one of them a
        window in front of others."""
        return self._windowed.copy()

    def unlike(self, screens: np.ndarray, max_ratio: float = MAX_SIZE_RATIO) -> np.ndarray:
        """bool [screens, classes]: the screen's foreground window (float [screens, 2],
        NaN: none found, the whole screen) is more than ``max_ratio`` from every window
        exemplar of a windowed class. A screen with no window found is unlike no class.

        >>> nan = float("nan")
        >>> cols = ExampleColumns(np.array([0, 1, 1]), np.zeros(3, bool), np.array([True, True, False]), 2)
        >>> ws = WindowSizes(cols, np.array([[400, 150], [nan, nan], [nan, nan]], np.float32))
        >>> ws.unlike(np.array([[420, 160], [1000, 700], [nan, nan]], np.float32)).tolist()
        [[False, False], [True, False], [False, False]]
        """
        screens = np.asarray(screens, np.float32)
        close = size_distance(screens, self.sizes) <= max_ratio  # NaN (no window) is never close
        near = (close.astype(np.uint8) @ self._shots.astype(np.uint8)) > 0  # per class: any close exemplar
        found = np.isfinite(screens).all(axis=1)
        return self._windowed[None, :] & found[:, None] & ~near

    def note(self, screen: tuple[float, float], k: int) -> str:
        """Why class ``k`` is unlike a screen whose window is ``screen`` (width, height):
        the window sizes, for the evidence shown to a user.

        >>> cols = ExampleColumns(np.array([0]), np.zeros(1, bool), np.ones(1, bool), 1)
        >>> WindowSizes(cols, np.array([[400, 150]], np.float32)).note((1100, 740), 0)
        'its window is 1100x740 px; the windows of this class are 400x150 px'
        """
        c = self.columns
        mine = c.is_image & ~c.is_negative & (c.example_class == k) & np.isfinite(self.sizes).all(1)
        sizes = sorted({f"{int(w)}x{int(h)}" for w, h in self.sizes[mine].tolist()})
        return (
            f"its window is {int(screen[0])}x{int(screen[1])} px; the windows of this class are {', '.join(sizes)} px"
        )
