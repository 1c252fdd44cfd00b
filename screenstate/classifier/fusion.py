"""Fusion of evidence: one NaN-skipping weighted mean, and the fused relevance of channels.

Every channel is calibrated so 0.5 means "unrelated" and 1 "matches", so a weighted mean
keeps that scale, and one channel's confident match is damped, not vetoed, by another's
silence. A term that is NaN (no opinion: the ``visual`` channel on a text example) is left
out of that entry's mean; an entry no term scores gets ``empty``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np


def weighted_mean(terms: Iterable[tuple[float, np.ndarray]], like: np.ndarray, empty: float) -> np.ndarray:
    """``sum_k w_k x_k / sum_k w_k`` entry by entry over the (weight, array) ``terms``,
    skipping NaN entries; ``empty`` where no term has a value. ``like``: shape and dtype
    (float32 throughout, as the channels' relevance).

    >>> nan = float("nan")
    >>> weighted_mean([(1.0, np.array([0.2, nan], np.float32)), (3.0, np.array([0.6, nan], np.float32))], np.zeros(2, np.float32), 0.0)
    array([0.5, 0. ], dtype=float32)
    """
    dtype = like.dtype
    num = np.zeros_like(like)
    den = np.zeros_like(like)
    for w, x in terms:
        has = ~np.isnan(x)
        wd = dtype.type(w)
        num = num + np.where(has, wd * x, dtype.type(0.0))
        den = den + has.astype(dtype) * wd
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.maximum(den, dtype.type(1e-12)), dtype.type(empty)).astype(dtype, copy=False)


def fuse(relevances: Mapping[str, np.ndarray], weights: Mapping[str, float] | None = None) -> np.ndarray:
    """Weighted mean of channel relevance matrices (missing weights count 1); an example no
    channel scores gets 0.

    >>> fuse({"clip": np.array([[0.6]], np.float32), "text": np.array([[0.9]], np.float32)})
    array([[0.75]], dtype=float32)
    >>> fuse({"visual": np.array([[np.nan, 0.8]], np.float32), "text": np.array([[0.9, 0.6]], np.float32)}).round(4)
    array([[0.9, 0.7]], dtype=float32)
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
