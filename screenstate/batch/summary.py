"""What a classify_directory run produced: one :class:`FrameRow` per input frame, always,
and the run's :class:`JobSummary`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from screenstate.batch.metrics import LabelAccuracy
from screenstate.recordings.listing import printable
from screenstate.results import ClassificationResult


@dataclass(frozen=True)
class FrameRow:
    """One output row: one per input frame, always (a video's run of lost frames is one row).

    Every kind of recording fills what it knows: ``label`` (labeled layout), ``frame_index``
    and ``time_s`` (ordered recordings), ``source_ordinal`` and Unix ``timestamp``
    (captures); ``how`` (full | partial | reused | cached), ``thumb`` (a JPEG data URI taken
    while decoding) and ``feature_id`` (index into its gated chunk's features) come from the
    change gate; ``key`` is the frame's source key when ``path`` is not a file of its own."""

    path: str
    label: str | None = None
    content_hash: str | None = None
    result: ClassificationResult | None = None
    error: str | None = None
    frame_index: int | None = None
    time_s: float | None = None
    how: str | None = None
    thumb: str | None = None
    feature_id: int = -1
    source_ordinal: int | None = None
    timestamp: float | None = None
    key: str | None = None

    @property
    def predicted(self) -> str | None:
        return None if self.result is None else self.result.pred

    @property
    def from_file(self) -> bool:
        """Whether ``path`` is a file holding just this row's frame (a report may open it)."""
        return self.key is None and self.time_s is None


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
    #: against the labels (labeled layout or ``ROOT/labels.csv``); None without labels
    accuracy: LabelAccuracy | None = None
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
        if self.accuracy is not None:
            lines.append(self.accuracy.describe())
            lines += [f"  wrong: {printable(f)}: {y} -> {got}" for f, y, got in self.accuracy.wrong[:20]]
        if self.metrics:
            lines.append("per class (precision, recall, F1, labeled frames):")
            for name, m in self.metrics["per_class"].items():
                lines.append(
                    f"  {name:24s} P {m['precision']:.2f}  R {m['recall']:.2f}  F1 {m['f1']:.2f}  n {m['support']}"
                )
        lines += [f"wrote {o}" for o in self.outputs]
        return "\n".join(lines)
