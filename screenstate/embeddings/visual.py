"""The ``visual`` channel: how a screen *looks*, compared with image exemplars. No weights.

A screen's appearance is described twice, from the whole screen and from its foreground
window (:func:`~screenstate.screen.windows.find_foreground`), each by:

- ``shape``: a grid of unsigned gradient-orientation histograms (HOG-like) of the region
  resized to ``GRID`` cells: layout, controls, icon outlines. Unsigned orientations and
  per-cell normalisation make it blind to light vs dark themes and to contrast;
- ``colour``: a coarse grid of hue histograms of the *saturated* pixels only (icons,
  buttons, highlights): grey window backgrounds, light or dark, do not count, so a red
  error icon and a yellow warning icon tell their dialogs apart while themes do not;
- ``icon`` (foreground only): hue and fill of its dominant compact coloured object, so a
  dialog that differs from another only by its icon is told apart wherever the icon sits.

Each part is square-rooted and L2-normalised, weighted, and the screen's vector is unit
norm, so the similarity of two screens is one inner product (the FAISS index of
``embeddings/index.py`` serves large exemplar sets). Sizes are normalised by resizing
each region to a fixed grid, so window position, size and screen scale do not matter;
the foreground crop leaves out the wallpaper and the windows behind.

Relevance of exemplar e to screen v (documented calibration, in [0, 1])::

    d(e, v) = 0.5 + 0.5 * (cos(e, v) - FLOOR) / (1 - FLOOR), clamped, FLOOR = 0.6

so unrelated screens sit near 0.5 and identical ones at 1, like the other channels.
The channel has no opinion on text examples: their columns are NaN, which the fusion
rule (:func:`~screenstate.classifier.fusion.fuse`) skips. Fusion with ``text`` keeps the
equal weights of the existing rule: a sweep of the visual weight (0.5 / 1 / 2 / 3, k = 3
exemplars + text prompts) moved the two held-out sets in opposite directions (Tk/Qt
desktop dialogs 0.44 / 0.52 / 0.57 / 0.56, SB Admin / Gentelella web pages 0.94 / 0.88 /
0.84 / 0.83) and screens-dev hardly (0.86 / 0.88 / 0.86 / 0.88).
"""

from __future__ import annotations

import dataclasses
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import cv2
import numpy as np
from PIL import Image

from screenstate.classifier.pins import tile_means
from screenstate.embeddings.base import Channel, floor_relevance
from screenstate.embeddings.images import load_image
from screenstate.embeddings.registry import ChannelKind, Runtime, register_channel
from screenstate.embeddings.shapes import check_shape
from screenstate.embeddings.versioning import feature_digest
from screenstate.schema import Column
from screenstate.screen.windows import FEATURE_CODE as WINDOW_CODE
from screenstate.screen.windows import FEATURE_SETTINGS as WINDOW_SETTINGS
from screenstate.screen.windows import WORK_SIDE, foreground_in_small

if TYPE_CHECKING:
    from screenstate.embeddings.index import ExemplarIndex

#: shape grid (columns, rows) and orientation bins
GRID = (12, 8)
PYRAMID = ((1, 1), (3, 2), GRID)
ORIENTATIONS = 9
#: colour grid (columns, rows) of the whole screen and of the foreground, and hue bins
COLOUR_GRID = (4, 3)
FG_COLOUR_GRID = (2, 2)
HUES = 12
#: working size of a region before description (width, height)
WORK = (GRID[0] * 8, GRID[1] * 8)
#: weights of (whole shape, whole colour, foreground shape, foreground colour)
PART_WEIGHTS = (0.25, 0.5, 1.0, 1.0)
#: weight of the foreground's icon part against all the others together (1), and the side
#: its search runs at (heldout_dialog_accuracy; docs/CONSTANTS.md)
ICON_WEIGHT = 0.5
ICON_SIDE = 160
#: cosine of unrelated screens, relevance 0.5 (fewshot_accuracy; docs/CONSTANTS.md)
FLOOR = 0.6
#: exemplar count above which relevance uses FAISS top-k retrieval instead of a full product
INDEX_ABOVE = 2048
#: exemplars compared per screen when the index is used; the others count as unrelated
INDEX_TOP = 64


def _unit(v: np.ndarray) -> np.ndarray:
    n = float(np.linalg.norm(v))
    return v / n if n > 1e-9 else v


def shape_descriptor(region: np.ndarray) -> np.ndarray:
    """Unsigned gradient-orientation histograms pooled on a pyramid of grids (``PYRAMID``:
    the whole region, a coarse grid, the ``GRID`` of cells), float32 [sum cells * ORIENTATIONS].
    Coarse levels survive reflowed layouts (a page at another viewport), the fine level
    places controls and icons."""
    gray = cv2.cvtColor(region, cv2.COLOR_RGB2GRAY) if region.ndim == 3 else region
    g = cv2.resize(gray, WORK, interpolation=cv2.INTER_AREA).astype(np.float32)
    gx = cv2.Sobel(g, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(g, cv2.CV_32F, 0, 1, ksize=3)
    mag = np.sqrt(gx * gx + gy * gy)
    ang = np.mod(np.arctan2(gy, gx), np.pi)
    b = np.minimum((ang / np.pi * ORIENTATIONS).astype(np.int32), ORIENTATIONS - 1)
    levels = []
    for cols, rows in PYRAMID:
        cell = (np.arange(WORK[1])[:, None] * rows // WORK[1]) * cols + (np.arange(WORK[0])[None, :] * cols // WORK[0])
        hist = np.bincount((cell * ORIENTATIONS + b).ravel(), weights=mag.ravel(), minlength=cols * rows * ORIENTATIONS)
        hist = hist.reshape(cols * rows, ORIENTATIONS)
        hist = hist / (hist.sum(1, keepdims=True) + 1e-3 * (hist.sum() / len(hist) + 1.0))  # per-cell contrast norm
        levels.append(_unit(np.sqrt(hist.ravel())))
    return _unit(np.concatenate(levels)).astype(np.float32)


def colour_descriptor(region: np.ndarray, grid: tuple[int, int] = COLOUR_GRID) -> np.ndarray:
    """Hue histograms of saturated pixels on a ``grid`` of cells, float32 [cells * HUES + 1].

    Rows and columns that are mostly saturated are bars (title bars, selected rows, a
    coloured navigation bar) whose colour is the theme's, so they are left out and
    compact coloured things (icons, buttons) remain. The last bin is the grey share, so
    two colourless screens still match."""
    small = cv2.resize(region, (WORK[0], WORK[1] * 2 // 3), interpolation=cv2.INTER_AREA)
    hsv = cv2.cvtColor(small, cv2.COLOR_RGB2HSV_FULL).astype(np.float32) / 255.0
    hue, sat, val = hsv[..., 0], hsv[..., 1], hsv[..., 2]
    mask = (sat > 0.3) & (val > 0.25)
    mask &= ~(mask.mean(1) > 0.5)[:, None] & ~(mask.mean(0) > 0.5)[None, :]
    w = np.where(mask, sat * val, 0.0)
    h, wd = w.shape
    cell = (np.arange(h)[:, None] * grid[1] // h) * grid[0] + (np.arange(wd)[None, :] * grid[0] // wd)
    hb = np.minimum((hue * HUES).astype(np.int32), HUES - 1)
    n = grid[0] * grid[1] * HUES
    hist = np.bincount((cell * HUES + hb).ravel(), weights=w.ravel(), minlength=n) / w.size
    grey = 0.05 * float((w == 0).mean())
    return _unit(np.sqrt(np.append(hist, grey))).astype(np.float32)


def icon_descriptor(region: np.ndarray) -> np.ndarray:
    """The foreground's dominant compact coloured object (a dialog's icon, a status badge):
    hue histogram of its pixels and how much of its box it fills (a disc, a triangle or
    diamond, a square), float32 [HUES + 4]; the last bin says "no such object".

    Compact: not a bar (rows or columns mostly saturated are left out, as in
    :func:`colour_descriptor`), box aspect between 1:2 and 2:1, at least 30% filled,
    narrower than 40% of the region and at least 0.2% of its area."""
    h, w = region.shape[:2]
    s = ICON_SIDE / max(h, w)
    small = cv2.resize(region, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)
    hsv = cv2.cvtColor(small, cv2.COLOR_RGB2HSV_FULL)
    mask = ((hsv[..., 1] > 90) & (hsv[..., 2] > 75)).astype(np.uint8)
    mask[mask.mean(1) > 0.5, :] = 0
    mask[:, mask.mean(0) > 0.5] = 0
    n, lab, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    best, best_area = 0, 0.002 * mask.size
    for i in range(1, n):
        x, y, bw, bh, area = (int(v) for v in stats[i])
        if 0.5 <= bw / bh <= 2.0 and area >= 0.3 * bw * bh and bw <= 0.4 * mask.shape[1] and area > best_area:
            best, best_area = i, area
    vec = np.zeros(HUES + 4, np.float32)
    if best == 0:
        vec[-1] = 1.0
        return vec
    hue = hsv[..., 0][lab == best].astype(np.int32)
    vec[:HUES] = np.bincount(np.minimum(hue * HUES // 256, HUES - 1), minlength=HUES) / len(hue)
    fill = float(stats[best][4]) / float(stats[best][2] * stats[best][3])
    vec[HUES + min(2, int((fill - 0.3) / 0.25))] = 0.5
    return _unit(vec).astype(np.float32)


@dataclass(frozen=True)
class VisualFeatures:
    """A screen's unit appearance vector, where its foreground window was found, and its
    mean colour per tile (what pins compare: ``classifier/pins.py``)."""

    vector: np.ndarray  # float32 [D], unit norm
    box: tuple[int, int, int, int]  # foreground (x0, y0, x1, y1) in the screen's pixels
    size: tuple[int, int]  # screen (width, height)
    tiles: np.ndarray  # uint8 [rows, cols, 3], pins.tile_means

    def __post_init__(self) -> None:
        check_shape("VisualFeatures.vector", self.vector, (None,))
        check_shape("VisualFeatures.tiles", self.tiles, (None, None, 3))
        if len(self.box) != 4 or len(self.size) != 2:
            raise ValueError(
                f"VisualFeatures: expected box (x0, y0, x1, y1) and size (w, h), got {self.box}, {self.size}"
            )


def describe(img: Image.Image) -> VisualFeatures:
    """Appearance vector of one RGB screen (whole screen + foreground window). The whole
    screen is described from one downscaled copy (longest side ``WORK_SIDE``), which also
    serves the foreground finder; the foreground is cropped from full resolution."""
    arr = np.asarray(img if img.mode == "RGB" else img.convert("RGB"))
    h, w = arr.shape[:2]
    s = min(1.0, WORK_SIDE / max(h, w))
    small = cv2.resize(arr, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)
    gray = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY)
    box = foreground_in_small(gray, (w, h))
    fg = arr[box.y0 : box.y1, box.x0 : box.x1]
    parts = (
        shape_descriptor(gray),
        colour_descriptor(small),
        shape_descriptor(fg),
        colour_descriptor(fg, FG_COLOUR_GRID),
    )
    vec = _unit(np.concatenate([np.sqrt(wt) * p for wt, p in zip(PART_WEIGHTS, parts)]))
    vec = np.concatenate([vec, np.sqrt(ICON_WEIGHT) * icon_descriptor(fg)])
    return VisualFeatures(_unit(vec).astype(np.float32), (box.x0, box.y0, box.x1, box.y1), (w, h), tile_means(arr))


def _identity(img: Image.Image) -> Image.Image:
    return img


@dataclass(frozen=True)
class VisualExamples:
    """Exemplar vectors of the image columns, and which columns are images."""

    is_image: np.ndarray  # bool [n_columns]
    vectors: np.ndarray  # float32 [n_images, D]
    index: ExemplarIndex | None = None  # when there are more than INDEX_ABOVE exemplars

    def __post_init__(self) -> None:
        check_shape("VisualExamples.is_image", self.is_image, (None,))
        check_shape("VisualExamples.vectors", self.vectors, (int(self.is_image.sum()), None))


class VisualChannel(Channel[VisualFeatures, VisualExamples]):
    """Appearance evidence for image exemplars (see the module docstring)."""

    name = "visual"

    @property
    def model_id(self) -> str:
        return f"visual:v{FEATURE_VERSION}"

    def preparer(self) -> Callable[[Image.Image], Image.Image]:
        return _identity

    def encode(self, prepared: list[Image.Image]) -> list[VisualFeatures]:
        return [describe(im) for im in prepared]

    def encode_examples(
        self, columns: list[Column], augment: bool = True, image_features: Sequence[VisualFeatures] | None = None
    ) -> VisualExamples:
        image_cols = [c for c in columns if c.image is not None]
        if image_features is None:
            image_features = [describe(load_image(c.image)) for c in image_cols if c.image is not None]
        if len(image_features) != len(image_cols):
            raise ValueError(f"visual: expected {len(image_cols)} exemplar features, got {len(image_features)}")
        dim = len(describe(Image.new("RGB", (8, 8))).vector) if not image_features else len(image_features[0].vector)
        vectors = np.stack([f.vector for f in image_features]) if image_features else np.zeros((0, dim), np.float32)
        index = None
        if len(vectors) > INDEX_ABOVE:
            from screenstate.embeddings.index import ExemplarIndex

            index = ExemplarIndex(vectors, list(range(len(vectors))), self.model_id, [])
        is_image = np.array([c.image is not None for c in columns], dtype=np.bool_)
        return VisualExamples(is_image, vectors, index)

    def similarities(self, features: Sequence[VisualFeatures], examples: VisualExamples) -> np.ndarray:
        """Cosine of each screen to each exemplar, float32 [screens, exemplars]; with the
        index, exemplars outside a screen's top ``INDEX_TOP`` get ``FLOOR`` (unrelated)."""
        q = np.stack([f.vector for f in features]).astype(np.float32)
        if examples.index is None:
            return q @ examples.vectors.T
        sims = np.full((len(q), len(examples.vectors)), FLOOR, np.float32)
        scores, cols = examples.index.top(q, INDEX_TOP)
        for i in range(len(q)):
            ok = cols[i] >= 0
            sims[i, cols[i][ok]] = scores[i][ok]
        return sims

    def relevance(self, features: Sequence[VisualFeatures], examples: VisualExamples) -> np.ndarray:
        out = np.full((len(features), examples.is_image.shape[0]), np.nan, dtype=np.float32)
        if len(features) and len(examples.vectors):
            sims = self.similarities(features, examples)
            out[:, examples.is_image] = np.clip(floor_relevance(sims, FLOOR), 0.0, 1.0)
        return out

    def exemplar_vectors(self, examples: VisualExamples) -> np.ndarray:
        return examples.vectors

    def dumps(self, feature: VisualFeatures) -> bytes:
        buf = io.BytesIO()
        np.savez(
            buf, vector=feature.vector, box=np.asarray(feature.box), size=np.asarray(feature.size), tiles=feature.tiles
        )
        return buf.getvalue()

    def loads(self, data: bytes) -> VisualFeatures:
        z = np.load(io.BytesIO(data), allow_pickle=False)
        b, s = z["box"], z["size"]
        box = (int(b[0]), int(b[1]), int(b[2]), int(b[3]))
        return VisualFeatures(z["vector"].astype(np.float32), box, (int(s[0]), int(s[1])), z["tiles"].astype(np.uint8))


#: part of ``model_id``: a digest of what stored VisualFeatures depend on (the descriptor's
#: settings, the stored layout, and the code that computes, stores and loads them)
FEATURE_VERSION = feature_digest(
    (GRID, PYRAMID, ORIENTATIONS, COLOUR_GRID, FG_COLOUR_GRID, HUES, WORK, PART_WEIGHTS, ICON_WEIGHT, ICON_SIDE),
    WINDOW_SETTINGS,
    [(f.name, str(f.type)) for f in dataclasses.fields(VisualFeatures)],
    code=(
        _unit,
        shape_descriptor,
        colour_descriptor,
        icon_descriptor,
        describe,
        tile_means,
        *WINDOW_CODE,
        VisualChannel.encode,
        VisualChannel.dumps,
        VisualChannel.loads,
    ),
)


@dataclass(frozen=True)
class VisualOptions:
    """Settings of the visual channel (none yet: its constants are fixed, see above)."""


def _build(options: VisualOptions, runtime: Runtime) -> VisualChannel:
    return VisualChannel()


#: the ``visual`` channel in the registry (``features.get(VISUAL)`` is a ``VisualFeatures | None``)
VISUAL = register_channel(
    ChannelKind("visual", VisualChannel, VisualFeatures, VisualExamples, (Image.Image,), VisualOptions, _build)
)
