"""What a classify_directory run produced: one :class:`FrameRow` per input frame, always,
and the run's :class:`JobSummary`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from screenstate.recordings.listing import printable
from screenstate.results import ClassificationResult


@dataclass(frozen=True)
class FrameRow:
    """One output row (one per input frame, always)."""

    path: str
    label: str | None
    content_hash: str | None
    result: ClassificationResult | None
    error: str | None

    @property
    def predicted(self) -> str | None:
        return None if self.result is None else self.result.pred


@dataclass
class JobSummary:
    """What a run did."""

    n_frames: int
    n_distinct: int
    n_errors: int
    encoded: int
    cached: int
    seconds: float
    layout: str
    metrics: dict[str, Any] | None
    rows: list[FrameRow]
    outputs: list[str]
    #: Ray node ids that encoded frames in this run (empty when everything came from the cache)
    encode_nodes: tuple[str, ...] = ()
    #: directory entries that were not read, each with the reason (also logged as warnings)
    skipped: list[str] = field(default_factory=list)

    @property
    def frames_per_second(self) -> float:
        return self.n_frames / self.seconds if self.seconds > 0 else 0.0

    def describe(self) -> str:
        lines = [
            f"{self.n_frames} frames ({self.layout}), {self.n_distinct} distinct, "
            f"{self.encoded} encoded, {self.cached} from cache, {self.n_errors} unreadable; "
            f"{self.seconds:.1f} s ({self.frames_per_second:.1f} frames/s)"
        ]
        for r in self.rows:
            if r.error:
                lines.append(f"  unreadable: {printable(r.path)}: {printable(r.error)}")
        lines += [f"  not read: {s}" for s in self.skipped]
        if self.metrics:
            lines.append(f"accuracy {self.metrics['accuracy']:.3f} on {self.metrics['n']} frames")
            for name, m in self.metrics["per_class"].items():
                lines.append(
                    f"  {name:24s} P {m['precision']:.2f}  R {m['recall']:.2f}  F1 {m['f1']:.2f}  n {m['support']}"
                )
        lines += [f"wrote {o}" for o in self.outputs]
        return "\n".join(lines)
