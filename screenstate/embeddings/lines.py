"""OCR lines ranked by their similarity to a phrase or an example: the one ranking.

``TextChannel.matching_lines`` (the lines behind a score, for ``evidence.explain``),
``TextChannel.find_lines`` ("where is X?": ``StateChecker.find`` and ``ask``) both end in
:func:`ranked_lines`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from screenstate.embeddings.ocr import TextLine


@dataclass(frozen=True)
class LineMatch:
    """An on-screen line that supports an example or answers a phrase: its text, pixel box, similarity."""

    text: str
    box: tuple[float, float, float, float]
    similarity: float


#: a line answers "where is X?" from this sentence similarity on (not fitted; checker, ask)
FIND_MIN_SIMILARITY = 0.5


def ranked_lines(
    lines: Sequence[TextLine],
    sims: np.ndarray,
    k: int | None = None,
    floor: float = -math.inf,
    scale: float = 1.0,
    digits: int | None = None,
) -> list[LineMatch]:
    """The one ranking of OCR lines by a similarity per line (float [lines]): best first, at
    most ``k``, those >= ``floor``; boxes times ``scale``; similarities rounded to ``digits``.

    >>> rows = [TextLine((0, 0, 10, 5), "OK", 1.0), TextLine((0, 9, 10, 14), "Cancel", 1.0)]
    >>> [m.text for m in ranked_lines(rows, np.array([0.2, 0.7], np.float32))]
    ['Cancel', 'OK']
    >>> ranked_lines(rows, np.array([0.2, 0.7], np.float32), floor=0.5, scale=2.0)[0].box
    (0.0, 18.0, 20.0, 28.0)
    """
    order = np.argsort(-sims, kind="stable").tolist()[:k]  # ties: the earlier line first
    out = []
    for i in order:
        sim = float(sims[i])
        if sim >= floor:
            b = lines[i].box
            box = b if scale == 1.0 else (b[0] * scale, b[1] * scale, b[2] * scale, b[3] * scale)
            out.append(LineMatch(lines[i].text, box, round(sim, digits) if digits is not None else sim))
    return out
