"""``classify-directory --actions FILE``: one CSV row per user action, with the screen state
before it, after it, and once it settled.

``before_state``/``after_state`` are the states of the frames the recording binds to the
action (a capture's ``screenshot_source_ordinal``/``after_screenshot_source_ordinal``, an
openadapt-flow event's ``_before``/``_after`` PNG); ``settled_state`` is the state of the
last frame taken before the next action (the end of the recording for the last one);
``changed`` says whether ``settled_state`` differs from ``before_state``. An unreadable
bound frame reads ``<unreadable>``; an action bound to no frame leaves the state empty.
"""

from __future__ import annotations

import bisect
import csv
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from screenstate.atomic import atomic_open
from screenstate.batch.segments import ERROR_STATE
from screenstate.recordings.actions import Action
from screenstate.recordings.listing import printable

HEADER = [
    "index", "time", "kind", "x", "y", "dx", "dy", "button", "text", "keys",
    "screenshot_source_ordinal", "after_screenshot_source_ordinal", "before_frame", "after_frame",
    "before_state", "after_state", "settled_state", "changed",
]  # fmt: skip


def _state(row: Any, none_label: str) -> str:
    if row.result is None:
        return ERROR_STATE
    return str(row.result.state or none_label)


def _num(v: float | int | None) -> str:
    return "" if v is None else f"{v:g}" if isinstance(v, float) else str(v)


def action_states(actions: Sequence[Action], rows: Sequence[Any], none_label: str) -> list[tuple[str, str, str]]:
    """(before, after, settled) state of each action (see the module docstring)."""
    by_ordinal = {r.source_ordinal: r for r in rows if getattr(r, "source_ordinal", None) is not None}
    by_key = {r.path: r for r in rows}
    timed = [(t, i) for i, r in enumerate(rows) if (t := _row_time(r)) is not None]
    times = [t for t, _ in timed]

    def bound(ordinal: int | None, key: str | None) -> str:
        row = by_ordinal.get(ordinal) if ordinal is not None else None
        row = row if row is not None else (by_key.get(key) if key is not None else None)
        return _state(row, none_label) if row is not None else ""

    out = []
    for n, a in enumerate(actions):
        before = bound(a.screenshot_source_ordinal, a.before_key)
        after = bound(a.after_screenshot_source_ordinal, a.after_key)
        nxt = actions[n + 1].time if n + 1 < len(actions) else None
        settled = ""
        if timed:
            k = len(timed) if nxt is None else bisect.bisect_left(times, nxt)
            if k > 0:
                settled = _state(rows[timed[k - 1][1]], none_label)
        out.append((before, after, settled))
    return out


def _row_time(row: Any) -> float | None:
    t = getattr(row, "timestamp", None)
    return t if t is not None else getattr(row, "time_s", None)


def write_actions(path: Path, actions: Sequence[Action], rows: Sequence[Any], none_label: str) -> str:
    """Write the actions CSV (atomically); returns its path."""
    with atomic_open(path, "w") as f:
        w = csv.writer(f)
        w.writerow(HEADER)
        for a, (before, after, settled) in zip(actions, action_states(actions, rows, none_label)):
            w.writerow(
                [
                    a.index,
                    f"{a.time:.6f}",
                    a.kind,
                    _num(a.x),
                    _num(a.y),
                    _num(a.dx),
                    _num(a.dy),
                    a.button or "",
                    printable(a.text or ""),
                    "+".join(a.keys),
                    _num(a.screenshot_source_ordinal),
                    _num(a.after_screenshot_source_ordinal),
                    printable(a.before_key or ""),
                    printable(a.after_key or ""),
                    before,
                    after,
                    settled,
                    "" if not (before and settled) else str(before != settled),
                ]  # fmt: skip
            )
    return str(path)
