"""Self-contained HTML report: metrics, confusion matrix, thumbnails of errors, and a state
timeline for ordered (flat) recordings. Thumbnails are inlined as JPEG data URIs.

The page is the jinja2 template ``templates/report.html.j2`` with autoescaping on (file
names, class names and error messages are never trusted as HTML); this module only
computes what it shows."""

from __future__ import annotations

import base64
import colorsys
import io
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup
from PIL import Image

from screenstate.batch.metrics import LabelAccuracy

MAX_THUMBS = 400


def _thumb(path: str, width: int = 240) -> str:
    try:
        with Image.open(path) as src:
            im = src.convert("RGB")
            im.thumbnail((width, width))
            buf = io.BytesIO()
            im.save(buf, "JPEG", quality=70)
    except Exception:  # noqa: BLE001 - unreadable frames have no thumbnail
        return ""
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode()


#: a qualitative palette (distinct hues and lightness) for up to 20 states
_PALETTE = (
    "#1f77b4 #ff7f0e #2ca02c #d62728 #9467bd #8c564b #e377c2 #bcbd22 #17becf #aec7e8 "
    "#ffbb78 #98df8a #ff9896 #c5b0d5 #c49c94 #f7b6d2 #dbdb8d #9edae5 #393b79 #637939"
).split()


def _colors(names: Sequence[str]) -> dict[str, str]:
    out = {}
    for i, n in enumerate(names):
        if i < len(_PALETTE):
            out[n] = _PALETTE[i]
        else:
            r, g, b = colorsys.hsv_to_rgb((i * 0.618034) % 1.0, 0.55, 0.9)
            out[n] = f"rgb({int(r * 255)},{int(g * 255)},{int(b * 255)})"
    out["unknown"] = out.get("unknown", "#bbbbbb")
    return out


_CSS = """
body{font-family:system-ui,sans-serif;margin:24px;color:#222}
table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ccc;padding:3px 6px;font-size:13px}
th{background:#f3f3f3}.zero{color:#bbb}.diag{background:#dff0d8;font-weight:bold}
.timeline{display:flex;height:42px;border:1px solid #999;margin:8px 0}
.timeline div{flex:1;position:relative;min-width:2px}
.timeline div:hover{outline:2px solid #000;z-index:2}
.timeline div .tip{display:none;position:absolute;top:46px;left:0;background:#fff;border:1px solid #999;
 padding:4px;font-size:12px;z-index:3;white-space:nowrap}
.timeline div:hover .tip{display:block}.legend span{display:inline-block;margin:2px 8px 2px 0;font-size:12px}
.legend i{display:inline-block;width:12px;height:12px;margin-right:4px;vertical-align:middle}
.errors{display:flex;flex-wrap:wrap;gap:10px}.errors figure{margin:0;width:250px;font-size:12px}
.errors img{border:1px solid #ccc;max-width:240px}.scroll{overflow-x:auto;max-width:100%}
.axis{display:flex;justify-content:space-between;font-size:11px;color:#555}
"""


def _state(row: Any, none_label: str) -> str:
    if row.result is None:
        return "<unreadable>"
    return str(row.result.state or none_label)


def _row_thumb(row: Any, width: int) -> str:
    """A row's thumbnail: the one taken while decoding (videos) or read from its file. An
    error row's path is never opened (it may be a FIFO, a device, a broken link)."""
    if row.error is not None:
        return ""
    return getattr(row, "thumb", None) or (_thumb(row.path, width) if getattr(row, "from_file", True) else "")


@dataclass(frozen=True)
class _Block:
    """A video segment on the timeline (``flex``: its share of the duration)."""

    segment: Any
    flex: float
    thumb: str


@dataclass(frozen=True)
class _Frame:
    """A frame on a flat recording's timeline."""

    name: str
    state: str
    error: str | None
    confidence: float
    thumb: str


@dataclass(frozen=True)
class _Run:
    """Consecutive frames (1-based, inclusive) in one state."""

    first: int
    last: int
    state: str
    thumb: str


@dataclass(frozen=True)
class _Wrong:
    name: str
    label: str
    got: str
    top: str
    thumb: str


def _video(rows: Sequence[Any], segments: Sequence[Any]) -> dict[str, Any]:
    """A timeline in seconds (one block per segment, width by duration) with a thumbnail of
    each segment's first frame, and the axis ticks."""
    total = max(1e-6, (segments[-1].end_s or 0.0) - (segments[0].start_s or 0.0)) if segments else 1.0
    first = {r.frame_index: r for r in rows if r.error is None}
    blocks = []
    for g in segments:
        dur = max(0.0, (g.end_s or 0.0) - (g.start_s or 0.0))
        row = first.get(g.start_frame)
        thumb = _row_thumb(row, 160) if row is not None and getattr(row, "thumb", None) else ""
        blocks.append(_Block(g, max(dur / total, 0.002), thumb))
    ticks = 10
    return {"blocks": blocks, "ticks": [total * k / ticks for k in range(ticks + 1)]}


def _flat(rows: Sequence[Any], none_label: str) -> dict[str, Any]:
    """Every frame on the timeline (a hover thumbnail for at most MAX_THUMBS of them) and the
    runs of one state, the way people read a recording."""
    step = max(1, len(rows) // MAX_THUMBS)
    frames = [
        _Frame(
            Path(r.path).name,
            _state(r, none_label),
            r.error,
            r.result.confidence if r.result is not None else 0.0,
            _row_thumb(r, 200) if i % step == 0 else "",
        )
        for i, r in enumerate(rows)
    ]
    runs, start = [], 0
    for i in range(1, len(rows) + 1):
        cur = _state(rows[i - 1], none_label)
        if i == len(rows) or _state(rows[i], none_label) != cur:
            runs.append(_Run(start + 1, i, cur, _row_thumb(rows[start], 120)))
            start = i
    return {"frames": frames, "runs": runs}


@lru_cache(maxsize=1)
def _template() -> jinja2.Template:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("screenstate.batch", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,  # a misspelt field fails the report, not silently blank
        trim_blocks=False,
    )
    return env.get_template("report.html.j2")


def render_report(
    rows: Sequence[Any],
    layout: str,
    metrics: dict[str, Any] | None,
    class_names: Sequence[str],
    none_label: str = "unknown",
    segments: Sequence[Any] | None = None,
    accuracy: LabelAccuracy | None = None,
) -> str:
    """HTML for one run's rows (``FrameRow``s, or ``SequenceRow``s of an ordered run with
    its ``segments``: a video's timeline is in seconds)."""
    names = list(dict.fromkeys([*class_names, none_label]))
    colors = _colors(names)
    colors["<unreadable>"] = "#000"
    confusion = None
    if metrics:
        conf = metrics["confusion"]
        confusion = {
            "cols": [c for c in conf if any(conf[r][c] for r in conf)],
            "rows": [r for r in conf if any(conf[r].values())],
        }
    wrong_rows = [
        r for r in rows if r.label is not None and (r.result is None or (r.result.state or none_label) != r.label)
    ]
    wrong = [
        _Wrong(
            Path(r.path).name,
            r.label or "",
            r.error or f"predicted {(r.result.state or none_label)}",
            ", ".join(f"{n} {v:.3f}" for n, v in r.result.top(3)) if r.result else "",
            _row_thumb(r, 240),
        )
        for r in wrong_rows[:MAX_THUMBS]
    ]
    return _template().render(
        css=Markup(_CSS),  # our own stylesheet, not data
        rows=rows,
        layout=layout,
        metrics=metrics,
        accuracy=accuracy,
        confusion=confusion,
        names=names,
        colors=colors,
        video=_video(rows, segments or []) if layout == "video" else None,
        flat=_flat(rows, none_label) if layout == "flat" else None,
        wrong=wrong,
        wrong_total=len(wrong_rows),
        unreadable=[r for r in rows if r.error],
    )
