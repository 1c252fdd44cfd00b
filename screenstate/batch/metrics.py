"""Evaluation metrics for labeled recordings."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


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
