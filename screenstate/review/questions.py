"""The review page's question box: a free-form question about the frame on screen.

State questions are answered from the frame's current classification (the session's, so
the answer matches the page); "where" and "what does ... say" questions from the frame's
OCR lines, with the box of the answer; the rest by the VLM (``vlm.py``), loaded on the first
such question. One question is answered at a time: a second one while the first runs is
refused (:class:`QuestionBusyError`, HTTP 429) rather than queued behind a VLM answer.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

from screenstate.checker import StateResult
from screenstate.embeddings.images import load_image
from screenstate.errors import ScreenstateError

#: longest question accepted (characters)
MAX_QUESTION = 500


class QuestionBusyError(ScreenstateError):
    """Another question is being answered."""


@dataclass(frozen=True)
class FrameAnswer:
    """An answer about one frame, with the boxes to draw on it (image pixels)."""

    index: int
    question: str
    route: str
    answer: str
    evidence: dict[str, Any]
    boxes: tuple[tuple[tuple[float, float, float, float], str], ...]
    size: tuple[int, int]
    seconds: float

    def to_json(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "question": self.question,
            "route": self.route,
            "answer": self.answer,
            "evidence": self.evidence,
            "boxes": [{"box": list(b), "label": label} for b, label in self.boxes],
            "size": list(self.size),
            "seconds": self.seconds,
        }


class _SessionChecker:
    """What :class:`~screenstate.asking.Asker` needs of a checker, from the session's own
    classification of one frame."""

    def __init__(self, session: Any, index: int) -> None:
        self.names = session.names
        self._frame = session.frame(index)

    def which(self, _img: Any) -> StateResult:
        r = self._frame.result
        if r is None:
            raise ScreenstateError(f"frame {self._frame.index} has no classification: {self._frame.error}")
        return StateResult(
            r.state, r.pred, r.scores[r.pred], r.raw_scores[r.pred], r.scores, r.raw_scores, "cached", 0.0
        )


class FrameQuestions:
    """Answers questions about a review session's frames (see the module docstring)."""

    def __init__(self, session: Any, vlm: Any = None) -> None:
        self.session = session
        self._vlm = vlm
        self._text: Any = None
        self._lock = threading.Lock()

    def _text_channel(self) -> Any:
        if self._text is None:
            from screenstate.embeddings.text import TextChannel

            self._text = self.session.clf.encoder.text or TextChannel()
        return self._text

    def _vlm_model(self) -> Any:
        if self._vlm is None:
            from screenstate.vlm import VLM

            self._vlm = VLM()
        return self._vlm

    def ask(self, index: int, question: str) -> FrameAnswer:
        """Answer ``question`` about frame ``index``."""
        from screenstate.asking import Asker

        question = question.strip()
        if not question or len(question) > MAX_QUESTION:
            raise ScreenstateError(f"a question must have 1 to {MAX_QUESTION} characters, got {len(question)}")
        frame = self.session.frame(index)
        if frame.error:
            raise ScreenstateError(f"frame {index} cannot be read: {frame.error}")
        if not self._lock.acquire(blocking=False):
            raise QuestionBusyError("another question is being answered; ask again when it is done")
        try:
            t0 = time.perf_counter()
            img = load_image(frame.path)
            checker = _SessionChecker(self.session, index)
            asker = Asker(checker=checker, text_channel=self._text_channel(), vlm=_LazyVlm(self))
            ans = asker.ask(img, question)
            seconds = time.perf_counter() - t0
        finally:
            self._lock.release()
        box = ans.evidence.get("box")
        boxes = ((tuple(box), str(ans.evidence.get("label", ans.text))),) if box else ()
        return FrameAnswer(index, question, ans.path, ans.text, ans.evidence, boxes, img.size, seconds)


class _LazyVlm:
    """Loads the session's VLM only when a question reaches it (and keeps it for the next)."""

    def __init__(self, owner: FrameQuestions) -> None:
        self.owner = owner
        self.loaded = False

    def answer(self, image: Any, question: str) -> Any:
        return self.owner._vlm_model().answer(image, question)
