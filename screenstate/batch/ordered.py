"""classify_directory for ordered recordings: a video, or a flat image folder with gating.

Called by :class:`~screenstate.batch.job.BatchJob` when ``--root`` is a video (or a
directory holding one, such as an OpenAdapt capture) or when ``--gate on`` is given for a
flat folder. Writes the same outputs as the folder path (CSV, scores, report) plus
``--segments``; video rows carry ``frame_index`` and ``time_s``.
"""

from __future__ import annotations

import csv
import logging
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from screenstate.atomic import atomic_open, atomic_write
from screenstate.batch.outputs import write_scores
from screenstate.batch.segments import ERROR_STATE, find_segments, write_segments
from screenstate.batch.sequence import (
    GatedChunk,
    SequenceOptions,
    SequenceRow,
    folder_items,
    folder_rows,
    gate_context,
    gate_items,
    gate_video,
    source_items,
    source_rows,
    video_rows,
)
from screenstate.embeddings.gating import GateOptions
from screenstate.errors import ScreenstateError
from screenstate.hashing import file_hash
from screenstate.recordings.decode import probe_video
from screenstate.recordings.frame import Frame, FrameSource
from screenstate.recordings.listing import printable

if TYPE_CHECKING:
    from screenstate.batch.job import BatchJob, JobSummary

log = logging.getLogger("screenstate")


def _gate_options(seq: SequenceOptions, video: bool) -> GateOptions | None:
    if seq.gate == "off":
        return None
    if seq.gate_options is not None:
        return seq.gate_options
    return GateOptions.for_video() if video else GateOptions.exact()


def run_video(job: BatchJob, video: Path) -> JobSummary:
    """Classify every (sampled) frame of ``video``; see the module docstring."""

    cfg = job.config
    seq: SequenceOptions = cfg.sequence
    t0 = time.perf_counter()
    if cfg.eval_only:
        raise ScreenstateError(f"--eval_only needs the labeled layout ROOT/<label>/*; {cfg.root} is a video")
    info = probe_video(video)  # a bad file fails here, before the models are waited for
    vhash = file_hash(video)
    clf = job.classifier
    gate = _gate_options(seq, video=True)
    thumbs = cfg.report is not None
    from screenstate.batch.video_ranges import plan_ranges, run_ranges

    ranges = plan_ranges(video, info, seq.video_ranges, cfg.ray_address)
    if len(ranges) > 1:
        chunks = run_ranges(job, video, ranges, gate, vhash, thumbs)
    else:
        chunks = [gate_video(clf, video, gate, fps=seq.fps, video_hash=vhash, thumbs=thumbs)]
    rows = video_rows(video, chunks, clf)
    return _finish(job, rows, chunks, "video", t0, n_ranges=len(ranges))


def run_source(job: BatchJob, source: FrameSource) -> JobSummary:
    """A recording whose frames come from the recordings layer (OpenAdapt captures,
    openadapt-flow recordings): its frames in order through the change gate, one row each."""
    cfg = job.config
    t0 = time.perf_counter()
    if cfg.eval_only:
        raise ScreenstateError(
            f"--eval_only needs the labeled layout ROOT/<label>/*; {cfg.root} is a {source.kind} recording"
        )
    for note in source.notes:
        log.warning("%s: %s", cfg.root, note)
    clf = job.classifier
    gate = _gate_options(cfg.sequence, video=True)
    video = getattr(source, "video", None)
    context = gate_context(gate, None, 0.0) + (f":{file_hash(video)}" if video is not None else "")
    frames: list[Frame] = []

    def counted() -> Iterator[Frame]:
        for f in source.frames():
            frames.append(f)
            yield f

    chunk = gate_items(clf, source_items(clf, counted(), context), gate, thumbs=cfg.report is not None)
    rows = source_rows(frames, chunk, clf)
    summary = _finish(job, rows, [chunk], source.layout, t0)
    if cfg.actions is not None:
        from screenstate.batch.actions import write_actions

        summary.outputs.append(write_actions(cfg.actions, source.actions(), rows, cfg.none_label))
    return summary


def run_gated_folder(job: BatchJob, frames: list[Frame]) -> JobSummary:
    """A flat image folder in natural order through the change gate."""
    cfg = job.config
    t0 = time.perf_counter()
    clf = job.classifier
    paths = [f.file for f in frames]
    gate = _gate_options(cfg.sequence, video=False)
    chunk = gate_items(clf, folder_items(clf, paths), gate, thumbs=False, store_partial=False)
    rows = folder_rows(paths, chunk, clf)
    return _finish(job, rows, [chunk], "flat", t0)


def _finish(
    job: BatchJob, rows: list[SequenceRow], chunks: list[GatedChunk], layout: str, t0: float, n_ranges: int = 1
) -> JobSummary:
    from screenstate.batch.job import JobSummary

    counts: dict[str, int] = {}
    for c in chunks:
        for k, v in c.counts.items():
            counts[k] = counts.get(k, 0) + v
    outputs = write_outputs(job, rows, layout)
    summary = JobSummary(
        n_frames=len(rows),
        n_distinct=sum(len(c.features) for c in chunks),
        n_errors=sum(r.error is not None for r in rows),
        encoded=counts.get("full", 0) + counts.get("partial", 0),
        cached=counts.get("cached", 0),
        seconds=time.perf_counter() - t0,
        layout=layout,
        metrics=None,
        rows=rows,  # type: ignore[arg-type]
        outputs=outputs,
    )
    log.info("gating: %s over %d range(s)", ", ".join(f"{v} {k}" for k, v in sorted(counts.items())), n_ranges)
    summary.gate_counts = counts  # type: ignore[attr-defined]
    return summary


def write_folder_segments(job: BatchJob, rows: Sequence[Any], layout: str) -> str:
    """--segments for the parallel folder path (frame order; no times)."""
    if layout != "flat":
        raise ScreenstateError("--segments needs an ordered recording (a video or a flat folder), not ROOT/<label>/*")
    path = job.config.sequence.segments
    assert path is not None
    write_segments(path, segments_of(rows, job.config.sequence, job.config.none_label))
    return str(path)


def row_state(row: Any, none_label: str) -> str:
    if row.result is None:
        return ERROR_STATE
    return row.result.state or none_label


def segments_of(rows: Sequence[Any], seq: SequenceOptions, none_label: str) -> list[Any]:
    """Segments of ordered rows (``SequenceRow`` or the folder path's ``FrameRow``) with
    the configured temporal rule."""
    return find_segments(
        [row_state(r, none_label) for r in rows],
        [getattr(r, "time_s", None) for r in rows],
        [r.result.confidence if r.result is not None else None for r in rows],
        frame_indices=[getattr(r, "frame_index", i) for i, r in enumerate(rows)],
        min_duration_s=seq.min_segment_s,
        min_frames=seq.min_segment_frames,
    )


def write_outputs(job: BatchJob, rows: list[SequenceRow], layout: str) -> list[str]:
    """CSV, scores, segments and report of an ordered run (written atomically)."""
    cfg = job.config
    video = layout == "video"
    capture = layout == "capture"
    written: list[str] = []
    if cfg.output is not None:
        header = ["path", "frame_index", "time_s"] if video or capture else ["path"]
        header += ["source_ordinal", "timestamp"] if capture else []
        header += ["pred", "state", "error"]
        with atomic_open(cfg.output, "w") as f:
            w = csv.writer(f)
            w.writerow(header)
            for r in rows:
                line = [printable(r.path)]
                if video or capture:
                    line += [str(r.frame_index), "" if r.time_s is None else f"{r.time_s:.3f}"]
                if capture:
                    ts = "" if r.timestamp is None else f"{r.timestamp:.6f}"
                    line += ["" if r.source_ordinal is None else str(r.source_ordinal), ts]
                line += [r.result.pred if r.result else "", (r.result.state or "") if r.result else ""]
                w.writerow(line + [printable(r.error or "")])
        written.append(str(cfg.output))
    if cfg.scores_file is not None:
        write_scores(cfg.scores_file, rows, job.classifier.names)
        written.append(str(cfg.scores_file))
    segs = segments_of(rows, cfg.sequence, cfg.none_label)
    if cfg.sequence.segments is not None:
        write_segments(cfg.sequence.segments, segs)
        written.append(str(cfg.sequence.segments))
    if cfg.report is not None:
        from screenstate.batch.report import render_report

        html = render_report(rows, layout, None, job.classifier.names, cfg.none_label, segments=segs)
        atomic_write(cfg.report, html)
        written.append(str(cfg.report))
    return written
