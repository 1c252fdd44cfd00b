"""Self-contained HTML report: metrics, confusion matrix, thumbnails of errors, and a state
timeline for ordered (flat) recordings. Thumbnails are inlined as JPEG data URIs."""

from __future__ import annotations

import base64
import colorsys
import html
import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from PIL import Image

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
    """A row's thumbnail: the one taken while decoding (videos) or read from its file."""
    return getattr(row, "thumb", None) or _thumb(row.path, width)


def _video_timeline(rows: Sequence[Any], segments: Sequence[Any], colors: dict[str, str]) -> list[str]:
    """A timeline in seconds (one block per segment, width by duration) and a segment table
    with a thumbnail of each segment's first frame."""
    esc = html.escape
    total = max(1e-6, (segments[-1].end_s or 0.0) - (segments[0].start_s or 0.0)) if segments else 1.0
    first = {r.frame_index: r for r in rows if r.error is None}
    parts = ["<div class='timeline'>"]
    for g in segments:
        dur = max(0.0, (g.end_s or 0.0) - (g.start_s or 0.0))
        parts.append(
            f"<div style='flex:{max(dur / total, 0.002):.4f};background:{colors.get(g.state, '#888')}'>"
            f"<span class='tip'>{g.start_s:.1f}&ndash;{(g.end_s or 0.0):.1f} s {esc(g.state)}</span></div>"
        )
    parts.append("</div><div class='axis'>")
    ticks = 10
    parts += [f"<span>{total * k / ticks:.1f} s</span>" for k in range(ticks + 1)]
    parts.append("</div>")
    parts.append(
        "<h2>Segments</h2><table><tr><th>time (s)</th><th>frames</th><th>state</th><th>count</th>"
        "<th>mean score</th><th>first frame</th></tr>"
    )
    for g in segments:
        row = first.get(g.start_frame)
        thumb = _row_thumb(row, 160) if row is not None and getattr(row, "thumb", None) else ""
        img = f"<img src='{thumb}'>" if thumb else ""
        score = "" if g.mean_score is None else f"{g.mean_score:.2f}"
        parts.append(
            f"<tr><td>{g.start_s:.2f}&ndash;{(g.end_s or 0.0):.2f}</td><td>{g.start_frame}&ndash;{g.end_frame}</td>"
            f"<td><i style='display:inline-block;width:12px;height:12px;background:{colors.get(g.state, '#888')}'>"
            f"</i> {esc(g.state)}</td><td>{g.frames}</td><td>{score}</td><td>{img}</td></tr>"
        )
    parts.append("</table>")
    return parts


def render_report(
    rows: Sequence[Any],
    layout: str,
    metrics: dict[str, Any] | None,
    class_names: Sequence[str],
    none_label: str = "unknown",
    segments: Sequence[Any] | None = None,
) -> str:
    """HTML for one run's rows (``FrameRow``s, or ``SequenceRow``s of an ordered run with
    its ``segments``: a video's timeline is in seconds)."""
    names = list(dict.fromkeys([*class_names, none_label]))
    colors = _colors(names)
    colors["<unreadable>"] = "#000"
    esc = html.escape
    parts = [
        f"<!doctype html><html><head><meta charset='utf-8'><title>screenstate report</title><style>{_CSS}</style></head><body>"
    ]
    n_err = sum(r.error is not None for r in rows)
    parts.append(f"<h1>screenstate report</h1><p>{len(rows)} frames, layout {layout}, {n_err} unreadable.</p>")
    if metrics:
        parts.append(f"<h2>Accuracy {metrics['accuracy']:.3f} ({metrics['n']} frames)</h2>")
        parts.append("<table><tr><th>class</th><th>precision</th><th>recall</th><th>F1</th><th>support</th></tr>")
        for n, m in metrics["per_class"].items():
            parts.append(
                f"<tr><td>{esc(n)}</td><td>{m['precision']:.2f}</td><td>{m['recall']:.2f}</td>"
                f"<td>{m['f1']:.2f}</td><td>{m['support']}</td></tr>"
            )
        parts.append("</table><h2>Confusion matrix (rows: label, columns: prediction)</h2>")
        conf = metrics["confusion"]
        cols = [c for c in conf if any(conf[r][c] for r in conf)]
        rws = [r for r in conf if any(conf[r].values())]
        parts.append("<div class='scroll'><table><tr><th></th>" + "".join(f"<th>{esc(c)}</th>" for c in cols) + "</tr>")
        for r in rws:
            cells = "".join(
                f"<td class='{'diag' if r == c else ('zero' if not conf[r][c] else '')}'>{conf[r][c]}</td>"
                for c in cols
            )
            parts.append(f"<tr><th>{esc(r)}</th>{cells}</tr>")
        parts.append("</table></div>")
    if layout == "video":
        parts.append("<h2>State timeline (seconds)</h2><div class='legend'>")
        parts += [f"<span><i style='background:{colors[n]}'></i>{esc(n)}</span>" for n in names]
        parts.append("</div>")
        parts += _video_timeline(rows, segments or [], colors)
    if layout == "flat":
        parts.append("<h2>State timeline</h2><div class='legend'>")
        parts += [f"<span><i style='background:{colors[n]}'></i>{esc(n)}</span>" for n in names]
        parts.append("</div><div class='timeline'>")
        step = max(1, len(rows) // MAX_THUMBS)
        for i, r in enumerate(rows):
            state = _state(r, none_label)
            thumb = _row_thumb(r, 200) if i % step == 0 else ""
            img = f"<br><img src='{thumb}'>" if thumb else ""
            detail = esc(r.error) if r.error else f"{esc(state)} ({r.result.confidence:.2f})"
            parts.append(
                f"<div style='background:{colors.get(state, '#888')}'><span class='tip'>#{i + 1} "
                f"{esc(Path(r.path).name)}: {detail}{img}</span></div>"
            )
        parts.append("</div>")
        # runs of the same state, the way people read a recording
        parts.append("<h2>Segments</h2><table><tr><th>frames</th><th>state</th><th>count</th><th>first frame</th></tr>")
        start = 0
        for i in range(1, len(rows) + 1):
            cur = _state(rows[i - 1], none_label)
            if i == len(rows) or _state(rows[i], none_label) != cur:
                thumb = _row_thumb(rows[start], 120)
                img = f"<img src='{thumb}'>" if thumb else ""
                parts.append(
                    f"<tr><td>{start + 1}&ndash;{i}</td><td><i style='display:inline-block;width:12px;height:12px;"
                    f"background:{colors.get(cur, '#888')}'></i> {esc(cur)}</td><td>{i - start}</td><td>{img}</td></tr>"
                )
                start = i
        parts.append("</table>")
    wrong = [r for r in rows if r.label is not None and (r.result is None or (r.result.state or none_label) != r.label)]
    if wrong:
        parts.append(f"<h2>Errors ({len(wrong)})</h2><div class='errors'>")
        for r in wrong[:MAX_THUMBS]:
            got = r.error or f"predicted {(r.result.state or none_label)}"
            top = ", ".join(f"{n} {v:.3f}" for n, v in r.result.top(3)) if r.result else ""
            thumb = _thumb(r.path)
            img = f"<img src='{thumb}'>" if thumb else ""
            parts.append(
                f"<figure>{img}<figcaption><b>{esc(Path(r.path).name)}</b><br>label {esc(r.label or '')}, "
                f"{esc(got)}<br>{esc(top)}</figcaption></figure>"
            )
        parts.append("</div>")
    unreadable = [r for r in rows if r.error]
    if unreadable:
        parts.append("<h2>Unreadable frames</h2><ul>")
        parts += [f"<li>{esc(r.path)}: {esc(r.error)}</li>" for r in unreadable]
        parts.append("</ul>")
    parts.append("</body></html>")
    return "\n".join(parts)
