"""capture_throughput: classify-directory on an OpenAdapt capture (MP4 + timing box) in
retained screenshots per second, against classifying the same screenshots as an image
folder in the same run (the baseline); also the PNG-in-database variant and how often the
three agree.

The capture is written here the way openadapt-capture 1.3.0 writes one (its
``VideoWriter``: 24 fps, the gaps between screenshots filled by repeating the last one,
H.264 lossless yuv444p, the ``openadapt.capture-video-timing/v1`` box appended; its
``recording``/``screenshot``/``action_event`` tables), from screens-dev's ordered recording
at full size (1280x800), one screenshot every 0.8 s. (The reader is checked against
captures made with upstream's own API in tests/recordings; upstream is not installed here.)
"""

from __future__ import annotations

import io
import json
import shutil
import sqlite3
import struct
import tempfile
import time
import uuid
from pathlib import Path

from common import recording_files
from run import DEV, result

T0 = 1_760_000_000.0
FPS = 24
GAP_S = 0.8
BOX_UUID = uuid.UUID("d8e90f06-20b4-4e0c-b449-4f70656e4164").bytes
SCHEMA = """
CREATE TABLE recording (id INTEGER PRIMARY KEY, timestamp NUMERIC, monitor_width INTEGER, monitor_height INTEGER,
  pixel_ratio FLOAT, double_click_interval_seconds NUMERIC, double_click_distance_pixels NUMERIC, platform VARCHAR,
  task_description VARCHAR, video_start_time NUMERIC, config JSON, original_recording_id INTEGER);
CREATE TABLE screenshot (id INTEGER PRIMARY KEY, source_ordinal INTEGER, recording_timestamp NUMERIC,
  recording_id INTEGER, timestamp NUMERIC, png_data BLOB, png_sha256 VARCHAR, png_diff_data BLOB,
  png_diff_mask_data BLOB);
CREATE TABLE action_event (id INTEGER PRIMARY KEY, source_ordinal INTEGER, name VARCHAR, timestamp NUMERIC,
  recording_id INTEGER, screenshot_source_ordinal INTEGER, after_screenshot_source_ordinal INTEGER,
  mouse_x NUMERIC, mouse_y NUMERIC, mouse_button_name VARCHAR, mouse_pressed BOOLEAN, parent_id INTEGER,
  disabled BOOLEAN);
"""


def write_capture(folder: Path, images: list[bytes], png: bool, video: bool) -> None:
    """A capture of ``images`` (PNG bytes), one every GAP_S seconds, a click between each two."""
    from PIL import Image

    folder.mkdir(parents=True)
    con = sqlite3.connect(folder / "recording.db")
    con.executescript(SCHEMA)
    w, h = Image.open(io.BytesIO(images[0])).size
    con.execute(
        "INSERT INTO recording VALUES (1, ?, ?, ?, 1.0, 0.5, 5, 'linux', 'bench', ?, NULL, NULL)", (T0, w, h, T0)
    )
    ordinal = 0
    for i, data in enumerate(images):
        ordinal += 1
        con.execute(
            "INSERT INTO screenshot (source_ordinal, recording_id, timestamp, png_data) VALUES (?, 1, ?, ?)",
            (ordinal, T0 + i * GAP_S, data if png else None),
        )
        if i + 1 < len(images):
            for k, pressed in enumerate((1, 0)):
                ordinal += 1
                con.execute(
                    "INSERT INTO action_event (source_ordinal, name, timestamp, recording_id, screenshot_source_ordinal,"
                    " after_screenshot_source_ordinal, mouse_x, mouse_y, mouse_button_name, mouse_pressed)"
                    " VALUES (?, 'click', ?, 1, ?, ?, 100, 100, 'left', ?)",
                    (ordinal, T0 + i * GAP_S + 0.3 + 0.05 * k, ordinal - 1 - k, ordinal + 2 - k, pressed),
                )
    con.commit()
    con.close()
    if video:
        write_video(folder / f"oa_recording-{T0}.mp4", images)


def write_video(path: Path, images: list[bytes]) -> None:
    """The recorder's MP4: every screenshot at its PTS, gaps padded with repeats, then the box."""
    import av
    from PIL import Image

    frames, captures, sources = [], [], []
    with av.open(str(path), "w") as out:
        first = Image.open(io.BytesIO(images[0])).convert("RGB")
        stream = out.add_stream("libx264", rate=FPS, options={"crf": "0", "preset": "medium"})
        stream.width, stream.height, stream.pix_fmt = first.width, first.height, "yuv444p"
        emitted = 0
        last = None
        for i, data in enumerate(images):
            img = Image.open(io.BytesIO(data)).convert("RGB")
            pts = int(i * GAP_S * FPS)
            while last is not None and emitted < pts:  # padding: the previous screenshot again
                out.mux(stream.encode(av.VideoFrame.from_image(last)))
                emitted += 1
            frames.append([emitted, emitted / FPS])
            captures.append([emitted, T0 + i * GAP_S])
            sources.append([emitted, 1 + 3 * i])
            out.mux(stream.encode(av.VideoFrame.from_image(img)))
            emitted += 1
            last = img
        out.mux(stream.encode())
    payload = {
        "schema": "openadapt.capture-video-timing/v1",
        "fps": f"{FPS}/1",
        "frames": frames,
        "captures": captures,
        "sources": sources,
    }
    body = json.dumps(payload, separators=(",", ":")).encode()
    with path.open("ab") as f:
        f.write(struct.pack(">I4s16s", 24 + len(body), b"uuid", BOX_UUID) + body)


def run(quick: bool) -> dict:
    from screenstate.batch.job import BatchJob, JobConfig

    files = recording_files()[: 16 if quick else 60]
    images = [p.read_bytes() for p in files]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        write_capture(tmp / "cap_mp4", images, png=False, video=True)
        write_capture(tmp / "cap_png", images, png=True, video=False)
        folder = tmp / "folder"
        folder.mkdir()
        for i, p in enumerate(files):
            shutil.copy(p, folder / f"shot_{i:04d}.png")
        classes = DEV / "classes.json"

        def job(root: Path, name: str) -> tuple[float, list[str]]:
            cfg = JobConfig(
                root=root,
                classes=classes,
                output=tmp / f"{name}.csv",
                actions=tmp / f"{name}_actions.csv" if name.startswith("cap") else None,
                cache_dir=tmp / f"cache_{name}",  # cold: every run encodes its frames
                encoder="text",
                progress=False,
            )
            t = time.perf_counter()
            BatchJob(cfg).run()
            secs = time.perf_counter() - t
            import csv

            with open(tmp / f"{name}.csv", newline="") as f:
                return secs, [r["pred"] for r in csv.DictReader(f)]

        t_folder, p_folder = job(folder, "folder")
        t_mp4, p_mp4 = job(tmp / "cap_mp4", "cap_mp4")
        t_png, p_png = job(tmp / "cap_png", "cap_png")
        size = (tmp / "cap_mp4" / f"oa_recording-{T0}.mp4").stat().st_size
    n = len(files)

    def agree(a: list[str], b: list[str]) -> float:
        return sum(x == y for x, y in zip(a, b)) / max(1, len(a))

    return result(
        "capture_throughput",
        "retained screenshots/s (MP4 capture, text encoder, cold cache)",
        n / t_mp4,
        "the same screenshots as an image folder",
        n / t_folder,
        screenshots=n,
        encoded_video_frames=int((n - 1) * GAP_S * FPS) + 1,
        mp4_bytes=size,
        seconds_mp4_capture=t_mp4,
        seconds_png_capture=t_png,
        seconds_folder=t_folder,
        mp4_time_vs_folder=t_mp4 / t_folder,
        agreement_mp4_vs_png=agree(p_mp4, p_png),
        agreement_mp4_vs_folder=agree(p_mp4, p_folder),
        encoder="text",
    )
