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

import torch

from screenstate.classifier.columns import ExampleColumns, Relevance
from screenstate.classifier.fusion import fuse

#: softmax temperature of the reference server
TEMPERATURE = 0.07


def _check_inputs(
    relevance: torch.Tensor, example_class: torch.Tensor, example_is_negative: torch.Tensor, n_classes: int
) -> None:
    if relevance.dim() != 2:
        raise ValueError(f"relevance: expected shape [images, examples], got {tuple(relevance.shape)}")
    n_ex = relevance.shape[1]
    if example_class.shape != (n_ex,):
        raise ValueError(f"example_class: expected shape ({n_ex},), got {tuple(example_class.shape)}")
    if example_is_negative.shape != (n_ex,):
        raise ValueError(f"example_is_negative: expected shape ({n_ex},), got {tuple(example_is_negative.shape)}")
    if example_class.dtype != torch.long:
        raise ValueError(f"example_class: expected dtype torch.long, got {example_class.dtype}")
    if example_is_negative.dtype != torch.bool:
        raise ValueError(f"example_is_negative: expected dtype torch.bool, got {example_is_negative.dtype}")
    if n_ex and (int(example_class.min()) < 0 or int(example_class.max()) >= n_classes):
        raise ValueError(f"example_class: values must be in [0, {n_classes}), got {example_class.tolist()}")
    has_pos = torch.zeros(n_classes, dtype=torch.bool, device=example_class.device)
    has_pos[example_class[~example_is_negative]] = True
    if not bool(has_pos.all()):
        missing = torch.nonzero(~has_pos).flatten().tolist()
        raise ValueError(f"classes {missing} have no positive example column")


def two_stage_scores(
    relevance: torch.Tensor,
    example_class: torch.Tensor,
    example_is_negative: torch.Tensor,
    n_classes: int,
) -> torch.Tensor:
    """Raw per-class scores from a relevance matrix.

    Args:
        relevance: float [images, examples], each in [0, 1].
        example_class: long [examples], the class each example column belongs to.
        example_is_negative: bool [examples], True for examples_to_exclude.
        n_classes: number of classes.

    Returns:
        float [images, classes] raw scores in [0, 1].

    Example:
        >>> r = torch.tensor([[0.7, 0.9, 0.6]])            # 1 image, 3 examples
        >>> two_stage_scores(r, torch.tensor([0, 0, 1]), torch.tensor([False, True, False]), 2)
        tensor([[0.1000, 0.6000]])
    """
    _check_inputs(relevance, example_class, example_is_negative, n_classes)
    rel = relevance.float()
    n_images = rel.shape[0]
    index = example_class.to(rel.device).unsqueeze(0).expand(n_images, -1)
    neg_mask = example_is_negative.to(rel.device).unsqueeze(0)
    floor = torch.full((n_images, n_classes), float("-inf"), device=rel.device)
    best_pos = floor.scatter_reduce(
        1, index, rel.masked_fill(neg_mask, float("-inf")), reduce="amax", include_self=True
    )
    best_neg = floor.scatter_reduce(
        1, index, rel.masked_fill(~neg_mask, float("-inf")), reduce="amax", include_self=True
    )
    return torch.where(best_pos > best_neg, best_pos, 1.0 - best_neg)


def softmax_scores(raw: torch.Tensor, temperature: float = TEMPERATURE) -> torch.Tensor:
    """Softmax over classes of raw scores / temperature (float [images, classes])."""
    return torch.softmax(raw.float() / temperature, dim=-1)


def predict(
    raw: torch.Tensor, min_scores: torch.Tensor | None = None, min_margins: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Argmax class per image and whether it clears its class's ``min_score`` and leads
    the runner-up by its class's ``min_margin``.

    Args:
        raw: float [images, classes].
        min_scores: float [classes] (NaN = no threshold) or None.
        min_margins: float [classes] (NaN = none) or None.

    Returns:
        (long [images] argmax indices, bool [images] accepted).

    >>> predict(torch.tensor([[0.8, 0.78], [0.8, 0.5]]), None, torch.tensor([0.05, 0.05]))[1].tolist()
    [False, True]
    """
    best, idx = raw.max(dim=-1)
    accepted = torch.ones_like(idx, dtype=torch.bool)
    if min_scores is not None:
        thr = min_scores.to(raw.device, torch.float32)[idx]
        accepted &= torch.isnan(thr) | (best >= thr)
    if min_margins is not None and raw.shape[-1] > 1:
        lead = best - raw.topk(2, dim=-1).values[..., 1]
        need = min_margins.to(raw.device, torch.float32)[idx]
        accepted &= torch.isnan(need) | (lead >= need)
    return idx, accepted


@dataclass(frozen=True, eq=False)
class TwoStage:
    """The two-stage rule on the weighted mean of the channels' relevances (class files
    without enough screenshot exemplars for the few-shot rule).

    >>> cols = ExampleColumns(torch.tensor([0, 0, 1]), torch.tensor([False, True, False]), torch.zeros(3, dtype=torch.bool), 2)
    >>> TwoStage(cols, ("text",)).scores({"text": torch.tensor([[0.7, 0.9, 0.6]])})
    tensor([[0.1000, 0.6000]])
    """

    columns: ExampleColumns
    #: the evidence it reads, in fusion order: the encoder's channels
    channels: tuple[str, ...]
    weights: Mapping[str, float] = field(default_factory=dict)
    #: no exemplars to learn "none of the above" from: only a class's own min_score
    min_score: float | None = None
    min_margin: float | None = None

    def column_view(self, relevance: Relevance) -> torch.Tensor:
        """The fused relevance, float [images, examples] (``classifier/fusion.py``) of the
        rule's channels present in ``relevance``."""
        return fuse({k: relevance[k] for k in self.channels if k in relevance}, self.weights)

    def scores(self, relevance: Relevance) -> torch.Tensor:
        """Raw class scores, float [images, classes]: :func:`two_stage_scores` of the fused relevance."""
        c = self.columns
        return two_stage_scores(self.column_view(relevance), c.example_class, c.is_negative, c.n_classes)
