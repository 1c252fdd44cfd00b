"""OpenAdapt captures: a folder with ``recording.db`` (openadapt-capture / legacy OpenAdapt).

One frame per retained screenshot, keyed by its ``source_ordinal`` with its Unix
``timestamp``. Pixels come from the database's ``png_data`` when the capture kept PNGs,
else from the MP4 (``oa_recording-*.mp4``), decoded once, keeping only the encoded frames
that stand for a screenshot (the recorder pads the video to 24 fps by repeating frames):

- with the MP4's timing box (``recordings/timing.py``), exactly those it binds;
- without it (older or crashed captures), each screenshot's frame is where the recorder
  put it, ``(timestamp - video_start_time) * fps``, and frame times are
  ``video_start_time`` + presentation time: approximate, and :attr:`notes` says so.

A screenshot the video does not hold (a capture cut short) or that does not decode is an
error frame, never dropped. The folder is never written (``recordings/capture_db.py``).
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

from screenstate.recordings.actions import Action, merge_actions
from screenstate.recordings.capture_db import (
    DB_NAME,
    CaptureDb,
    CaptureMeta,
    ShotRow,
    read_meta,
    read_png,
    read_raw_events,
    read_shots,
)
from screenstate.recordings.frame import Frame, RecordingError
from screenstate.recordings.timing import TimingBox, read_timing_box
from screenstate.schema import natural_key


def is_capture(root: Path) -> bool:
    """A folder holding ``recording.db``."""
    return root.is_dir() and (root / DB_NAME).is_file()


def capture_video(root: Path) -> Path | None:
    """The capture's MP4 (``oa_recording-*.mp4``, else ``video.mp4``); several is ambiguous."""
    found = sorted(root.glob("oa_recording-*.mp4"), key=natural_key)
    if (root / "video.mp4").is_file():
        found.append(root / "video.mp4")
    if len(found) > 1:
        raise RecordingError(
            f"{root}: holds {len(found)} capture videos ({', '.join(p.name for p in found[:4])}); which screenshot "
            "each frame stands for is ambiguous: move the extra ones out of the capture folder"
        )
    return found[0] if found else None


@dataclass
class OpenAdaptCapture:
    """An OpenAdapt capture as a :class:`~screenstate.recordings.frame.FrameSource`."""

    root: str
    folder: Path
    meta: CaptureMeta
    shots: list[ShotRow]
    video: Path | None
    timing: TimingBox | None
    db: CaptureDb
    max_pixels: int | None = None
    kind: str = "openadapt"
    layout: str = "capture"
    ordered: bool = True
    notes: tuple[str, ...] = field(default=())

    @classmethod
    def open(cls, root: str | Path, max_pixels: int | None = None) -> OpenAdaptCapture:
        folder = Path(root)
        db = CaptureDb(folder)
        weakref.finalize(db, db.close)
        meta = read_meta(db, folder)
        shots = read_shots(db, meta)
        pngs = sum(s.has_png for s in shots)
        video = capture_video(folder) if pngs < len(shots) or not shots else None
        timing = read_timing_box(video) if video is not None else None
        src = cls(str(root), folder, meta, shots, video, timing, db, max_pixels)
        if not shots:
            raise RecordingError(
                f"{folder}: the capture holds no screenshots (recording.db has no screenshot rows): nothing to "
                "classify; record again with screenshots enabled"
            )
        if pngs < len(shots) and video is None and pngs == 0:
            raise RecordingError(
                f"{folder}: recording.db keeps no screenshot PNGs and the folder has no oa_recording-*.mp4: "
                "the capture's frames are missing; copy its video into the folder"
            )
        src.notes = src._notes(pngs)
        return src

    @property
    def approximate_times(self) -> bool:
        return self.video is not None and (self.timing is None or self.timing.captures is None)

    def _notes(self, pngs: int) -> tuple[str, ...]:
        m = self.meta
        out = []
        if self.video is None:
            out.append(f"frames: {pngs} screenshot PNGs kept in recording.db")
        elif self.timing is None:
            out.append(
                f"frames: {self.video.name} has no timing box (an older or interrupted capture): each screenshot's "
                "frame is found from video_start_time and its timestamp; frame times are approximate"
            )
        else:
            out.append(f"frames: {self.video.name}, exactly the frames its timing box binds to screenshots")
        if m.window is not None:
            title = m.window.get("title") or m.window.get("owner") or "one window"
            out.append(f"window capture ({title}): frames are that window's pixels; positions are in window pixels")
        elif m.desktop is not None:
            n = m.desktop.get("monitor_count") or len(m.desktop.get("monitors") or []) or 1
            if n > 1:
                out.append(f"multi-monitor capture: each frame spans all {n} monitors (one virtual desktop)")
        if m.pixel_ratio is None:
            out.append("pixel ratio unknown (not measured by the recorder): positions are as recorded")
        elif m.pixel_ratio != 1.0 and m.window is None and m.desktop is None:
            out.append(f"pixel ratio {m.pixel_ratio:g}: positions are scaled by it to frame pixels")
        return tuple(out)

    # -- frames ------------------------------------------------------------------------
    def _key(self, shot: ShotRow) -> str:
        tag = shot.source_ordinal if shot.source_ordinal is not None else f"id{shot.row_id}"
        return f"{self.folder}#{tag}"

    def frames(self) -> Iterator[Frame]:
        if self.video is None:
            yield from self._png_frames()
        else:
            from screenstate.recordings.capture_video import video_frames

            yield from video_frames(self)

    def _png_frames(self) -> Iterator[Frame]:
        t0 = self.shots[0].timestamp
        db = self.db
        for i, s in enumerate(self.shots):
            err = None if s.has_png else f"{self._key(s)}: screenshot row keeps no PNG (png_data is empty)"
            yield Frame(
                index=i,
                key=self._key(s),
                time_s=s.timestamp - t0,
                timestamp=s.timestamp,
                source_ordinal=s.source_ordinal,
                error=err,
                pixels=_png_loader(db, s.row_id) if err is None else None,
            )

    # -- actions -----------------------------------------------------------------------
    def actions(self) -> list[Action]:
        m = self.meta
        acts = merge_actions(read_raw_events(self.db, m), m.double_click_interval, m.double_click_distance)
        scale = m.pixel_ratio if (m.pixel_ratio and m.window is None and m.desktop is None) else 1.0
        key_of = {s.source_ordinal: self._key(s) for s in self.shots if s.source_ordinal is not None}

        def px(v: float | None) -> float | None:
            return v * scale if v is not None else None

        def key(o: int | None) -> str | None:
            return key_of.get(o) if o is not None else None

        return [
            replace(
                a,
                x=px(a.x),
                y=px(a.y),
                dx=px(a.dx) if a.kind == "drag" else a.dx,  # scroll amounts are not positions
                dy=px(a.dy) if a.kind == "drag" else a.dy,
                before_key=key(a.screenshot_source_ordinal),
                after_key=key(a.after_screenshot_source_ordinal),
            )
            for a in acts
        ]


def _png_loader(db: CaptureDb, row_id: int) -> Callable[[], bytes]:
    """Reads one screenshot's PNG from the database when called."""
    return lambda: read_png(db, row_id)
