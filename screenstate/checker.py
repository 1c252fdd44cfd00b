"""StateChecker: millisecond-scale "which state is this screen in?" for replay loops.

    checker = StateChecker("configs/demo_states.json", min_score=0.62)
    checker.which(screenshot).state                # a state name, or None: none of the above
    checker.is_state(screenshot, "login_page")     # bool
    res, frame = checker.wait_for("dashboard", grab=take_screenshot, timeout=10)

Speed comes from doing as little as possible per frame:

- example embeddings are computed once, at construction;
- each screenshot is downscaled once (``max_side``) and compared tile by tile with the
  previous one; an identical frame reuses the previous result (a few ms);
- with the ``text`` channel on, a frame that changed only in part is OCR'd only inside
  the changed tiles; lines elsewhere come from the previous frame;
- the precision measured fastest on this CPU (the encoder default, ``precision="auto"``).
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from PIL import Image, ImageChops

from screenstate.classify import ScreenClassifier
from screenstate.embeddings.encoder import Encoder
from screenstate.embeddings.factory import EncoderOptions
from screenstate.embeddings.images import ImageInput, load_image, resize_max_side
from screenstate.embeddings.ocr import TextLine, reading_order
from screenstate.errors import StateTimeoutError, UnknownNameError
from screenstate.schema import ClassSpec

TILE = 32
#: a partial re-read whose two best classes are closer than this (raw score) is confirmed
#: by a full read: re-reading a crop can change a character ("messages.." vs "..."), which
#: is enough to swap a near-tie, and which() must agree with batch classification
CONFIRM_MARGIN = 0.01


@dataclass(frozen=True)
class StateResult:
    """The state of one screenshot.

    ``state`` is the best class when its raw score clears its ``min_score`` (per class in
    the JSON, else the checker's default), otherwise ``None``. ``how`` says what work was
    done: ``full``, ``partial`` (text re-read only in changed tiles) or ``reused``.
    """

    state: str | None
    best: str
    confidence: float
    raw_score: float
    scores: dict[str, float]
    raw_scores: dict[str, float]
    how: str
    seconds: float

    def __post_init__(self) -> None:
        if self.best not in self.raw_scores:
            raise ValueError(f"best {self.best!r} is not one of {list(self.raw_scores)}")
        if self.how not in ("full", "partial", "reused"):
            raise ValueError(f"how must be full, partial or reused, got {self.how!r}")


@dataclass(frozen=True)
class WaitResult:
    """What wait_for found: the result, the matching frame, and how long it took."""

    result: StateResult
    frame: Image.Image
    elapsed: float
    frames_seen: int


class StateChecker:
    """Fast state checks over a stream of screenshots (see module docstring)."""

    def __init__(
        self,
        spec: ClassSpec | str | os.PathLike | dict,
        encoder: str | Encoder = "auto",
        options: EncoderOptions | None = None,
        min_score: float | None = None,
        max_side: int = 1920,
        partial_ocr_below: float = 0.5,
        detector: Any = None,
        confirm_margin: float | None = None,
    ) -> None:
        """``partial_ocr_below``: re-read only the changed part of the screen when less than
        this fraction changed; ``confirm_margin``: a partial read whose two best classes are
        closer than this is confirmed by a full read (default ``CONFIRM_MARGIN``; 0 never
        confirms, trading agreement with batch results for tail latency)."""
        self.classifier = ScreenClassifier(spec, encoder=encoder, options=options, min_score=min_score)
        self.names = self.classifier.names
        self.max_side = max_side
        self.partial_ocr_below = partial_ocr_below
        self.confirm_margin = CONFIRM_MARGIN if confirm_margin is None else confirm_margin
        self.detector = detector
        self._prev_img: Image.Image | None = None
        self._prev_feats: dict[str, Any] | None = None
        self._prev_result: StateResult | None = None
        self._text = next((c for c in self.classifier.encoder.channels if c.name == "text"), None)

    # -- core ---------------------------------------------------------------------
    def _changed_tiles(self, cur: Image.Image) -> np.ndarray | None:
        """Bool [rows, cols] of TILE-px tiles covering the region that differs from the
        previous frame (None: no comparable previous frame). The changed bounding box comes
        from one C pass (``ImageChops.difference(...).getbbox()``), well under a millisecond
        for an unchanged 1080p frame."""
        prev = self._prev_img
        if prev is None or prev.size != cur.size:
            return None
        w, h = cur.size
        tiles = np.zeros((math.ceil(h / TILE), math.ceil(w / TILE)), dtype=bool)
        bbox = ImageChops.difference(cur, prev).getbbox()
        if bbox is not None:
            x0, y0, x1, y1 = bbox
            tiles[y0 // TILE : math.ceil(y1 / TILE), x0 // TILE : math.ceil(x1 / TILE)] = True
        return tiles

    def _partial_text(self, img: Image.Image, tiles: np.ndarray) -> Any:
        """Text features re-reading only the changed tiles' bounding box."""
        assert self._text is not None and self._prev_feats is not None
        ys, xs = np.nonzero(tiles)
        margin = TILE
        x0 = max(0, int(xs.min()) * TILE - margin)
        y0 = max(0, int(ys.min()) * TILE - margin)
        x1 = min(img.size[0], (int(xs.max()) + 1) * TILE + margin)
        y1 = min(img.size[1], (int(ys.max()) + 1) * TILE + margin)
        prev_lines = self._prev_feats["text"].lines

        def outside(b: tuple[float, ...]) -> bool:
            return b[2] <= x0 or b[0] >= x1 or b[3] <= y0 or b[1] >= y1

        # grow the region to whole previous lines it cuts, so no line is read in pieces
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
        crop = img.crop((x0, y0, x1, y1))
        new = [
            TextLine((b[0] + x0, b[1] + y0, b[2] + x0, b[3] + y0), ln.text, ln.confidence)
            for ln in self._text.read_lines(crop)  # type: ignore[attr-defined]
            for b in [ln.box]
        ]
        return self._text.features_from_lines(reading_order([*keep, *new]))  # type: ignore[attr-defined]

    def which(self, image: ImageInput) -> StateResult:
        """The state of one screenshot, or ``state=None`` for none of the above."""
        t0 = time.perf_counter()
        img = resize_max_side(load_image(image), self.max_side)
        tiles = self._changed_tiles(img)
        if tiles is not None and not tiles.any() and self._prev_result is not None:
            return replace(self._prev_result, how="reused", seconds=time.perf_counter() - t0)
        enc = self.classifier.encoder
        how = "full"
        partial = (
            self._text is not None
            and tiles is not None
            and self._prev_feats is not None
            and tiles.mean() <= self.partial_ocr_below
        )
        if partial:
            assert tiles is not None and self._prev_feats is not None
            feats = {}
            others = [c for c in enc.channels if c.name != "text"]
            for ch in others:
                feats[ch.name] = ch.encode([ch.prepare(img)])[0]
            feats["text"] = self._partial_text(img, tiles)
            how = "partial"
        else:
            feats = enc.encode([enc.prepare(img)])[0]
        res = self.classifier.classify_features([feats])[0]
        if how == "partial" and _margin(res.raw_scores) < self.confirm_margin:
            text = self._text
            assert text is not None
            feats["text"] = text.encode([text.prepare(img)])[0]  # the other channels read the whole frame already
            res = self.classifier.classify_features([feats])[0]
            how = "full"
        out = StateResult(
            state=res.state,
            best=res.pred,
            confidence=res.confidence,
            raw_score=res.raw_scores[res.pred],
            scores=res.scores,
            raw_scores=res.raw_scores,
            how=how,
            seconds=time.perf_counter() - t0,
        )
        # keep our own copy when the caller owns the pixels (screen grabbers reuse buffers)
        owned = img.copy() if isinstance(image, (Image.Image, np.ndarray)) else img
        self._prev_img, self._prev_feats, self._prev_result = owned, feats, out
        return out

    def reset(self) -> None:
        """Forget the previous frame (the next check does full work)."""
        self._prev_img = self._prev_feats = self._prev_result = None

    # -- conveniences ---------------------------------------------------------------
    def _check_names(self, names: Iterable[str]) -> list[str]:
        out = list(names)
        for n in out:
            if n not in self.names:
                raise UnknownNameError("state", n, self.names)
        return out

    def is_state(self, image: ImageInput, name: str) -> bool:
        """True when the screenshot is in state ``name`` (above its min_score)."""
        self._check_names([name])
        return self.which(image).state == name

    def wait_for(
        self,
        names: str | Iterable[str],
        grab: Callable[[], ImageInput] | Iterable[ImageInput],
        timeout: float = 10.0,
        interval: float = 0.2,
    ) -> WaitResult:
        """Check frames from ``grab`` (a callable or an iterable such as a generator) until
        one is in one of ``names``; raise :class:`StateTimeoutError` saying what was seen."""
        wanted = self._check_names([names] if isinstance(names, str) else names)
        frames: Iterator[ImageInput] | None = None if callable(grab) else iter(grab)
        t0 = time.perf_counter()
        seen = 0
        last: StateResult | None = None
        while True:
            if frames is None:
                frame = grab()  # type: ignore[operator]
            else:
                try:
                    frame = next(frames)
                except StopIteration:
                    break
            seen += 1
            last = self.which(frame)
            if last.state in wanted:
                return WaitResult(last, load_image(frame), time.perf_counter() - t0, seen)
            if time.perf_counter() - t0 + interval > timeout:
                break
            if frames is None and interval > 0:
                time.sleep(interval)
        seen_text = (
            "no frame was seen"
            if last is None
            else f"last seen: {last.state or 'none of the above'} (best {last.best} raw {last.raw_score:.3f})"
        )
        raise StateTimeoutError(
            f"waited {time.perf_counter() - t0:.1f} s over {seen} frames for {' or '.join(wanted)}; {seen_text}"
        )

    def find(self, image: ImageInput, what: str) -> list[Any]:
        """Boxes of a UI element ("Submit button") via the detector, or on-screen text lines."""
        if self.detector is not None:
            return list(self.detector.detect(image, what))
        if self._text is None:
            raise UnknownNameError("find backend", "none", ["a detector", "the text channel"])
        original = load_image(image)
        img = resize_max_side(original, self.max_side)
        lines = self._text.read_lines(img)  # type: ignore[attr-defined]
        if not lines:
            return []
        sent = self._text.sentences  # type: ignore[attr-defined]
        sims = (sent.encode([what]) @ sent.encode([ln.text for ln in lines]).T)[0]
        order = sims.argsort(descending=True)
        scale = original.size[0] / img.size[0]
        return [
            (tuple(v * scale for v in lines[i].box), lines[i].text, float(sims[i]))
            for i in order.tolist()
            if float(sims[i]) >= 0.5
        ]


def _margin(raw_scores: dict[str, float]) -> float:
    """Raw-score gap between the best and the second-best class."""
    top = sorted(raw_scores.values(), reverse=True)
    return top[0] - top[1] if len(top) > 1 else float("inf")
