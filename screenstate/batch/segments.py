"""State segments: runs of one state over an ordered recording, written as CSV.

    segs = find_segments(states, times, scores, min_duration_s=0.0)
    write_segments("seg.csv", segs)     # state,start_s,end_s,start_frame,end_frame,frames,mean_score

``start_s`` is the first frame's time and ``end_s`` the time the next segment starts (for
the last one, its last frame's time plus the median frame interval), so segments tile
the recording. Image folders have no times: those columns are empty and the frame indices
say where a segment is. ``mean_score`` is the mean softmax score of the segment's state
over its frames (empty for unreadable frames).

Temporal rule (``min_duration_s``, or ``min_frames`` for image folders): a state must last
the minimum to start a segment; a shorter run is taken to be the state before it (so one
misread frame, or a transition frame read as a third state, does not split a segment;
boundaries move by at most the minimum). Unreadable runs are never absorbed and never
absorb. Off by default: measured by ``python benchmarks/run.py segment_rule``.
"""

from __future__ import annotations

import csv
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from screenstate.atomic import atomic_open

#: the state name of an unreadable frame in segments
ERROR_STATE = "<unreadable>"


@dataclass(frozen=True)
class Segment:
    """One run of one state; frames are 0-based row indices, ``end_frame`` inclusive."""

    state: str
    start_s: float | None
    end_s: float | None
    start_frame: int
    end_frame: int
    frames: int
    mean_score: float | None
    index: int = 0  # position among the recording's segments

    def __post_init__(self) -> None:
        if self.end_frame < self.start_frame or self.frames < 1:
            raise ValueError(f"segment frames must be a non-empty range, got {self}")

    # the review page's names for the same things (one Segment type for batch, report and page)
    @property
    def start(self) -> int:
        return self.start_frame

    @property
    def end(self) -> int:
        return self.end_frame

    @property
    def n_frames(self) -> int:
        return self.frames


def _runs(states: Sequence[str]) -> list[tuple[int, int]]:
    """[start, end) index pairs of equal consecutive states."""
    out, start = [], 0
    for i in range(1, len(states) + 1):
        if i == len(states) or states[i] != states[start]:
            out.append((start, i))
            start = i
    return out


def smooth(
    states: Sequence[str],
    times: Sequence[float | None],
    min_duration_s: float = 0.0,
    min_frames: int = 0,
) -> list[str]:
    """States with runs shorter than the minimum taken to be the state before them (the
    state after them for a short first run); unreadable runs and the last run (the
    recording may end while it lasts) are kept as they are."""
    out = list(states)
    if not out or (min_duration_s <= 0 and min_frames <= 1):
        return out

    def short(a: int, b: int) -> bool:
        if b - a < min_frames:
            return True
        t0, t1 = times[a], times[b]
        return min_duration_s > 0 and t0 is not None and t1 is not None and t1 - t0 < min_duration_s

    changed = True
    while changed:
        changed = False
        runs = _runs(out)
        if len(runs) < 2:
            break
        for k, (a, b) in enumerate(runs):
            if k == len(runs) - 1 or out[a] == ERROR_STATE or not short(a, b):
                continue
            k2 = k - 1 if k > 0 else k + 1
            target = out[runs[k2][0]]
            if target == ERROR_STATE:
                continue
            out[a:b] = [target] * (b - a)
            changed = True
            break
    return out


def find_segments(
    states: Sequence[str],
    times: Sequence[float | None],
    scores: Sequence[float | None],
    frame_indices: Sequence[int] | None = None,
    min_duration_s: float = 0.0,
    min_frames: int = 0,
) -> list[Segment]:
    """Segments of an ordered sequence (one entry per row; see the module docstring)."""
    if not (len(states) == len(times) == len(scores)):
        raise ValueError(f"states, times and scores differ in length: {len(states)}, {len(times)}, {len(scores)}")
    idx = list(frame_indices) if frame_indices is not None else list(range(len(states)))
    labels = smooth(states, times, min_duration_s, min_frames)
    known = [t for t in times if t is not None]
    gaps = [b - a for a, b in zip(known, known[1:]) if b > a]
    step = statistics.median(gaps) if gaps else 0.0
    out: list[Segment] = []
    for s, e in _runs(labels):
        t0 = times[s]
        last = times[e - 1]
        t1 = times[e] if e < len(times) else (last + step if last is not None else None)
        vals = [v for v in scores[s:e] if v is not None]
        out.append(
            Segment(
                state=labels[s],
                start_s=t0,
                end_s=t1,
                start_frame=idx[s],
                end_frame=idx[e - 1],
                frames=e - s,
                mean_score=sum(vals) / len(vals) if vals else None,
                index=len(out),
            )
        )
    return out


HEADER = ("state", "start_s", "end_s", "start_frame", "end_frame", "frames", "mean_score")


def _fmt(v: float | None, digits: int) -> str:
    return "" if v is None else f"{v:.{digits}f}"


def segment_lines(segments: Sequence[Segment]) -> list[list[str]]:
    """CSV rows (with the header first)."""
    rows = [list(HEADER)]
    for g in segments:
        rows.append(
            [
                g.state,
                _fmt(g.start_s, 3),
                _fmt(g.end_s, 3),
                str(g.start_frame),
                str(g.end_frame),
                str(g.frames),
                _fmt(g.mean_score, 4),
            ]
        )
    return rows


def write_segments(path: str | Path, segments: Sequence[Segment]) -> None:
    """Write the segments CSV atomically."""
    with atomic_open(path, "w") as f:
        csv.writer(f).writerows(segment_lines(segments))
