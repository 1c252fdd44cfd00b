"""Evaluation metrics for labeled recordings: per-class metrics of a labeled layout, and
the accuracy against a recording's labels that every result view shows (classify-directory's
summary, --report and --scores, the review page, the demo)."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from screenstate.errors import ScreenstateError


def evaluate(labels: Sequence[str], preds: Sequence[str], classes: Sequence[str]) -> dict[str, Any]:
    """Accuracy, per-class precision/recall/F1/support and the confusion matrix.

    ``classes`` orders the matrix; labels or predictions outside it (such as "unknown")
    are appended. ``confusion[label][pred]`` counts frames.
    """
    if len(labels) != len(preds):
        raise ValueError(f"labels and preds differ in length: {len(labels)} vs {len(preds)}")
    names = list(dict.fromkeys([*classes, *labels, *preds]))
    confusion = {a: {b: 0 for b in names} for a in names}
    for y, p in zip(labels, preds):
        confusion[y][p] += 1
    n = len(labels)
    correct = sum(confusion[c][c] for c in names)
    per_class = {}
    for c in names:
        tp = confusion[c][c]
        support = sum(confusion[c].values())
        predicted = sum(confusion[a][c] for a in names)
        precision = tp / predicted if predicted else 0.0
        recall = tp / support if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        if support or predicted:
            per_class[c] = {"precision": precision, "recall": recall, "f1": f1, "support": support}
    return {"n": n, "accuracy": correct / n if n else 0.0, "per_class": per_class, "confusion": confusion}


#: what a recording's ``labels.csv`` calls a frame of none of the named states
NONE_OF_THE_ABOVE = "unknown"


@dataclass(frozen=True)
class LabelAccuracy:
    """Predicted states against a recording's known labels (``labels.csv`` or a labeled
    layout), split the way a user reads them: frames of a named state, and frames labeled
    ``unknown`` (none of the above), which are right only when they get no state.

    A labeled frame that could not be read counts as wrong (``unreadable``); ``wrong`` lists
    (frame, label, what it got) for every miss, in frame order.

    >>> a = score_labels(["login", "unknown", "login", None], ["login", None, "error", "x"])
    >>> a.correct, a.n, a.named_correct, a.named, a.unknown_correct, a.unknown
    (2, 3, 1, 2, 1, 1)
    >>> a.describe()
    'accuracy vs labels: 2/3 (0.667); named states 1/2, none of the above 1/1'
    """

    correct: int
    n: int
    named_correct: int
    named: int
    unknown_correct: int
    unknown: int
    unreadable: int = 0
    wrong: tuple[tuple[str, str, str], ...] = ()

    @property
    def accuracy(self) -> float:
        return self.correct / self.n if self.n else 0.0

    def describe(self) -> str:
        """One line for a console, a report header or the review page."""
        parts = [f"named states {self.named_correct}/{self.named}"] if self.named else []
        parts += [f"none of the above {self.unknown_correct}/{self.unknown}"] if self.unknown else []
        parts += [f"{self.unreadable} unreadable"] if self.unreadable else []
        return f"accuracy vs labels: {self.correct}/{self.n} ({self.accuracy:.3f}); " + ", ".join(parts)

    def as_dict(self) -> dict[str, Any]:
        """The JSON form (API, report, benchmarks)."""
        return {
            "correct": self.correct,
            "n": self.n,
            "accuracy": self.accuracy,
            "named_correct": self.named_correct,
            "named": self.named,
            "unknown_correct": self.unknown_correct,
            "unknown": self.unknown,
            "unreadable": self.unreadable,
            "wrong": [list(w) for w in self.wrong],
        }


def score_labels(
    labels: Sequence[str | None],
    states: Sequence[str | None],
    names: Sequence[str] | None = None,
    none_label: str = NONE_OF_THE_ABOVE,
    unreadable: Sequence[bool] | None = None,
) -> LabelAccuracy | None:
    """Score each frame's ``state`` (None = no state) against its label (None = not
    labeled, skipped; ``none_label`` = none of the above); None when no frame is labeled.
    ``names`` name the frames in ``wrong`` (default: their positions); ``unreadable[i]``
    marks a frame that has no classification (always wrong)."""
    if len(labels) != len(states):
        raise ValueError(f"labels and states differ in length: {len(labels)} vs {len(states)}")
    bad = list(unreadable) if unreadable is not None else [False] * len(labels)
    counts = {"correct": 0, "named_correct": 0, "named": 0, "unknown_correct": 0, "unknown": 0}
    wrong = []
    n = n_bad = 0
    for i, (y, s) in enumerate(zip(labels, states)):
        if y is None:
            continue
        n += 1
        none = y == none_label
        ok = not bad[i] and (s is None if none else s == y)
        n_bad += bad[i]
        counts["unknown" if none else "named"] += 1
        if ok:
            counts["correct"] += 1
            counts["unknown_correct" if none else "named_correct"] += 1
        else:
            got = "<unreadable>" if bad[i] else (s if s is not None else none_label)
            wrong.append((names[i] if names is not None else str(i), y, got))
    if n == 0:
        return None
    return LabelAccuracy(**counts, n=n, unreadable=n_bad, wrong=tuple(wrong))


def read_labels_csv(root: Path) -> dict[str, str]:
    """``ROOT/labels.csv`` (columns ``frame,state``; ``unknown`` = none of the above) as
    {file name: state}; empty when there is none."""
    p = root / "labels.csv"
    if not p.is_file():
        return {}
    with p.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    if rows and not {"frame", "state"} <= set(rows[0]):
        raise ScreenstateError(f"{p}: expected columns frame,state; got {sorted(rows[0])}")
    return {r["frame"]: r["state"] for r in rows}
