"""Find the foreground window of a screenshot from pixels alone.

The state of an application is its topmost window: a dialog in front of a terminal is the
dialog's state. Windows are axis-aligned rectangles whose border is drawn in full; a
window behind another has part of its border hidden. So the finder:

1. downscales the screen (longest side ``WORK_SIDE``) and marks strong edges;
2. takes the bounding boxes of edge contours that are window-sized (at least
   ``MIN_SIDE`` of the screen each way, less than ``MAX_AREA`` of it);
3. keeps boxes whose border is *intact* (edge support on all four sides >= ``INTACT``)
   and that are not inside another intact box (a window's own panels and buttons),
   unless they *float* in it: a box that keeps ``FLOAT_MARGIN`` of the outer box's width
   and height free on every side is a window lying on it (a dialog over a large editor),
   where a panel of a window reaches at least one of its sides; so is a small box that
   *rests against* the outer box's edges (``rests_on``: a dialog the window manager put
   flush with the editor's edges), where a panel spans its window one way or is large;
4. picks the intact box nearest the screen centre, where window managers put dialogs,
   with a bonus for boxes that cut through the borders of others (they lie on top); a
   window floating in another lies on top of it and of what that one covers.

A screen with no such box (a full-screen browser page, an application maximised) is its
own foreground: the whole image. Unlike ``embeddings/foreground.py`` (#17, branch
``heldout``), which answers only when one window visibly covers another and returns None
otherwise, this finder always names a region, because the visual channel needs one to
describe (a lone dialog on a desktop is still the thing to compare); unifying the two is
left to a measurement on the held-out sets. ``find_foreground`` returns a :class:`Box` in the
input's pixels.

    >>> box = find_foreground(np.zeros((600, 800, 3), np.uint8))
    >>> (box.x0, box.y0, box.x1, box.y1, box.whole)
    (0, 0, 800, 600, True)
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

#: longest side of the working copy (window borders survive this downscale)
WORK_SIDE = 640
#: a window is at least this fraction of the screen wide and high
MIN_SIDE = 0.08
#: and covers less than this fraction of it (larger boxes are the page itself)
MAX_AREA = 0.85
#: fraction of border pixels that must lie on an edge for the border to count as drawn
INTACT = 0.9
#: a box inside a window that keeps this share of the window's width and height free on
#: every side is a window on top of it, not a panel of it (windows_nested: on dev, dialogs
#: inside a large editor keep 26-29 %, the inner frames of small windows at most 3 %)
FLOAT_MARGIN = 0.1
#: a box inside a window that covers at most CORNER_AREA of it and keeps CORNER_FREE of its
#: width free on one side and of its height on one side rests against its edges: a window
#: on it too (dev qt-featherpad session D: jwm puts dialogs against the editor's edges, 2 %
#: from one side; the editor's toolbars, search bar and status bar span it, its text area
#: covers most of it)
CORNER_AREA = 0.35
CORNER_FREE = 0.25


@dataclass(frozen=True)
class Box:
    """A pixel box (x0, y0, x1, y1) in the input image; ``whole`` when nothing smaller was found."""

    x0: int
    y0: int
    x1: int
    y1: int
    whole: bool = False

    def __post_init__(self) -> None:
        if self.x1 <= self.x0 or self.y1 <= self.y0:
            raise ValueError(f"Box: empty box {self.x0, self.y0, self.x1, self.y1}")

    @property
    def area(self) -> int:
        return (self.x1 - self.x0) * (self.y1 - self.y0)

    def contains(self, other: Box, slack: int = 0) -> bool:
        """``other`` lies inside this box, allowing ``slack`` pixels on every side."""
        return (
            self.x0 - slack <= other.x0
            and self.y0 - slack <= other.y0
            and other.x1 <= self.x1 + slack
            and other.y1 <= self.y1 + slack
        )

    def contains_point(self, x: float, y: float) -> bool:
        return self.x0 <= x < self.x1 and self.y0 <= y < self.y1


def _edges(gray: np.ndarray) -> np.ndarray:
    """Edge mask: a morphological gradient above a contrast threshold (catches the faint
    one-pixel borders of light themes, and both polarities, so dark themes too)."""
    grad = cv2.morphologyEx(gray, cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8))
    return (grad >= 12).astype(np.uint8)


def _support(edges: np.ndarray, x0: int, y0: int, x1: int, y1: int) -> float:
    """Smallest fraction of edge pixels along each of the box's four sides (one pixel of slack)."""
    h, w = edges.shape

    def run(a: np.ndarray) -> float:
        return float(a.max(axis=0).mean()) if a.size else 0.0

    ys = slice(max(0, y0 - 1), min(h, y0 + 2))
    ye = slice(max(0, y1 - 2), min(h, y1 + 1))
    xs = slice(max(0, x0 - 1), min(w, x0 + 2))
    xe = slice(max(0, x1 - 2), min(w, x1 + 1))
    top, bottom = run(edges[ys, x0:x1]), run(edges[ye, x0:x1])
    left, right = run(edges[y0:y1, xs].T), run(edges[y0:y1, xe].T)
    return min(top, bottom, left, right)


def floats_in(b: tuple[int, int, int, int], o: tuple[int, int, int, int]) -> bool:
    """Box ``b`` (x0, y0, x1, y1) lies in ``o`` with ``FLOAT_MARGIN`` of ``o``'s width and
    height free on every side: a window lying on ``o``, not a panel of it (both finders)."""
    mx, my = FLOAT_MARGIN * (o[2] - o[0]), FLOAT_MARGIN * (o[3] - o[1])
    return b[0] - o[0] >= mx and o[2] - b[2] >= mx and b[1] - o[1] >= my and o[3] - b[3] >= my


def rests_on(b: tuple[int, int, int, int], o: tuple[int, int, int, int]) -> bool:
    """Box ``b`` (x0, y0, x1, y1) inside ``o`` is small (``CORNER_AREA``) and far from one
    of ``o``'s sides each way (``CORNER_FREE``): a window resting against ``o``'s edges.

    >>> rests_on((60, 50, 100, 80), (0, 0, 100, 80)), rests_on((0, 60, 100, 80), (0, 0, 100, 80))
    (True, False)
    """
    ow, oh = o[2] - o[0], o[3] - o[1]
    if (b[2] - b[0]) * (b[3] - b[1]) > CORNER_AREA * ow * oh:
        return False
    return max(b[0] - o[0], o[2] - b[2]) >= CORNER_FREE * ow and max(b[1] - o[1], o[3] - b[3]) >= CORNER_FREE * oh


def window_boxes(gray: np.ndarray) -> list[tuple[int, int, int, int]]:
    """Intact, window-sized boxes of a (downscaled) grey screen: the outermost ones, and
    the outermost of those floating in one of them (windows lying on a larger window)."""
    h, w = gray.shape
    edges = _edges(gray)
    contours, _ = cv2.findContours(edges, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
    boxes: set[tuple[int, int, int, int]] = set()
    for c in contours:
        x, y, bw, bh = cv2.boundingRect(c)
        if bw < MIN_SIDE * w or bh < MIN_SIDE * h or bw * bh > MAX_AREA * w * h:
            continue
        boxes.add((x, y, x + bw, y + bh))
    intact = [b for b in boxes if _support(edges, *b) >= INTACT]

    outer = [b for b in intact if not any(_inside(b, o) for o in intact)]
    floating = [
        b
        for b in intact
        if b not in outer and any(_inside(b, o) and (floats_in(b, o) or rests_on(b, o)) for o in outer)
    ]
    return sorted(outer + [b for b in floating if not any(_inside(b, o) for o in floating)])


def _inside(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> bool:
    """``a`` lies inside ``b`` (2 px of slack), and is not ``b``."""
    return a != b and a[0] >= b[0] - 2 and a[1] >= b[1] - 2 and a[2] <= b[2] + 2 and a[3] <= b[3] + 2


def _covers(top: tuple[int, int, int, int], other: tuple[int, int, int, int]) -> bool:
    """``top`` overlaps ``other`` without containing it: one of them lies on the other."""
    ix = min(top[2], other[2]) - max(top[0], other[0])
    iy = min(top[3], other[3]) - max(top[1], other[1])
    return ix > 0 and iy > 0


def find_foreground(image: np.ndarray) -> Box:
    """The foreground window of an RGB (or grey) uint8 screenshot [H, W(, 3)]."""
    if image.ndim not in (2, 3) or image.shape[0] == 0 or image.shape[1] == 0:
        raise ValueError(f"find_foreground: expected an image [H, W] or [H, W, 3], got shape {image.shape}")
    h, w = image.shape[:2]
    s = min(1.0, WORK_SIDE / max(h, w))
    small = cv2.resize(image, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)
    gray = small if small.ndim == 2 else cv2.cvtColor(small, cv2.COLOR_RGB2GRAY)
    return foreground_in_small(gray, (w, h))


def foreground_in_small(gray: np.ndarray, size: tuple[int, int]) -> Box:
    """:func:`find_foreground` on a grey copy already downscaled (longest side about
    ``WORK_SIDE``) of a screen of ``size`` (width, height); the box is in full-size pixels."""
    w, h = size
    sh, sw = gray.shape
    sx, sy = sw / w, sh / h
    boxes = window_boxes(gray)
    if not boxes:
        return Box(0, 0, w, h, whole=True)
    cx, cy = sw / 2, sh / 2
    diag = float(np.hypot(sw, sh))

    def covers(b: tuple[int, int, int, int]) -> int:  # what it lies on, not the windows lying in it
        n = sum(_covers(b, o) for o in boxes if o != b and not _inside(o, b))
        return max([n, *(covers(o) + 1 for o in boxes if _inside(b, o))])

    def score(b: tuple[int, int, int, int]) -> float:
        bx, by = (b[0] + b[2]) / 2, (b[1] + b[3]) / 2
        centred = 1.0 - float(np.hypot(bx - cx, by - cy)) / diag
        return centred + 0.25 * min(covers(b), 2)

    best = max(boxes, key=score)
    return Box(
        max(0, int(best[0] / sx)),
        max(0, int(best[1] / sy)),
        min(w, int(np.ceil(best[2] / sx))),
        min(h, int(np.ceil(best[3] / sy))),
    )


#: what the foreground box depends on, for the visual channel's derived feature version
FEATURE_SETTINGS = (WORK_SIDE, MIN_SIDE, MAX_AREA, INTACT, FLOAT_MARGIN, CORNER_AREA, CORNER_FREE)
FEATURE_CODE = (
    _edges,
    _support,
    floats_in,
    rests_on,
    window_boxes,
    _inside,
    _covers,
    find_foreground,
    foreground_in_small,
)
