"""Build the OpenAdapt capture fixtures in ``tests/data/captures/`` with openadapt-capture's own API.

Run in a throwaway virtualenv (openadapt-capture is not a dependency of screenstate), with a
system ``ffmpeg`` on PATH (upstream's video writer runs the executable)::

    python3 -m venv /tmp/oa && /tmp/oa/bin/pip install openadapt-capture==1.3.0
    apt-get install ffmpeg
    /tmp/oa/bin/python tests/recordings/make_captures.py ../shared/datasets/screens-dev/recording

One session (10 screenshots of real software from screens-dev's ordered recording, 10 user
actions made of raw press/release/move/scroll rows bound to their before/after screenshots
by source ordinal, as the recorder binds them) is written as several captures:

- ``mp4_box``: screenshots only in ``oa_recording-*.mp4`` (upstream ``VideoWriter``: 24 fps,
  padding frames, the ``openadapt.capture-video-timing/v1`` box); ``png_data`` empty;
- ``png``: the same session with ``png_data`` in ``recording.db`` and no video;
- ``no_box``: ``mp4_box`` with its timing box cut off (older or crashed captures);
- ``cut_short``: the video holds only the first 7 screenshots (the database has 10);
- ``wal``: a capture still being written: ``recording.db`` in WAL mode with rows only in
  ``recording.db-wal``, a two-monitor desktop scope, pixel ratio 2;
- ``window``: a capture of one window (``capture_window`` scope), frames of window size.

Each folder gets ``expected.json``: upstream's own reading of it (``CaptureSession.frames()``
and ``CaptureSession.actions()``, run on a copy because upstream's loader migrates the
database), which ``tests/recordings`` compares screenstate's reading against.
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import sys
import tempfile
from pathlib import Path

from openadapt_capture.capture import CaptureSession
from openadapt_capture.db import create_db, crud, finalize_capture_database
from openadapt_capture.video import VideoWriter
from PIL import Image

OUT = Path(__file__).resolve().parents[1] / "data" / "captures"
T0 = 1_760_000_000.0
SIZE = (480, 300)
#: (seconds from start, frame of screens-dev/recording) for each screenshot
SHOTS = [
    (0.00, "frame_00006.png"), (0.90, "frame_00009.png"), (1.60, "frame_00013.png"), (2.50, "frame_00020.png"),
    (3.10, "frame_00023.png"), (3.90, "frame_00028.png"), (4.70, "frame_00036.png"), (5.40, "frame_00045.png"),
    (6.20, "frame_00045.png"), (6.80, "frame_00049.png"),
]  # fmt: skip


def key(name: str, char: str | None = None, vk: str | None = None) -> dict[str, object]:
    return {"key_name": name, "key_char": char, "key_vk": vk, "canonical_key_name": name, "canonical_key_char": char}


def down(x: float, y: float, pressed: bool, button: str = "left") -> dict[str, object]:
    return {"name": "click", "mouse_x": x, "mouse_y": y, "mouse_button_name": button, "mouse_pressed": pressed}


#: raw input rows: (seconds, row); each is bound to the last screenshot before it and the first after
RAW: list[tuple[float, dict[str, object]]] = [
    (0.30, {"name": "move", "mouse_x": 90.0, "mouse_y": 70.0}),
    (0.50, down(100, 80, True)), (0.58, down(100, 80, False)),  # click
    (1.20, {"name": "press", **key("a", "a")}), (1.25, {"name": "release", **key("a", "a")}),
    (1.30, {"name": "press", **key("b", "b")}), (1.35, {"name": "release", **key("b", "b")}),  # typed "ab"
    (2.00, down(200, 150, True)), (2.05, down(200, 150, False)),
    (2.20, down(201, 150, True)), (2.25, down(201, 150, False)),  # double click
    (2.80, {"name": "scroll", "mouse_x": 240.0, "mouse_y": 150.0, "mouse_dx": 0.0, "mouse_dy": -1.0}),
    (2.85, {"name": "scroll", "mouse_x": 240.0, "mouse_y": 150.0, "mouse_dx": 0.0, "mouse_dy": -2.0}),  # scroll
    (3.40, down(50, 50, True)), (3.45, {"name": "move", "mouse_x": 80.0, "mouse_y": 60.0}),
    (3.50, {"name": "move", "mouse_x": 120.0, "mouse_y": 90.0}), (3.55, down(120, 90, False)),  # drag
    (4.20, {"name": "press", **key("ctrl_l")}), (4.25, {"name": "press", **key("s", "s")}),
    (4.30, {"name": "release", **key("s", "s")}), (4.35, {"name": "release", **key("ctrl_l")}),  # ctrl+s
    (5.00, {"name": "press", **key("enter")}), (5.05, {"name": "release", **key("enter")}),  # Enter
    (5.80, down(300, 200, True)), (5.85, down(300, 200, False)),  # click
    (6.50, {"name": "press", **key("x", "x")}), (6.55, {"name": "release", **key("x", "x")}),  # typed "x"
]  # fmt: skip


def screens(src: Path, size: tuple[int, int]) -> list[Image.Image]:
    out = []
    for _, name in SHOTS:
        with Image.open(src / name) as im:
            out.append(im.convert("RGB").resize(size, Image.Resampling.LANCZOS))
    return out


def journal() -> list[tuple[float, str, int, object]]:
    """Every event in time order with its source ordinal (one journal for all kinds, as the recorder has)."""
    events: list[tuple[float, str, object]] = [(t, "screen", i) for i, (t, _) in enumerate(SHOTS)]
    events += [(t, "action", row) for t, row in RAW]
    events.sort(key=lambda e: e[0])
    return [(t, kind, n + 1, data) for n, (t, kind, data) in enumerate(events)]


def write_capture(
    folder: Path,
    images: list[Image.Image],
    *,
    png: bool,
    video: bool,
    config: dict[str, object] | None = None,
    pixel_ratio: float = 1.0,
    wal: bool = False,
    video_shots: int | None = None,
) -> None:
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    db_path = folder / "recording.db"
    engine, session_maker = create_db(str(db_path), journal_mode="WAL")
    session = session_maker()
    if wal:
        session.execute(__import__("sqlalchemy").text("PRAGMA wal_autocheckpoint=0"))
    data: dict[str, object] = {
        "timestamp": T0, "monitor_width": images[0].width, "monitor_height": images[0].height,
        "pixel_ratio": pixel_ratio, "double_click_distance_pixels": 5.0, "double_click_interval_seconds": 0.5,
        "platform": "linux", "task_description": "screenstate fixture",
    }  # fmt: skip
    if config:
        data["config"] = config
    recording = crud.insert_recording(session, data)
    events = journal()
    shot_ordinals = [o for _, kind, o, _ in events if kind == "screen"]
    shot_times = [T0 + t for t, _ in SHOTS]
    writer = None
    if video:
        crud.update_video_start_time(session, recording, T0)
        name = f"oa_recording-{T0}.mp4"
        writer = VideoWriter(folder / name, images[0].width, images[0].height, fps=24, crf=20, preset="medium")
    for t, kind, ordinal, payload in events:
        ts = T0 + t
        if kind == "screen":
            i = int(payload)  # type: ignore[call-overload]
            buf = io.BytesIO()
            images[i].save(buf, format="PNG")
            row: dict[str, object] = {
                "source_ordinal": ordinal,
                "png_sha256": hashlib.sha256(buf.getvalue()).hexdigest(),
            }
            if png:
                row["png_data"] = buf.getvalue()
            crud.insert_screenshot(session, recording, ts, row)
            if writer is not None and (video_shots is None or i < video_shots):
                writer.write_frame(images[i], ts, source_ordinal=ordinal)
            continue
        before = max((k for k, st in enumerate(shot_times) if st <= ts), default=None)
        after = min((k for k, st in enumerate(shot_times) if st > ts), default=None)
        act = dict(payload)  # type: ignore[call-overload]
        act["source_ordinal"] = ordinal
        if before is not None:
            act["screenshot_timestamp"] = shot_times[before]
            act["screenshot_source_ordinal"] = shot_ordinals[before]
        if after is not None:
            act["after_screenshot_timestamp"] = shot_times[after]
            act["after_screenshot_source_ordinal"] = shot_ordinals[after]
        crud.insert_action_event(session, recording, ts, act)
    session.commit()
    if writer is not None:
        writer.close()
    if wal:  # a capture still being written: copy while the log holds the rows
        live = folder.parent / (folder.name + ".live")
        shutil.copytree(folder, live)
        session.close()
        engine.dispose()
        shutil.rmtree(folder)
        live.rename(folder)
        (folder / "recording.db-shm").unlink(missing_ok=True)
        return
    session.close()
    engine.dispose()
    finalize_capture_database(str(db_path))


def strip_box(mp4: Path) -> None:
    """Cut the trailing timing box off (what a capture made before the box existed looks like)."""
    data = mp4.read_bytes()
    marker = data.rfind(b"uuid")
    assert marker > 4, "no timing box"
    mp4.write_bytes(data[: marker - 4])


def expected(folder: Path) -> None:
    """Upstream's reading of ``folder`` (on a copy: upstream's loader migrates the database)."""
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / folder.name
        shutil.copytree(folder, copy)
        cap = CaptureSession.load(copy)
        frames = [{"source_ordinal": f.source_ordinal, "timestamp": f.timestamp} for f in cap.frames()]
        actions = [
            {
                "type": a.type, "timestamp": a.timestamp, "x": a.x, "y": a.y, "text": a.text, "keys": a.keys,
                "screenshot_source_ordinal": a.screenshot_source_ordinal,
                "after_screenshot_source_ordinal": a.after_screenshot_source_ordinal,
            }
            for a in cap.actions()
        ]  # fmt: skip
        cap.close()
    (folder.parent / f"{folder.name}.expected.json").write_text(
        json.dumps({"frames": frames, "actions": actions}, indent=1) + "\n"
    )


def main(src: Path) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    images = screens(src, SIZE)
    write_capture(OUT / "mp4_box", images, png=False, video=True)
    write_capture(OUT / "png", images, png=True, video=False)
    write_capture(OUT / "no_box", images, png=False, video=True)
    strip_box(next((OUT / "no_box").glob("oa_recording-*.mp4")))
    write_capture(OUT / "cut_short", images, png=False, video=True, video_shots=7)
    small = screens(src, (240, 150))
    desktop = {"monitor_count": 2, "viewport": [480, 150], "monitors": [[0, 0, 240, 150], [240, 0, 240, 150]]}
    write_capture(
        OUT / "wal", small, png=True, video=False, config={"capture_desktop": desktop}, pixel_ratio=2.0, wal=True
    )
    window = {"title": "Files", "owner": "nautilus", "bounds": [100, 100, 240, 150], "viewport": [240, 150]}
    write_capture(OUT / "window", small, png=True, video=False, config={"capture_window": window})
    for name in ("mp4_box", "png", "no_box", "cut_short", "window"):
        expected(OUT / name)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
