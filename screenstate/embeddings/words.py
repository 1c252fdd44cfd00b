"""Word overlap of a screen with screenshot exemplars: the ``words`` evidence source.

Two screenshots of one state of an application share their words — button labels
("Yes", "No", "Cancel"), field names, headings — more reliably than their sentences: a
dialog's message changes from one screenshot to the next, its buttons do not. So each
screen is reduced to the set of words OCR read on it (lower-cased, letters only, at least
two characters), and compared with an exemplar's by the cosine of their binary TF-IDF
vectors. ``idf`` is computed over the user's exemplars, one document per class, so words
every class shows (a desktop's menu bar, "OK") count little and words that tell the
user's classes apart count most.

A screen's words are read twice, from the whole screen and from its foreground window
(the visual channel's box, when the encoder has it), and the two cosines are averaged:
the foreground leaves out the windows behind a dialog, the whole screen keeps a web page
whose "foreground" is only one of its cards.

Relevance of exemplar e to screen v, in [0, 1] (0.5 = nothing in common, 1 = the same
words)::

    d(e, v) = 0.5 + 0.5 * (cos_whole(e, v) + cos_foreground(e, v)) / 2

Text examples get NaN (no opinion). The few-shot rule (``classifier/fewshot.py``)
recalibrates this scale on the user's exemplars. Registered as the exemplar source
``words`` (``sources.py``) for encoders with the text channel.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from screenstate.embeddings.base import floor_relevance
from screenstate.embeddings.encoder import Encoder
from screenstate.embeddings.features import ScreenFeatures
from screenstate.embeddings.images import screen_side_scale
from screenstate.embeddings.sources import SourceKind, register_source
from screenstate.embeddings.text import TEXT
from screenstate.embeddings.textnorm import ClassIdf, letter_words
from screenstate.embeddings.visual import VISUAL
from screenstate.schema import Column


@dataclass(frozen=True)
class ScreenWords:
    """The words of a whole screen and of its foreground window."""

    whole: frozenset[str]
    foreground: frozenset[str]


def word_sets(features: ScreenFeatures, text_max_side: int) -> ScreenWords:
    """Words of one screen from its channel features (``text``, and ``visual`` for the box);
    ``text_max_side`` is the text channel's ``max_side`` (OCR line boxes are in the pixels
    of the screen downscaled by it, the visual box in the screen's own)."""
    text = features.get(TEXT)
    lines = text.lines if text is not None else ()
    whole: set[str] = set()
    fg: set[str] = set()
    visual = features.get(VISUAL)
    box = visual.box if visual is not None else None
    if visual is not None and box is not None:
        w, h = visual.size
        s = screen_side_scale((w, h), text_max_side)  # OCR ran on this scale
        x0, y0, x1, y1 = (v * s for v in box)
    for ln in lines:
        ws = letter_words(ln.text)
        whole |= ws
        cx, cy = (ln.box[0] + ln.box[2]) / 2, (ln.box[1] + ln.box[3]) / 2
        if box is None or (x0 <= cx < x1 and y0 <= cy < y1):
            fg |= ws
    return ScreenWords(frozenset(whole), frozenset(fg))


@dataclass(frozen=True)
class WordExemplars:
    """Exemplar word sets with class-level idf (built once per class file)."""

    is_image: np.ndarray  # bool [columns]
    exemplars: tuple[ScreenWords, ...]
    idf: ClassIdf
    text_max_side: int

    @classmethod
    def build(
        cls, columns: Sequence[Column], exemplar_features: Sequence[ScreenFeatures], text_max_side: int
    ) -> WordExemplars:
        """``exemplar_features``: channel features of the image columns, in column order;
        ``text_max_side``: the text channel's ``max_side`` (see :func:`word_sets`)."""
        image_cols = [c for c in columns if c.image is not None]
        if len(image_cols) != len(exemplar_features):
            raise ValueError(f"words: expected {len(image_cols)} exemplar features, got {len(exemplar_features)}")
        words = tuple(word_sets(f, text_max_side) for f in exemplar_features)
        per_class: dict[int, set[str]] = {}
        for c, sw in zip(image_cols, words):
            per_class.setdefault(c.class_index, set()).update(sw.whole)
        is_image = np.array([c.image is not None for c in columns], dtype=np.bool_)
        return cls(is_image, words, ClassIdf.of(per_class), text_max_side)

    def _cosine(self, a: frozenset[str], b: frozenset[str]) -> float:
        if not a or not b:
            return 1.0 if not a and not b else 0.0
        idf = self.idf

        def sq(w: str) -> float:
            return idf(w) ** 2

        inter = sum(sq(w) for w in a & b)
        return inter / math.sqrt(sum(sq(w) for w in a) * sum(sq(w) for w in b))

    def relevance(self, features: Sequence[ScreenFeatures]) -> np.ndarray:
        """float [screens, columns]: d(e, v) on image columns, NaN on text columns."""
        out = np.full((len(features), self.is_image.shape[0]), np.nan, dtype=np.float32)
        if not self.exemplars:
            return out
        cols = np.flatnonzero(self.is_image)
        for i, f in enumerate(features):
            sw = word_sets(f, self.text_max_side)
            sims = [
                0.5 * (self._cosine(sw.whole, e.whole) + self._cosine(sw.foreground, e.foreground))
                for e in self.exemplars
            ]
            # cosines of word sets: 0 = nothing in common
            out[i, cols] = floor_relevance(np.array(sims, np.float32), 0.0)
        return out


def _build(
    columns: Sequence[Column], exemplar_features: Sequence[ScreenFeatures], encoder: Encoder
) -> WordExemplars | None:
    text = encoder.get(TEXT)
    return None if text is None else WordExemplars.build(columns, exemplar_features, text.options.max_side)


#: the ``words`` exemplar source in the registry
WORDS = register_source(SourceKind("words", _build))
