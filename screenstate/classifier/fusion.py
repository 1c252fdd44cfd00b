"""Fusion of evidence: one NaN-skipping weighted mean, and the fused relevance of channels.

Every channel is calibrated so 0.5 means "unrelated" and 1 "matches", so a weighted mean
keeps that scale, and one channel's confident match is damped, not vetoed, by another's
silence. A term that is NaN (no opinion: the ``visual`` channel on a text example) is left
out of that entry's mean; an entry no term scores gets ``empty``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import torch


def weighted_mean(terms: Iterable[tuple[float, torch.Tensor]], like: torch.Tensor, empty: float) -> torch.Tensor:
    """``sum_k w_k x_k / sum_k w_k`` entry by entry over the (weight, tensor) ``terms``,
    skipping NaN entries; ``empty`` where no term has a value. ``like``: shape and dtype.

    >>> nan = float("nan")
    >>> weighted_mean([(1.0, torch.tensor([0.2, nan])), (3.0, torch.tensor([0.6, nan]))], torch.zeros(2), 0.0)
    tensor([0.5000, 0.0000])
    """
    num = torch.zeros_like(like)
    den = torch.zeros_like(like)
    for w, x in terms:
        has = ~torch.isnan(x)
        num = num + torch.where(has, w * x, 0.0)
        den = den + has * w
    return torch.where(den > 0, num / den.clamp(min=1e-12), empty)


def fuse(relevances: Mapping[str, torch.Tensor], weights: Mapping[str, float] | None = None) -> torch.Tensor:
    """Weighted mean of channel relevance matrices (missing weights count 1); an example no
    channel scores gets 0.

    >>> fuse({"clip": torch.tensor([[0.6]]), "text": torch.tensor([[0.9]])})
    tensor([[0.7500]])
    >>> fuse({"visual": torch.tensor([[float("nan"), 0.8]]), "text": torch.tensor([[0.9, 0.6]])})
    tensor([[0.9000, 0.7000]])
    """
    if not relevances:
        raise ValueError("fuse: at least one channel relevance is required")
    weights = weights or {}
    shapes = {tuple(r.shape) for r in relevances.values()}
    if len(shapes) != 1:
        raise ValueError(
            f"fuse: channel relevance shapes differ: { {k: tuple(v.shape) for k, v in relevances.items()} }"
        )
    if sum(weights.get(k, 1.0) for k in relevances) <= 0:
        raise ValueError(f"fuse: weights must sum to a positive number, got {dict(weights)}")
    first = next(iter(relevances.values()))
    return weighted_mean(((weights.get(k, 1.0), r) for k, r in relevances.items()), first, 0.0)
