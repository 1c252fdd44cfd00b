"""What a classify_directory run writes: the CSV, every class score (JSON lines or
Parquet), the metrics JSON and the HTML report, each written atomically. Non-UTF-8 file
names and labels are written with backslash escapes."""

from __future__ import annotations

import csv
import json
import logging
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path, PurePath
from typing import Any

from screenstate.atomic import atomic_open, atomic_path, atomic_write
from screenstate.batch.config import JobConfig
from screenstate.batch.metrics import LabelAccuracy, evaluate, read_labels_csv, score_labels
from screenstate.batch.segments import ERROR_STATE, Segment, find_segments, write_segments
from screenstate.batch.sequence import SequenceOptions
from screenstate.batch.summary import FrameRow
from screenstate.errors import ScreenstateError
from screenstate.recordings.listing import printable

log = logging.getLogger(__name__)


def eval_pred(row: FrameRow, none_label: str) -> str:
    """The prediction a row is scored with: its state, ``none_label`` below min_score."""
    if row.result is None:
        return "<unreadable>"
    return row.result.state if row.result.state is not None else none_label


def job_metrics(rows: Sequence[FrameRow], names: list[str], none_label: str) -> dict[str, Any]:
    """Accuracy and per-class metrics of the labeled rows (plus the unreadable count)."""
    labeled = [r for r in rows if r.label is not None]
    m = evaluate([r.label or "" for r in labeled], [eval_pred(r, none_label) for r in labeled], names)
    m["unreadable"] = sum(r.error is not None for r in rows)
    return m


def with_labels_csv(rows: Sequence[FrameRow], root: Path | str) -> list[FrameRow]:
    """A flat folder's rows with the labels of ``ROOT/labels.csv`` (by file name; frames it
    does not name stay unlabeled); the rows unchanged without one, for another root, or
    when it cannot be read (a warning: the run's outputs are still written)."""
    if isinstance(root, str) and "://" in root or not Path(root).is_dir():
        return list(rows)
    try:
        labels = read_labels_csv(Path(root))
    except (ScreenstateError, OSError, UnicodeDecodeError, csv.Error) as e:  # outputs still written
        log.warning("not scored against labels: %s", e)
        return list(rows)
    if not labels:
        return list(rows)
    return [replace(r, label=labels.get(PurePath(r.path).name)) if r.label is None and r.from_file else r for r in rows]


def job_accuracy(rows: Sequence[FrameRow], none_label: str) -> LabelAccuracy | None:
    """The rows' states against their labels (``batch/metrics.py``); None when none has one."""
    return score_labels(
        [r.label for r in rows],
        [r.result.state if r.result is not None else None for r in rows],
        [PurePath(r.path).name for r in rows],
        none_label,
        [r.result is None for r in rows],
    )


def write_csv(path: Path, rows: Sequence[FrameRow], layout: str, none_label: str) -> None:
    """One line per row; the columns a layout knows: ``label,is_correct`` (labeled),
    ``frame_index,time_s`` (videos, captures), ``source_ordinal,timestamp`` (captures)."""
    labeled = layout == "labeled" or any(r.label is not None for r in rows)  # or ROOT/labels.csv
    timed, capture = layout in ("video", "capture"), layout == "capture"
    header = ["path"] + (["label"] if labeled else []) + (["frame_index", "time_s"] if timed else [])
    header += (["source_ordinal", "timestamp"] if capture else []) + ["pred"]
    header += (["is_correct"] if labeled else []) + ["state", "error"]
    with atomic_open(path, "w") as f:
        w = csv.writer(f)
        w.writerow(header)
        for r in rows:
            line = [printable(r.path)] + ([printable(r.label or "")] if labeled else [])
            if timed:
                line += [_opt(r.frame_index), "" if r.time_s is None else f"{r.time_s:.3f}"]
            if capture:
                line += [_opt(r.source_ordinal), "" if r.timestamp is None else f"{r.timestamp:.6f}"]
            line += [r.result.pred if r.result else ""]
            line += [str(eval_pred(r, none_label) == r.label)] if labeled else []
            w.writerow(line + [(r.result.state or "") if r.result else "", printable(r.error or "")])


def _opt(v: int | None) -> str:
    return "" if v is None else str(v)


def row_state(row: FrameRow, none_label: str) -> str:
    """A row's state on a timeline (``<unreadable>`` for errors, ``none_label`` below min_score)."""
    if row.result is None:
        return ERROR_STATE
    return row.result.state or none_label


def segments_of(rows: Sequence[FrameRow], seq: SequenceOptions, none_label: str) -> list[Segment]:
    """Segments of ordered rows with the configured temporal rule."""
    return find_segments(
        [row_state(r, none_label) for r in rows],
        [r.time_s for r in rows],
        [r.result.confidence if r.result is not None else None for r in rows],
        frame_indices=[r.frame_index if r.frame_index is not None else i for i, r in enumerate(rows)],
        min_duration_s=seq.min_segment_s,
        min_frames=seq.min_segment_frames,
    )


def write_scores(path: Path, rows: Sequence[Any], names: list[str], none_label: str = "unknown") -> None:
    """Every row's prediction and class scores, as ``.jsonl`` or ``.parquet`` (ordered
    recordings' rows add where each row is in the recording). Rows with a label (labeled
    layout, ``ROOT/labels.csv``) add ``correct``, scored as the run's accuracy is."""
    extra = [
        k
        for k in ("frame_index", "time_s", "source_ordinal", "timestamp")
        if any(getattr(r, k) is not None for r in rows)
    ]
    labeled = any(r.label is not None for r in rows)
    records: list[dict[str, Any]] = [
        {
            "path": printable(r.path),
            **{k: getattr(r, k) for k in extra},
            "label": None if r.label is None else printable(r.label),
            "pred": r.result.pred if r.result else None,
            "state": r.result.state if r.result else None,
            "error": None if r.error is None else printable(r.error),
            "scores": r.result.scores if r.result else None,
            "raw_scores": r.result.raw_scores if r.result else None,
            **({"correct": _correct(r, none_label)} if labeled else {}),
        }
        for r in rows
    ]
    if path.suffix == ".jsonl":
        atomic_write(path, "".join(json.dumps(rec) + "\n" for rec in records))
        return
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table(
        {
            "path": [r["path"] for r in records],
            **{k: [r[k] for r in records] for k in extra},
            "label": [r["label"] for r in records],
            "pred": [r["pred"] for r in records],
            "state": [r["state"] for r in records],
            "error": [r["error"] for r in records],
            **({"correct": [r["correct"] for r in records]} if labeled else {}),
            **{f"raw_{n}": [r["raw_scores"][n] if r["raw_scores"] else None for r in records] for n in names},
            **{f"score_{n}": [r["scores"][n] if r["scores"] else None for r in records] for n in names},
        }
    )
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)


def _correct(row: FrameRow, none_label: str) -> bool | None:
    """Whether a labeled row's state is its label (None for an unlabeled row)."""
    if row.label is None:
        return None
    acc = job_accuracy([row], none_label)
    return acc is not None and acc.correct == 1


def write_outputs(
    cfg: JobConfig,
    rows: Sequence[FrameRow],
    layout: str,
    metrics: dict[str, Any] | None,
    names: list[str],
    accuracy: LabelAccuracy | None = None,
) -> list[str]:
    """The CSV, scores, metrics, segments and report a run was asked for (every kind of
    recording, each file atomically); the paths written. ``--segments`` needs an ordered
    recording: for the labeled layout it is refused after the other outputs are written."""
    written = []
    ordered = layout != "labeled"
    segs = segments_of(rows, cfg.sequence, cfg.none_label) if ordered else None
    if cfg.output is not None:
        write_csv(cfg.output, rows, layout, cfg.none_label)
        written.append(str(cfg.output))
    if cfg.scores_file is not None:
        write_scores(cfg.scores_file, rows, names, cfg.none_label)
        written.append(str(cfg.scores_file))
    if cfg.metrics_json is not None and metrics is not None:
        atomic_write(cfg.metrics_json, json.dumps(metrics, indent=2))
        written.append(str(cfg.metrics_json))
    if cfg.report is not None:
        from screenstate.batch.report import render_report

        html = printable(render_report(list(rows), layout, metrics, names, cfg.none_label, segments=segs, accuracy=accuracy))
        atomic_write(cfg.report, html)
        written.append(str(cfg.report))
    if cfg.sequence.segments is not None:
        if segs is None:
            raise ScreenstateError(
                "--segments needs an ordered recording (a video or a flat folder), not ROOT/<label>/*"
            )
        write_segments(cfg.sequence.segments, segs)
        written.append(str(cfg.sequence.segments))
    return written
