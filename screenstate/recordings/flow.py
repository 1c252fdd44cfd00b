"""openadapt-flow recordings: ``meta.json``, ``events.jsonl``, ``frames/NNNN_before.png`` and
``frames/NNNN_after.png`` (one event per line, ``{"i": 0, "kind": "click", "x": .., "y": .., "t": 1.2}``;
``t`` is seconds from the start of the recording).

Frames are every event's before and after screenshot, in order (``0000_before``,
``0000_after``, ``0001_before``...), each with the event's time; a missing PNG is an error
frame. Each event is one action bound to its own before and after frame.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from screenstate.recordings.actions import Action
from screenstate.recordings.frame import Frame, RecordingError

#: openadapt-flow event kinds -> action kinds
FLOW_KINDS = {
    "click": "click", "double_click": "double click", "right_click": "click", "drag": "drag",
    "scroll": "scroll", "type": "typed text", "key": "key", "press": "key", "hotkey": "key",
}  # fmt: skip


def is_flow_recording(root: Path) -> bool:
    """A folder with ``meta.json`` and ``events.jsonl``."""
    return root.is_dir() and (root / "meta.json").is_file() and (root / "events.jsonl").is_file()


def read_events(root: Path) -> list[dict[str, Any]]:
    """The events of ``root/events.jsonl``; a line that is not a JSON object is an error naming it."""
    out = []
    path = root / "events.jsonl"
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            ev = json.loads(line)
        except json.JSONDecodeError as e:
            raise RecordingError(f"{path}:{n}: not a JSON line ({e}); is the recording complete?") from e
        if not isinstance(ev, dict) or not isinstance(ev.get("i"), int):
            raise RecordingError(f"{path}:{n}: an event needs an integer 'i' (its frame number)")
        out.append(ev)
    return out


@dataclass(frozen=True)
class FlowRecording:
    """An openadapt-flow recording as a :class:`~screenstate.recordings.frame.FrameSource`."""

    root: str
    folder: Path
    events: tuple[dict[str, Any], ...]
    kind: str = "flow"
    layout: str = "capture"
    ordered: bool = True
    approximate_times: bool = False
    notes: tuple[str, ...] = ()

    @classmethod
    def open(cls, root: str | Path) -> FlowRecording:
        folder = Path(root)
        events = read_events(folder)
        if not events:
            raise RecordingError(f"{folder / 'events.jsonl'}: holds no events: nothing to classify")
        return cls(str(root), folder, tuple(events))

    def frame_path(self, i: int, side: str) -> Path:
        return self.folder / "frames" / f"{i:04d}_{side}.png"

    def frames(self) -> Iterator[Frame]:
        n = 0
        for ev in self.events:
            t = float(ev.get("t") or 0.0)
            for side in ("before", "after"):
                p = self.frame_path(int(ev["i"]), side)
                err = None if p.is_file() else f"{p}: missing (events.jsonl names event {ev['i']}, its PNG is absent)"
                yield Frame(index=n, key=str(p), path=p, time_s=t, label=None, error=err)
                n += 1

    def actions(self) -> list[Action]:
        out: list[Action] = []
        for ev in self.events:
            kind = str(ev.get("kind", ""))
            if kind == "switch_surface":
                continue
            keys = [*ev.get("modifiers", []), ev["key"]] if ev.get("key") else []
            out.append(
                Action(
                    index=len(out),
                    time=float(ev.get("t") or 0.0),
                    kind=FLOW_KINDS.get(kind, kind),
                    x=ev.get("x"),
                    y=ev.get("y"),
                    dx=ev.get("dx", (ev["end_x"] - ev["x"]) if "end_x" in ev and "x" in ev else None),
                    dy=ev.get("dy", (ev["end_y"] - ev["y"]) if "end_y" in ev and "y" in ev else None),
                    text=str(ev["text"]) if "text" in ev else None,
                    keys=tuple(str(k) for k in keys),
                    before_key=str(self.frame_path(int(ev["i"]), "before")),
                    after_key=str(self.frame_path(int(ev["i"]), "after")),
                )
            )
        return out
