"""Whether a VLM candidate precision answers like fp32: the calibration prompts and the check.

Two criteria, either one keeps a candidate (the issue's "same generated tokens on a fixed
set of prompts, or logits within a stated tolerance"):

1. **tokens**: greedy decoding gives exactly fp32's tokens on every calibration prompt;
2. **logits**: fed fp32's own tokens (teacher forcing, so one early difference cannot
   snowball), the candidate's logits at every generated position stay within
   ``LOGIT_TOLERANCE`` x the spread (standard deviation over the vocabulary) of fp32's
   logits at that position, and its top-1 token is fp32's wherever fp32's top-1 margin
   exceeds that same allowed error.

Tokens alone are a poor test where logits are near-flat (random weights at real size: the
top two logits differ by less than bf16's rounding, so any rounding flips a token that no
trained model would be unsure of); logits alone would let a candidate that changes a
confident answer through, hence the top-1 rule. The error is measured relative to the
spread so one tolerance holds for any weight scale (docs/CONSTANTS.md has its history).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

#: calibration prompts: (text tokens before the image, text tokens after, seed); one tile each
CALIBRATION_PROMPTS = ((12, 9, 0), (5, 14, 1), (20, 6, 2))
#: tokens generated per calibration prompt
CALIBRATION_TOKENS = 8
#: allowed max |logit - fp32 logit| at a position, in units of fp32's logit spread there
#: (standard deviation over the vocabulary); see docs/CONSTANTS.md
LOGIT_TOLERANCE = 0.25


@dataclass(frozen=True)
class Scored:
    """Generated (or forced) tokens and the logits [steps, vocab] that chose each one."""

    tokens: tuple[int, ...]
    logits: np.ndarray


@dataclass(frozen=True)
class LogitCheck:
    """One prompt compared with fp32: worst error (relative to the spread), confident
    positions and how many keep fp32's top-1, and whether the greedy tokens are equal."""

    max_rel_error: float
    confident: int
    confident_top1: int
    tokens_equal: bool

    @property
    def within(self) -> bool:
        """Logits within ``LOGIT_TOLERANCE`` and top-1 kept at every confident position."""
        return self.max_rel_error <= LOGIT_TOLERANCE and self.confident_top1 == self.confident

    @property
    def ok(self) -> bool:
        return self.tokens_equal or self.within


def check(reference: Scored, other: Scored) -> LogitCheck:
    """Compare ``other`` (run on ``reference``'s tokens) with fp32's ``reference``.

    >>> ref = Scored((0, 1), np.array([[3.0, 0.0, 0.0], [0.0, 0.1, 0.0]]))
    >>> check(ref, Scored((0, 1), ref.logits + 0.01)).ok
    True
    >>> check(ref, Scored((0, 0), np.array([[3.0, 0.0, 0.0], [0.1, 0.0, 0.0]]))).within  # 0.1/0.05
    False
    """
    n = min(len(reference.tokens), len(other.logits), len(reference.logits))
    r = reference.logits[:n].astype(np.float64)
    o = other.logits[:n].astype(np.float64)
    if n == 0:
        return LogitCheck(0.0, 0, 0, tuple(other.tokens) == tuple(reference.tokens))
    spread = np.maximum(r.std(axis=1), np.finfo(np.float32).tiny)
    err = np.abs(o - r).max(axis=1)
    top2 = np.sort(r, axis=1)[:, -2:]
    confident = (top2[:, 1] - top2[:, 0]) > LOGIT_TOLERANCE * spread
    same = o.argmax(axis=1) == r.argmax(axis=1)
    forced = tuple(int(t) for t in o.argmax(axis=1))
    return LogitCheck(
        float((err / spread).max()),
        int(confident.sum()),
        int((confident & same).sum()),
        forced == tuple(reference.tokens[:n]) and len(other.tokens) == len(reference.tokens),
    )


def agreement(reference: Sequence[Scored], others: Sequence[Scored]) -> float:
    """Fraction of calibration prompts on which ``others`` passes (tokens or logits)."""
    return sum(check(r, o).ok for r, o in zip(reference, others)) / max(1, len(reference))


def calibration_inputs(image_token_id: int, tile: int, vocab: int, seq_len: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """The fixed prompt set: text tokens around one tile's image tokens, and a smooth
    deterministic tile (gradients and bars, in the processor's [-1, 1] range)."""
    out = []
    yy, xx = np.mgrid[0:tile, 0:tile] / tile
    for before, after, seed in CALIBRATION_PROMPTS:
        rng = np.random.default_rng(seed)
        text = rng.integers(1000, min(vocab, 20000), before + after)
        ids = np.concatenate([text[:before], np.full(seq_len, image_token_id), text[before:]])[None]
        bars = (np.sin(2 * np.pi * (seed + 2) * yy) > 0.6).astype(np.float64)
        img = np.stack([xx, yy, bars * (0.5 + 0.5 * xx)]) * 2 - 1
        out.append((ids.astype(np.int64), img[None, None].astype(np.float32)))
    return out
