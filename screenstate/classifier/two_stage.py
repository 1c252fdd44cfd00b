"""The two-stage positive/negative nearest-example rule, vectorised over images.

For image v and class j with positives P_j and negatives N_j and relevance d in [0, 1]:

    t_j   = argmax over t in P_j ∪ N_j of d(t, v)
    raw_j = d(t_j, v) if t_j in P_j else 1 - d(t_j, v)
    pred  = argmax_j raw_j;  scores = softmax(raw / 0.07)

Ties between the best positive and the best negative go to the negative, as in the
reference server (``pos > neg`` is required for the positive to win). The rule is
model-agnostic: it only sees a relevance matrix. :class:`TwoStage` is the rule object
(``classifier/rule.py``): the channels' relevances fused by a weighted mean, then this rule.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from screenstate.classifier.columns import ExampleColumns, Relevance
from screenstate.classifier.fusion import fuse

#: softmax temperature of the reference server
TEMPERATURE = 0.07


def _check_inputs(
    relevance: np.ndarray, example_class: np.ndarray, example_is_negative: np.ndarray, n_classes: int
) -> None:
    if relevance.ndim != 2:
        raise ValueError(f"relevance: expected shape [images, examples], got {tuple(relevance.shape)}")
    n_ex = relevance.shape[1]
    if example_class.shape != (n_ex,):
        raise ValueError(f"example_class: expected shape ({n_ex},), got {tuple(example_class.shape)}")
    if example_is_negative.shape != (n_ex,):
        raise ValueError(f"example_is_negative: expected shape ({n_ex},), got {tuple(example_is_negative.shape)}")
    if example_class.dtype != np.int64:
        raise ValueError(f"example_class: expected dtype int64, got {example_class.dtype}")
    if example_is_negative.dtype != np.bool_:
        raise ValueError(f"example_is_negative: expected dtype bool, got {example_is_negative.dtype}")
    if n_ex and (int(example_class.min()) < 0 or int(example_class.max()) >= n_classes):
        raise ValueError(f"example_class: values must be in [0, {n_classes}), got {example_class.tolist()}")
    has_pos = np.zeros(n_classes, dtype=np.bool_)
    has_pos[example_class[~example_is_negative]] = True
    if not bool(has_pos.all()):
        missing = np.flatnonzero(~has_pos).tolist()
        raise ValueError(f"classes {missing} have no positive example column")


def class_max(values: np.ndarray, example_class: np.ndarray, n_classes: int) -> np.ndarray:
    """Per image and class, the max of ``values`` (float [images, examples]) over the class's
    columns; -inf for a class with none (a scatter-max: columns sorted by class, then
    ``np.maximum.reduceat`` over each class's run).

    >>> class_max(np.array([[0.2, 0.9, 0.4]], np.float32), np.array([1, 0, 1]), 3)
    array([[ 0.9,  0.4, -inf]], dtype=float32)
    """
    out = np.full((values.shape[0], n_classes), -np.inf, dtype=values.dtype)
    if values.shape[1] == 0 or values.shape[0] == 0:
        return out
    order = np.argsort(example_class, kind="stable")
    sorted_cls = example_class[order]
    starts = np.flatnonzero(np.r_[True, sorted_cls[1:] != sorted_cls[:-1]])
    out[:, sorted_cls[starts]] = np.maximum.reduceat(values[:, order], starts, axis=1)
    return out


def two_stage_scores(
    relevance: np.ndarray,
    example_class: np.ndarray,
    example_is_negative: np.ndarray,
    n_classes: int,
) -> np.ndarray:
    """Raw per-class scores from a relevance matrix.

    Args:
        relevance: float [images, examples], each in [0, 1].
        example_class: int64 [examples], the class each example column belongs to.
        example_is_negative: bool [examples], True for examples_to_exclude.
        n_classes: number of classes.

    Returns:
        float32 [images, classes] raw scores in [0, 1].

    Example:
        >>> r = np.array([[0.7, 0.9, 0.6]], np.float32)            # 1 image, 3 examples
        >>> two_stage_scores(r, np.array([0, 0, 1]), np.array([False, True, False]), 2).round(4)
        array([[0.1, 0.6]], dtype=float32)
    """
    _check_inputs(relevance, example_class, example_is_negative, n_classes)
    best_pos, best_neg = best_positive_negative(
        np.asarray(relevance, dtype=np.float32), example_class, example_is_negative, n_classes
    )
    return np.where(best_pos > best_neg, best_pos, np.float32(1.0) - best_neg)


def best_positive_negative(
    relevance: np.ndarray, example_class: np.ndarray, example_is_negative: np.ndarray, n_classes: int
) -> tuple[np.ndarray, np.ndarray]:
    """Per row and class, the most relevant positive and the most relevant negative column,
    each float [rows, classes] (-inf where a class has none): the two halves of the rule,
    also what the detector's box suppression reads."""
    neg_mask = example_is_negative[None, :]
    minus_inf = np.float32(-np.inf)
    best_pos = class_max(np.where(neg_mask, minus_inf, relevance), example_class, n_classes)
    best_neg = class_max(np.where(~neg_mask, minus_inf, relevance), example_class, n_classes)
    return best_pos, best_neg


def softmax_scores(raw: np.ndarray, temperature: float = TEMPERATURE) -> np.ndarray:
    """Softmax over classes of raw scores / temperature (float32 [images, classes])."""
    x = np.asarray(raw, dtype=np.float32) / np.float32(temperature)
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def predict(
    raw: np.ndarray, min_scores: np.ndarray | None = None, min_margins: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Argmax class per image and whether it clears its class's ``min_score`` and leads
    the runner-up by its class's ``min_margin``.

    Args:
        raw: float [images, classes].
        min_scores: float [classes] (NaN = no threshold) or None.
        min_margins: float [classes] (NaN = none) or None.

    Returns:
        (int64 [images] argmax indices, bool [images] accepted).

    >>> predict(np.array([[0.8, 0.78], [0.8, 0.5]], np.float32), None, np.array([0.05, 0.05], np.float32))[1].tolist()
    [False, True]
    """
    idx = np.argmax(raw, axis=-1).astype(np.int64)
    best = np.take_along_axis(raw, idx[..., None], axis=-1)[..., 0]
    accepted = np.ones(idx.shape, dtype=np.bool_)
    if min_scores is not None:
        thr = np.asarray(min_scores, dtype=np.float32)[idx]
        accepted &= np.isnan(thr) | (best >= thr)
    if min_margins is not None and raw.shape[-1] > 1:
        lead = best - np.partition(raw, -2, axis=-1)[..., -2]
        need = np.asarray(min_margins, dtype=np.float32)[idx]
        accepted &= np.isnan(need) | (lead >= need)
    return idx, accepted


@dataclass(frozen=True, eq=False)
class TwoStage:
    """The two-stage rule on the weighted mean of the channels' relevances (class files
    without enough screenshot exemplars for the few-shot rule).

    >>> cols = ExampleColumns(np.array([0, 0, 1]), np.array([False, True, False]), np.zeros(3, dtype=bool), 2)
    >>> TwoStage(cols, ("text",)).scores({"text": np.array([[0.7, 0.9, 0.6]], np.float32)}).round(4)
    array([[0.1, 0.6]], dtype=float32)
    """

    columns: ExampleColumns
    #: the evidence it reads, in fusion order: the encoder's channels
    channels: tuple[str, ...]
    weights: Mapping[str, float] = field(default_factory=dict)
    #: no exemplars to learn "none of the above" from: only a class's own min_score
    min_score: float | None = None
    min_margin: float | None = None

    def column_view(self, relevance: Relevance) -> np.ndarray:
        """The fused relevance, float [images, examples] (``classifier/fusion.py``) of the
        rule's channels present in ``relevance``."""
        return fuse({k: relevance[k] for k in self.channels if k in relevance}, self.weights)

    def scores(self, relevance: Relevance) -> np.ndarray:
        """Raw class scores, float [images, classes]: :func:`two_stage_scores` of the fused relevance."""
        c = self.columns
        return two_stage_scores(self.column_view(relevance), c.example_class, c.is_negative, c.n_classes)
