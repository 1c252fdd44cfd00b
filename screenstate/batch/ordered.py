"""classify_directory for ordered recordings: a video, an OpenAdapt capture, an
openadapt-flow recording, or a flat image folder with ``--gate on``.

Frames go through the change gate in order; rows are the one :class:`FrameRow` type and
go to the one writer (``batch/outputs.py``) the parallel folder path uses too. Functions
take ``(config, classifier)``, not the job, so nothing here imports ``batch/job.py``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

from screenstate.batch.config import JobConfig
from screenstate.batch.outputs import job_accuracy, job_metrics, with_labels_csv, write_outputs
from screenstate.batch.sequence import (
    GatedChunk,
    SequenceOptions,
    folder_items,
    folder_rows,
    gate_context,
    gate_items,
    gate_video,
    source_items,
    source_rows,
    video_rows,
)
from screenstate.batch.summary import FrameRow, JobSummary
from screenstate.embeddings.gating import GateOptions
from screenstate.errors import ScreenstateError
from screenstate.hashing import file_hash
from screenstate.recordings.frame import Frame, FrameSource
from screenstate.recordings.video import VideoFile

if TYPE_CHECKING:
    from screenstate.classify import ScreenClassifier

log = logging.getLogger("screenstate")


def _gate_options(seq: SequenceOptions, video: bool) -> GateOptions | None:
    if seq.gate == "off":
        return None
    if seq.gate_options is not None:
        return seq.gate_options
    return GateOptions.for_video() if video else GateOptions.exact()


def run_video(cfg: JobConfig, clf: ScreenClassifier, source: VideoFile) -> JobSummary:
    """Classify every (sampled) frame of a video (probed once, when it was opened); see the
    module docstring. A video whose declared frame size is over ``--max-pixels`` is not
    decoded: each of its frames is an error row."""

    seq: SequenceOptions = cfg.sequence
    t0 = time.perf_counter()
    if cfg.eval_only:
        raise ScreenstateError(f"--eval_only needs the labeled layout ROOT/<label>/*; {cfg.root} is a video")
    video, info = source.path, source.info
    if source.too_big:
        rows = [FrameRow(str(video), error=f.error, frame_index=f.index, time_s=f.time_s) for f in source.frames()]
        return _finish(cfg, clf, rows, [], "video", t0)
    vhash = file_hash(video)
    gate = _gate_options(seq, video=True)
    thumbs = cfg.report is not None
    from screenstate.batch.video_ranges import plan_ranges, run_ranges

    ranges = plan_ranges(video, info, seq.video_ranges, cfg.ray_address)
    if len(ranges) > 1:
        chunks = run_ranges(cfg, video, ranges, gate, vhash, thumbs)
    else:
        chunks = [gate_video(clf, video, gate, fps=seq.fps, video_hash=vhash, thumbs=thumbs)]
    rows = video_rows(video, chunks, clf)
    return _finish(cfg, clf, rows, chunks, "video", t0, n_ranges=len(ranges))


def run_source(cfg: JobConfig, clf: ScreenClassifier, source: FrameSource) -> JobSummary:
    """A recording whose frames come from the recordings layer (OpenAdapt captures,
    openadapt-flow recordings): its frames in order through the change gate, one row each."""
    t0 = time.perf_counter()
    if cfg.eval_only:
        raise ScreenstateError(
            f"--eval_only needs the labeled layout ROOT/<label>/*; {cfg.root} is a {source.kind} recording"
        )
    for note in source.notes:
        log.warning("%s: %s", cfg.root, note)
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
    summary = _finish(cfg, clf, rows, [chunk], source.layout, t0)
    if cfg.actions is not None:
        from screenstate.batch.actions import write_actions

        summary.outputs.append(write_actions(cfg.actions, source.actions(), rows, cfg.none_label))
    return summary


def run_gated_folder(cfg: JobConfig, clf: ScreenClassifier, frames: list[Frame]) -> JobSummary:
    """A flat image folder in natural order through the change gate."""
    t0 = time.perf_counter()
    paths = [f.file for f in frames]
    gate = _gate_options(cfg.sequence, video=False)
    chunk = gate_items(clf, folder_items(clf, paths), gate, thumbs=False, store_partial=False)
    rows = with_labels_csv(folder_rows(paths, chunk, clf), cfg.root)
    return _finish(cfg, clf, rows, [chunk], "flat", t0)


def _finish(
    cfg: JobConfig,
    clf: ScreenClassifier,
    rows: list[FrameRow],
    chunks: list[GatedChunk],
    layout: str,
    t0: float,
    n_ranges: int = 1,
) -> JobSummary:

    counts: dict[str, int] = {}
    for c in chunks:
        for k, v in c.counts.items():
            counts[k] = counts.get(k, 0) + v
    labeled = any(r.label is not None for r in rows)
    metrics = job_metrics(rows, clf.names, cfg.none_label) if labeled else None
    accuracy = job_accuracy(rows, cfg.none_label)
    outputs = write_outputs(cfg, rows, layout, metrics, clf.names, accuracy)
    summary = JobSummary(
        n_frames=len(rows),
        n_distinct=sum(len(c.features) for c in chunks),
        n_errors=sum(r.error is not None for r in rows),
        encoded=counts.get("full", 0) + counts.get("partial", 0),
        cached=counts.get("cached", 0),
        seconds=time.perf_counter() - t0,
        layout=layout,
        metrics=metrics,
        accuracy=accuracy,
        rows=rows,
        outputs=outputs,
    )
    log.info("gating: %s over %d range(s)", ", ".join(f"{v} {k}" for k, v in sorted(counts.items())), n_ranges)
    return summary
