"""Result objects: small, frozen, validated on creation, with stable field names."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class ClassificationResult:
    """The class of one image.

    ``pred`` is the best class (the reference server's field); ``state`` is ``pred`` when
    it clears its ``min_score`` and ``None`` otherwise ("none of the above").
    ``scores`` are softmax probabilities (T = 0.07), ``raw_scores`` the two-stage raw
    scores in [0, 1]; both keyed by class name in class-file order. ``pinned``: the state
    comes from a pin of the class file (a corrected screenshot this one near-duplicates,
    ``classifier/pins.py``), not from the scores.
    """

    pred: str
    scores: dict[str, float]
    raw_scores: dict[str, float]
    state: str | None = None
    source: str = ""
    channels: tuple[str, ...] = field(default_factory=tuple)
    pinned: bool = False

    def __post_init__(self) -> None:
        if list(self.scores) != list(self.raw_scores):
            raise ValueError(
                f"scores and raw_scores must have the same classes, got {list(self.scores)} vs {list(self.raw_scores)}"
            )
        if self.pred not in self.scores:
            raise ValueError(f"pred {self.pred!r} is not one of the classes {list(self.scores)}")
        if self.state is not None and self.state != self.pred:
            raise ValueError(f"state must be None or equal pred ({self.pred!r}), got {self.state!r}")
        for k, v in self.raw_scores.items():
            if not (math.isfinite(v) and -1e-6 <= v <= 1 + 1e-6):
                raise ValueError(f"raw_scores[{k!r}] must be in [0, 1], got {v}")

    @property
    def confidence(self) -> float:
        """Softmax score of the predicted class."""
        return self.scores[self.pred]

    @property
    def margin(self) -> float:
        """Raw-score gap between the best and the second-best class (inf with one class):
        how near a tie the decision is (the checker and ordered batch jobs confirm near-ties)."""
        top = sorted(self.raw_scores.values(), reverse=True)
        return top[0] - top[1] if len(top) > 1 else float("inf")

    def top(self, k: int = 3) -> list[tuple[str, float]]:
        """The k best classes by raw score, best first."""
        return sorted(self.raw_scores.items(), key=lambda kv: -kv[1])[:k]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (the reference server's response fields plus ours)."""
        d = asdict(self)
        d["channels"] = list(self.channels)
        return d
