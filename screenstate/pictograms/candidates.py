"""Where the pictograms of a screen are: compact, icon-sized blobs that OCR did not read.

A dialog says its state with an icon (a warning triangle, a red stop sign, a question
mark); OCR reads the text beside it and drops the glyph. Candidates come from pixels alone:

1. the foreground window when one covers another (:func:`find_foreground`), else the
   whole screen;
2. Canny edges, closed with a 3x3 kernel so an icon's strokes join into one blob;
3. connected components whose box is 12-72 px on each side (desktop icons keep their pixel
   size whatever the screen's resolution), roughly square (aspect 0.5-2), with edges on at
   least 5 % of the box, and whose centre lies in no OCR text line (lines the text channel
   keeps, :func:`~screenstate.embeddings.textnorm.is_text`);
4. the largest :data:`MAX_CANDIDATES`, each cut out as a square with a 2 px margin and
   scaled to 32x32 RGB for one batch of the encoder.

About 10-20 ms per 1080p screen on two cores (``benchmarks/run.py text_channel_latency``).

    >>> from PIL import ImageDraw
    >>> img = Image.new("RGB", (400, 300), "white")
    >>> ImageDraw.Draw(img).ellipse((40, 40, 80, 80), fill="red")
    >>> [c.box for c in find_candidates(img, [])]
    [(37, 37, 83, 83)]
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image

from screenstate.screen.windows import Box

#: most candidates embedded per screen (largest first)
MAX_CANDIDATES = 48
#: icon side range in pixels
MIN_SIDE, MAX_SIDE = 12, 72
CROP = 32


@dataclass(frozen=True)
class Candidate:
    """A possible pictogram: its box in screen pixels and its 32x32 RGB crop (uint8)."""

    box: tuple[int, int, int, int]
    crop: np.ndarray  # [32, 32, 3] uint8

    def __post_init__(self) -> None:
        if self.crop.shape != (CROP, CROP, 3):
            raise ValueError(f"Candidate.crop: expected shape {(CROP, CROP, 3)}, got {self.crop.shape}")


def _square_crop(rgb: np.ndarray, x0: int, y0: int, x1: int, y1: int) -> np.ndarray:
    side = max(x1 - x0, y1 - y0)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    h, w = rgb.shape[:2]
    a0, b0 = int(round(cx - side / 2)), int(round(cy - side / 2))
    pad = np.pad(rgb, ((side, side), (side, side), (0, 0)), mode="edge")
    patch = pad[b0 + side : b0 + 2 * side, a0 + side : a0 + 2 * side]
    interp = cv2.INTER_AREA if side > CROP else cv2.INTER_LINEAR
    return cv2.resize(patch, (CROP, CROP), interpolation=interp)


def find_candidates(
    image: Image.Image, text_boxes: list[tuple[float, float, float, float]], window: Box | None = None
) -> list[Candidate]:
    """Pictogram candidates of ``image`` (see the module docstring), largest first.

    ``text_boxes``: OCR line boxes (pixels of ``image``) whose insides are text, not icons.
    ``window``: the foreground window, searched instead of the whole screen.
    """
    rgb = np.asarray(image.convert("RGB"))
    ox, oy = (window.x0, window.y0) if window is not None else (0, 0)
    region = rgb[oy : window.y1, ox : window.x1] if window is not None else rgb
    if region.size == 0:
        return []
    gray = cv2.cvtColor(region, cv2.COLOR_RGB2GRAY)
    edges = cv2.Canny(gray, 40, 120)
    closed = cv2.morphologyEx(edges, cv2.MORPH_CLOSE, np.ones((3, 3), np.uint8))
    n, _, stats, _ = cv2.connectedComponentsWithStats(closed, connectivity=8)
    lo, hi = MIN_SIDE, MAX_SIDE
    tb = np.asarray(text_boxes, np.float32).reshape(-1, 4)
    found: list[tuple[int, tuple[int, int, int, int]]] = []
    for x, y, w, h, area in stats[1:].tolist():
        if not (lo <= w <= hi and lo <= h <= hi and 0.5 <= w / h <= 2.0 and area >= 0.05 * w * h):
            continue
        x0, y0 = x + ox, y + oy
        cx, cy = x0 + w / 2, y0 + h / 2
        if len(tb) and bool(((tb[:, 0] <= cx) & (cx <= tb[:, 2]) & (tb[:, 1] <= cy) & (cy <= tb[:, 3])).any()):
            continue
        found.append((w * h, (x0 - 2, y0 - 2, x0 + w + 2, y0 + h + 2)))
    found.sort(key=lambda f: -f[0])
    return [Candidate(box, _square_crop(rgb, *box)) for _, box in found[:MAX_CANDIDATES]]
