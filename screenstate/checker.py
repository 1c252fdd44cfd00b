"""StateChecker: millisecond-scale "which state is this screen in?" for replay loops.

    checker = StateChecker("configs/demo_states.json", min_score=0.62)
    checker.which(screenshot).state                # a state name, or None: none of the above
    checker.is_state(screenshot, "login_page")     # bool
    res, frame = checker.wait_for("dashboard", grab=take_screenshot, timeout=10)

Speed comes from doing as little as possible per frame:

- example embeddings are computed once, at construction;
- each screenshot is downscaled once (``max_side``) and compared tile by tile with the
  previous one; an identical frame reuses the previous result (a few ms);
- with the ``text`` channel, a screen that must be read in full is looked up in the
  classifier's feature store first (by pixel hash): going back to a screen read before
  costs no OCR;
- with the ``text`` channel on, a frame that changed only in part is OCR'd only inside
  the changed tiles; lines elsewhere come from the previous frame (both done by
  ``embeddings/gating.py``, which batch jobs over videos share);
- the precision measured fastest on this CPU (the encoder default, ``precision="auto"``).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from typing import Any

from PIL import Image

from screenstate.classify import ScreenClassifier
from screenstate.embeddings.encoder import Encoder
from screenstate.embeddings.factory import EncoderOptions
from screenstate.embeddings.features import ScreenFeatures
from screenstate.embeddings.gating import CONFIRM_MARGIN, ChangeGate, GateOptions
from screenstate.embeddings.images import ImageInput, load_image, resize_max_side
from screenstate.embeddings.lines import FIND_MIN_SIMILARITY
from screenstate.errors import StateTimeoutError, UnknownNameError
from screenstate.hashing import pixel_hash
from screenstate.recordings.frame import Frame, FrameSource
from screenstate.schema import ClassSpec


@dataclass(frozen=True)
class StateResult:
    """The state of one screenshot.

    ``state`` is the best class when its raw score clears its ``min_score`` (per class in
    the JSON, else the checker's default), otherwise ``None``. ``how`` says what work was
    done: ``full``, ``partial`` (text re-read only in changed tiles), ``reused`` (the
    previous frame's) or ``cached`` (a screen read in full before, from the feature store).
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
        if self.how not in ("full", "partial", "reused", "cached"):
            raise ValueError(f"how must be full, partial, reused or cached, got {self.how!r}")


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
        # one change-gating implementation for every ordered caller (batch videos too)
        self._gate = ChangeGate(self.classifier.encoder, replace(GateOptions.exact(), partial_below=partial_ocr_below))
        self._prev_result: StateResult | None = None
        self._text = self._gate.text

    # -- core ---------------------------------------------------------------------
    def which(self, image: ImageInput) -> StateResult:
        """The state of one screenshot, or ``state=None`` for none of the above."""
        t0 = time.perf_counter()
        img = resize_max_side(load_image(image), self.max_side)
        prev = self._prev_result

        def near_tie(feats: ScreenFeatures) -> bool:
            return self.classifier.classify_features([feats])[0].margin < self.confirm_margin

        store = self.classifier.store
        key: list[str] = []

        def stored() -> ScreenFeatures | None:  # a screen read in full before (A -> B -> A)
            key.append(pixel_hash(img))
            return store.cached(key[0])

        # hashing a full screen (~9 ms at 1080p) pays only where a full read means OCR
        # (hundreds of ms); without the text channel a full read is about as cheap
        lookup = stored if self._text is not None else None
        step = self._gate.step(img, confirm=near_tie, cached=lookup, cached_before_partial=False)
        if step.how == "reused" and prev is not None:
            return replace(prev, how="reused", seconds=time.perf_counter() - t0)
        if step.how == "full" and key:
            store.put(key[0], step.features)  # only exact full reads are stored under the content hash
        res = self.classifier.classify_features([step.features])[0]
        out = StateResult(
            state=res.state,
            best=res.pred,
            confidence=res.confidence,
            raw_score=res.raw_scores[res.pred],
            scores=res.scores,
            raw_scores=res.raw_scores,
            how=step.how,
            seconds=time.perf_counter() - t0,
        )
        self._prev_result = out
        return out

    def reset(self) -> None:
        """Forget the previous frame and the screens read before (the next check does full work)."""
        self._gate.reset()
        self.classifier.store.memory.clear()
        self._prev_result = None

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
                assert callable(grab)  # frames is None only for a callable grab
                frame = grab()
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

    def over(self, recording: str | os.PathLike[str] | FrameSource) -> Iterator[tuple[Frame, StateResult | None]]:
        """Check every frame of a recording in order (a path is opened with
        :func:`~screenstate.recordings.open_recording`): ``(frame, result)``, with ``None``
        for a frame that cannot be read (its ``error`` says why). Frames are checked as a
        replay loop checks screenshots, so unchanged frames cost a few ms."""
        from screenstate.embeddings.gating import LazyFrame
        from screenstate.recordings import open_recording

        source = recording if isinstance(recording, FrameSource) else open_recording(recording)
        for frame in source.frames():
            if frame.error is not None:
                yield frame, None
                continue
            data = frame.load()
            yield frame, self.which(data.load() if isinstance(data, LazyFrame) else data)

    def find(self, image: ImageInput, what: str) -> list[Any]:
        """Boxes of a UI element ("Submit button") via the detector, or on-screen text lines."""
        if self.detector is not None:
            return list(self.detector.detect(image, what))
        if self._text is None:
            raise UnknownNameError("find backend", "none", ["a detector", "the text channel"])
        original = load_image(image)
        img = resize_max_side(original, self.max_side)
        scale = original.size[0] / img.size[0]
        found = self._text.find_lines(img, [what], floor=FIND_MIN_SIMILARITY, scale=scale)
        return [(m.box, m.text, m.similarity) for m in found]
