"""Why a screen got its scores: for a class, the example that decided its raw score.

The two-stage rule takes, per class, the most relevant example (positive or negative);
:func:`explain` names that example for the classes asked about, with each channel's
relevance and, for the text channel, the on-screen lines that matched it::

    feats = clf.features([clf.load("frame.png")])[0]
    for ev in explain(clf, feats, ["login_page", "error_dialog"]):
        ev.class_name, ev.raw_score, ev.example_text or ev.example_image, ev.lines
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from screenstate.embeddings.features import ScreenFeatures
from screenstate.embeddings.lines import LineMatch
from screenstate.errors import UnknownNameError

if TYPE_CHECKING:
    from screenstate.classify import ScreenClassifier


@dataclass(frozen=True)
class ClassEvidence:
    """The example that decided one class's raw score on one screen.

    ``relevance`` is the classifier's decision rule's column view of that example
    (``classifier/rule.py``: the fused relevance d under the two-stage rule, the weighted
    calibrated sources under the few-shot rule); ``raw_score`` is the class's raw score
    (d for a positive example and 1 - d for a negative one under the two-stage rule). ``column`` indexes
    ``ScreenClassifier.columns``; ``json_path`` names the example in the class file.
    """

    class_name: str
    raw_score: float
    column: int
    json_path: str
    negative: bool
    example_text: str | None
    example_image: Path | None
    relevance: float
    channel_relevance: dict[str, float]
    lines: tuple[LineMatch, ...]
    #: why the screen is none of this class whatever its score (``classifier/window_size.py``), or None
    window: str | None = None

    def __post_init__(self) -> None:
        if (self.example_text is None) == (self.example_image is None):
            raise ValueError("ClassEvidence: exactly one of example_text and example_image must be set")
        if not 0.0 <= self.relevance <= 1.0:
            raise ValueError(f"ClassEvidence.relevance must be in [0, 1], got {self.relevance}")


def explain(
    clf: ScreenClassifier, features: ScreenFeatures, classes: Sequence[str], max_lines: int = 3
) -> list[ClassEvidence]:
    """Evidence for ``classes`` (names of ``clf``'s classes) on one screen's features."""
    for name in classes:
        if name not in clf.names:
            raise UnknownNameError("class", name, clf.names)
    per_channel = clf.relevance([features])
    rule = clf.rule_for(features)
    raw = rule.scores(per_channel)[0]
    fused = np.nan_to_num(rule.column_view(per_channel)[0], nan=-1.0)  # NaN: no source scores the column
    text = clf.encoder.text
    windows = clf.window_notes(features, [clf.names.index(n) for n in classes])
    out = []
    for name, window in zip(classes, windows):
        ci = clf.names.index(name)
        cols = [k for k, c in enumerate(clf.columns) if c.class_index == ci]
        best = max(cols, key=lambda k: (float(fused[k]), clf.columns[k].is_negative))  # ties: negative, as the rule
        col = clf.columns[best]
        d = float(fused[best])
        lines: tuple[LineMatch, ...] = ()
        if text is not None and features.text is not None and clf.examples.text is not None:
            lines = text.matching_lines(features.text, clf.examples.text, best, k=max_lines)
        out.append(
            ClassEvidence(
                class_name=name,
                raw_score=float(raw[ci]),
                column=best,
                json_path=col.json_path,
                negative=col.is_negative,
                example_text=col.text,
                example_image=col.image,
                relevance=min(1.0, max(0.0, d)),
                # channels with no opinion on this example (visual on a text example) are left out
                channel_relevance={k: float(v[0, best]) for k, v in per_channel.items() if not math.isnan(v[0, best])},
                lines=lines,
                window=window,
            )
        )
    return out
