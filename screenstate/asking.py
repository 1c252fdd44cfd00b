"""Free-form questions about a screen, routed to the cheapest path that can answer.

    ask(img, "is the login page showing?", spec)   -> Answer(path="classifier")
    ask(img, "where is the Sign In button?")       -> Answer(path="detector")
    ask(img, "what does the error message say?")   -> Answer(path="ocr")
    ask(img, "which file is selected?")            -> Answer(path="vlm")

Routing is by the question's form (see :func:`route`): state questions need a class
file; "where" questions go to the detector's OCR-line regions; "what does ... say"
questions to the OCR lines; everything else, and routed questions whose fast path finds
nothing, to the VLM, which is loaded only then.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Any

from screenstate.embeddings.images import ImageInput, load_image
from screenstate.errors import ModelNotAvailableError
from screenstate.schema import ClassSpec

PATHS = ("classifier", "detector", "ocr", "vlm")

_WHERE = re.compile(
    r"^\s*(where('s| is| are)?|find|locate|point (to|at)|show me where|(what is|what's) the (position|location) of|"
    r"(give me )?(the )?(coordinates|bounding box|box) (of|for))\b",
    re.I,
)
_READ = re.compile(
    r"\b(what (does|do) (the |this |that )?(.+?) (say|read|show)|what is (written|the text|the title|the message|the label|the heading)|"
    r"what('s| is) the ([a-z]+ )?(message|title|heading|headline|text|label|caption)\b|read (out )?(the )?|"
    r"(text|title|message|label|heading|caption) (of|on|in) )",
    re.I,
)
_WHICH_STATE = re.compile(
    r"\b(which|what) (screen|state|page|view|dialog|window)( is (this|shown|showing|open|displayed)| am i on| are we on)\b",
    re.I,
)
_IS_STATE = re.compile(
    r"^\s*(is|are|am|does|do) .*\b(showing|shown|open|opened|visible|displayed|on screen|up|active|loaded|present)\b|"
    r"^\s*is (this|it|that) (a|an|the)\b|^\s*are we (on|at|in)\b",
    re.I,
)


@dataclass(frozen=True)
class Answer:
    """An answer and how it was found: ``path`` is classifier, detector, ocr or vlm."""

    text: str
    path: str
    evidence: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.path not in PATHS:
            raise ValueError(f"path must be one of {PATHS}, got {self.path!r}")


def _norm(s: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", s.lower()).strip()


def mentioned_state(question: str, names: list[str]) -> str | None:
    """A configured state named in the question ("login page" for ``login_page``)."""
    q = f" {_norm(question)} "
    best = None
    for n in names:
        if f" {_norm(n)} " in q and (best is None or len(n) > len(best)):
            best = n
    return best


def route(question: str, state_names: list[str] | None = None) -> str:
    """The path a question goes to (no model is touched)."""
    names = state_names or []
    if _WHERE.search(question):
        return "detector"
    if _READ.search(question):
        return "ocr"
    if names and (_WHICH_STATE.search(question) or (_IS_STATE.search(question) and mentioned_state(question, names))):
        return "classifier"
    return "vlm"


#: questions about these are answered by layout (:func:`heading_line`), not by similarity
_HEADING_WORDS = frozenset({"heading", "headline", "header", "title"})
#: lines at least this fraction of the tallest line's height count as heading-sized
HEADING_HEIGHT_RATIO = 0.9


def heading_line(lines: list[Any]) -> Any | None:
    """The heading among OCR lines: the largest text (box height), the topmost of those
    within ``HEADING_HEIGHT_RATIO`` of it; lines with fewer than two letters (icons, logo
    glyphs OCR read as "f") never count.

    >>> from screenstate.embeddings.ocr import TextLine
    >>> rows = [TextLine((0, 10, 80, 22), "Sign In", 1.0), TextLine((0, 40, 300, 80), "AdminLTE", 1.0),
    ...         TextLine((0, 0, 30, 60), "f", 1.0)]
    >>> heading_line(rows).text
    'AdminLTE'
    """
    words = [ln for ln in lines if sum(c.isalpha() for c in ln.text) >= 2]
    if not words:
        return None
    tallest = max(ln.box[3] - ln.box[1] for ln in words)
    big = [ln for ln in words if ln.box[3] - ln.box[1] >= HEADING_HEIGHT_RATIO * tallest]
    return min(big, key=lambda ln: ln.box[1])


def _target_phrase(question: str) -> str:
    """'where is the Sign In button?' -> 'Sign In button'; 'what does the error message say' -> 'error message'."""
    q = question.strip().rstrip("?. ")
    m = re.search(r"what (?:does|do) (?:the |this |that )?(.+?) (?:say|read|show)$", q, re.I)
    if m:
        return m.group(1)
    q = _WHERE.sub("", q).strip()
    q = re.sub(r"^(the|a|an)\s+", "", q, flags=re.I)
    q = re.sub(r"^(what('s| is) the |read (out )?(the )?)", "", q, flags=re.I)
    return q or question


class Asker:
    """Holds the models behind :func:`ask` so repeated questions reuse them."""

    def __init__(
        self,
        spec: ClassSpec | str | dict | None = None,
        encoder: str | Any = "auto",
        vlm: Any = None,
        text_channel: Any = None,
        checker: Any = None,
    ) -> None:
        from screenstate.embeddings.text import TextChannel

        self.checker = checker
        if self.checker is None and spec is not None:
            from screenstate.checker import StateChecker

            self.checker = StateChecker(spec, encoder=encoder)
        if text_channel is None and self.checker is not None:
            text_channel = self.checker.classifier.encoder.text
        self.text = text_channel or TextChannel()
        self._vlm = vlm

    @property
    def vlm(self) -> Any:
        if self._vlm is None:
            from screenstate.vlm import VLM

            self._vlm = VLM()
        return self._vlm

    @property
    def vlm_loaded(self) -> bool:
        return self._vlm is not None and bool(getattr(self._vlm, "loaded", False))

    def ask(self, image: ImageInput, question: str) -> Answer:
        return self._ask(load_image(image), question, {})

    def ask_all(self, image: ImageInput, questions: list[str]) -> list[tuple[str, Answer | None, float, str]]:
        """Every question about one screen, reading its text once: ``(question, answer,
        seconds, error)`` per question; a question that fails gets ``None`` and the error
        (a missing model still raises: every other question would fail the same way)."""
        img = load_image(image)
        read: dict[str, Any] = {}
        out: list[tuple[str, Answer | None, float, str]] = []
        for q in questions:
            t0 = time.perf_counter()
            try:
                out.append((q, self._ask(img, q, read), time.perf_counter() - t0, ""))
            except ModelNotAvailableError:
                raise
            except Exception as e:  # noqa: BLE001 - one failed question must not lose the others' answers
                out.append((q, None, time.perf_counter() - t0, f"{type(e).__name__}: {e}"))
        return out

    def _ask(self, img: Any, question: str, read: dict[str, Any]) -> Answer:
        names = self.checker.names if self.checker is not None else []
        path = route(question, names)
        if path == "classifier":
            return self._classifier(img, question)
        if path == "detector":
            ans = self._detector(img, question, read)
            if ans is not None:
                return ans
        if path == "ocr":
            ans = self._ocr(img, question, read)
            if ans is not None:
                return ans
        out = self.vlm.answer(img, question)
        evidence = {"seconds": out.seconds, "new_tokens": out.new_tokens, "routed": path, "runtime": out.runtime}
        return Answer(out.text, "vlm", evidence)

    def _classifier(self, img: Any, question: str) -> Answer:
        res = self.checker.which(img)
        target = mentioned_state(question, self.checker.names)
        evidence = {"state": res.state, "best": res.best, "raw_scores": res.raw_scores}
        if target is not None and not _WHICH_STATE.search(question):
            yes = res.state == target
            return Answer(
                f"{'yes' if yes else 'no'}: the screen is {res.state or 'none of the configured states'}",
                "classifier",
                {**evidence, "asked": target},
            )
        return Answer(res.state or "none of the configured states", "classifier", evidence)

    def _read(self, img: Any, read: dict[str, Any]) -> tuple[list[Any], Any]:
        """OCR lines of ``img`` (boxes in its pixels) and their sentence embeddings, read
        once per screen (``read`` keeps them for the screen's other questions)."""
        if "lines" not in read:
            from screenstate.embeddings.ocr import TextLine

            prepared = self.text.prepare(img)
            scale = img.size[0] / prepared.size[0]
            lines = [
                TextLine(tuple(v * scale for v in ln.box), ln.text, ln.confidence)
                for ln in self.text.read_lines(prepared)
                if ln.text.strip()
            ]
            read["lines"] = lines
            read["emb"] = self.text.sentences.encode([ln.text for ln in lines]) if lines else None
        return read["lines"], read["emb"]

    def _rank_lines(self, img: Any, phrase: str, read: dict[str, Any] | None = None) -> list[tuple[Any, float]]:
        """OCR lines (boxes in ``img`` pixels) ranked by similarity to ``phrase``; one OCR pass."""
        from screenstate.embeddings.lines import ranked_lines
        from screenstate.embeddings.regions import strip_roles

        lines, emb = self._read(img, {} if read is None else read)
        if not lines:
            return []
        sims = (self.text.sentences.encode([phrase, strip_roles(phrase)]) @ emb.T).max(0)
        return [(m, m.similarity) for m in ranked_lines(lines, sims)]

    def _detector(self, img: Any, question: str, read: dict[str, Any] | None = None) -> Answer | None:
        from screenstate.embeddings.lines import FIND_MIN_SIMILARITY

        phrase = _target_phrase(question)
        ranked = self._rank_lines(img, phrase, read)
        if not ranked or ranked[0][1] < FIND_MIN_SIMILARITY:
            return None
        line, score = ranked[0]
        box = [round(v, 1) for v in line.box]
        return Answer(
            f"{line.text!r} at {box}", "detector", {"box": box, "score": score, "label": line.text, "query": phrase}
        )

    def _ocr(self, img: Any, question: str, read: dict[str, Any] | None = None) -> Answer | None:
        phrase = _target_phrase(question)
        ranked = self._rank_lines(img, phrase, read)
        if not ranked:
            return None
        key = _norm(phrase)
        if _HEADING_WORDS & set(key.split()):  # a page's heading is where it is and how big, not what it says
            heading = heading_line([ln for ln, _ in ranked])
            if heading is not None:
                lines = [ln.text for ln, _ in ranked[:5]]
                box = [round(v, 1) for v in heading.box]
                rule = "largest text, topmost"
                return Answer(heading.text, "ocr", {"lines": lines, "query": phrase, "rule": rule, "box": box})
        # "error message" / "text": prefer the longest of the best lines near the best match
        best_line, best_score = ranked[0]
        if best_score < 0.3 and not any(w in key for w in ("message", "title", "text", "heading")):
            return None
        text = best_line.text
        if any(w in key.split() for w in ("message", "text", "error", "warning")):
            near = [ln for ln, _ in ranked[:5] if len(ln.text) > len(text) and abs(ln.box[1] - best_line.box[1]) < 200]
            if near:
                text = max(near, key=lambda ln: len(ln.text)).text
        box = next((ln.box for ln, _ in ranked if ln.text == text), best_line.box)
        evidence = {"lines": [ln.text for ln, _ in ranked[:5]], "query": phrase, "box": [round(v, 1) for v in box]}
        return Answer(text, "ocr", {**evidence, "label": text})


def ask(image: ImageInput, question: str, spec: ClassSpec | str | dict | None = None, **kwargs: Any) -> Answer:
    """Answer one question about one screenshot (see module docstring). For many questions,
    build an :class:`Asker` once."""
    return Asker(spec, **kwargs).ask(image, question)
