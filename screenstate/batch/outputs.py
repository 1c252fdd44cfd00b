"""What a classify_directory run writes: the CSV, every class score (JSON lines or
Parquet), the metrics JSON and the HTML report, each written atomically. Non-UTF-8 file
names and labels are written with backslash escapes."""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from screenstate.atomic import atomic_open, atomic_path, atomic_write
from screenstate.batch.config import JobConfig
from screenstate.batch.metrics import evaluate
from screenstate.batch.summary import FrameRow
from screenstate.recordings.listing import printable


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


def write_csv(path: Path, rows: Sequence[FrameRow], layout: str, none_label: str) -> None:
    labeled = layout == "labeled"
    header = ["path", "label", "pred", "is_correct"] if labeled else ["path", "pred"]
    header += ["state", "error"]
    with atomic_open(path, "w") as f:
        w = csv.writer(f)
        w.writerow(header)
        for r in rows:
            pred = r.result.pred if r.result else ""
            state = (r.result.state or "") if r.result else ""
            line = [printable(r.path)]
            if labeled:
                line += [printable(r.label or ""), pred, str(eval_pred(r, none_label) == r.label)]
            else:
                line += [pred]
            w.writerow(line + [state, printable(r.error or "")])


def write_scores(path: Path, rows: Sequence[Any], names: list[str]) -> None:
    """Every row's prediction and class scores, as ``.jsonl`` or ``.parquet`` (ordered
    recordings' rows add where each row is in the recording)."""
    extra = [k for k in ("frame_index", "time_s") if rows and hasattr(rows[0], k)]
    extra += [k for k in ("source_ordinal", "timestamp") if any(getattr(r, k, None) is not None for r in rows)]
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
            **{f"raw_{n}": [r["raw_scores"][n] if r["raw_scores"] else None for r in records] for n in names},
            **{f"score_{n}": [r["scores"][n] if r["scores"] else None for r in records] for n in names},
        }
    )
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)


def write_outputs(
    cfg: JobConfig, rows: Sequence[FrameRow], layout: str, metrics: dict[str, Any] | None, names: list[str]
) -> list[str]:
    """The CSV, scores, metrics and report a folder run was asked for; the paths written."""
    written = []
    if cfg.output is not None:
        write_csv(cfg.output, rows, layout, cfg.none_label)
        written.append(str(cfg.output))
    if cfg.scores_file is not None:
        write_scores(cfg.scores_file, rows, names)
        written.append(str(cfg.scores_file))
    if cfg.metrics_json is not None and metrics is not None:
        atomic_write(cfg.metrics_json, json.dumps(metrics, indent=2))
        written.append(str(cfg.metrics_json))
    if cfg.report is not None:
        from screenstate.batch.report import render_report

        html = printable(render_report(list(rows), layout, metrics, names, cfg.none_label))
        atomic_write(cfg.report, html)
        written.append(str(cfg.report))
    return written
