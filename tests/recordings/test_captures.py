"""OpenAdapt captures read as upstream reads them: one frame per retained screenshot, the
right ``source_ordinal`` and Unix ``timestamp``, the actions merged as the recorder merges
them, and the capture folder left byte-identical.

The fixtures in ``tests/data/captures`` were written with openadapt-capture 1.3.0's own API
(``tests/recordings/make_captures.py``); ``NAME.expected.json`` is upstream's own reading.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from screenstate.embeddings.gating import LazyFrame
from screenstate.recordings import Frame, FrameSource, RecordingError, open_recording
from screenstate.recordings.timing import read_timing_box

pytest.importorskip("av")

CAPTURES = Path(__file__).resolve().parents[1] / "data" / "captures"
UPSTREAM_KINDS = {
    "mouse.singleclick": "click",
    "mouse.doubleclick": "double click",
    "mouse.drag": "drag",
    "mouse.scroll": "scroll",
    "key.shortcut": "key",
}


def expected(name: str) -> dict:
    return json.loads((CAPTURES / f"{name}.expected.json").read_text())


def snapshot(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` with its content hash (names of new files show up too)."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*"))}


def pixels(f: Frame) -> np.ndarray:
    data = f.load()
    img = data.load() if isinstance(data, LazyFrame) else Image.open(__import__("io").BytesIO(data)).convert("RGB")
    return np.asarray(img, dtype=np.int16)


@pytest.mark.parametrize("name", ["mp4_box", "png", "no_box", "cut_short", "window"])
def test_one_frame_per_retained_screenshot_as_upstream_lists_them(name):
    src = open_recording(CAPTURES / name)
    assert isinstance(src, FrameSource) and src.kind == "openadapt" and src.layout == "capture"
    frames = list(src.frames())
    want = expected(name)["frames"]
    assert [f.source_ordinal for f in frames] == [w["source_ordinal"] for w in want]
    assert [f.index for f in frames] == list(range(len(want)))
    if name != "no_box":  # exact capture times (from the box or the database)
        assert [f.timestamp for f in frames] == pytest.approx([w["timestamp"] for w in want], abs=1e-6)
    else:  # video_start_time + presentation time: within a frame (1/24 s) of the truth
        assert src.approximate_times and any("approximate" in n for n in src.notes)
        assert [f.timestamp for f in frames] == pytest.approx([w["timestamp"] for w in want], abs=1 / 24 + 1e-6)


@pytest.mark.parametrize("name", ["mp4_box", "no_box"])
def test_video_frames_are_the_screenshots_not_padding_neighbours(name):
    """Each frame from the MP4 is its own screenshot (compared with the PNG variant's)."""
    png = [pixels(f) for f in open_recording(CAPTURES / "png").frames()]
    for i, f in enumerate(open_recording(CAPTURES / name).frames()):
        got = pixels(f)
        dists = [float(np.abs(got - p).mean()) for p in png]
        assert dists[i] < 3.0, (i, dists[i])  # lossy H.264 (crf 20) of the same image
        assert dists[i] == min(dists), (i, dists)


def test_timing_box_binds_encoded_indexes_to_source_ordinals():
    mp4 = next((CAPTURES / "mp4_box").glob("oa_recording-*.mp4"))
    box = read_timing_box(mp4)
    assert box is not None and box.fps == 24 and box.sources is not None and box.captures is not None
    assert sorted(box.sources.values()) == [w["source_ordinal"] for w in expected("mp4_box")["frames"]]
    assert read_timing_box(next((CAPTURES / "no_box").glob("*.mp4"))) is None


def test_capture_cut_short_keeps_every_screenshot_as_a_row():
    frames = list(open_recording(CAPTURES / "cut_short").frames())
    assert len(frames) == 10
    assert all(f.error is None for f in frames[:7])
    for f in frames[7:]:
        assert f.error is not None and "not in oa_recording" in f.error and "cut short" in f.error


def test_png_capture_and_video_capture_give_the_same_actions_as_upstream():
    for name in ("mp4_box", "png", "window"):
        got = open_recording(CAPTURES / name).actions()
        want = expected(name)["actions"]
        assert len(got) == len(want) == 10
        for a, w in zip(got, want):
            kind = UPSTREAM_KINDS.get(w["type"]) or ("typed text" if w["text"] else "key")
            assert a.kind == kind
            assert a.time == pytest.approx(w["timestamp"])
            assert (a.x, a.y) == (w["x"], w["y"])
            assert (a.text or None) == (w["text"] or None)
            if w["keys"]:
                assert list(a.keys) == w["keys"]
            assert a.screenshot_source_ordinal == w["screenshot_source_ordinal"]
            assert a.after_screenshot_source_ordinal == w["after_screenshot_source_ordinal"]


def test_wal_capture_is_read_whole_and_its_folder_left_byte_identical(tmp_path):
    folder = tmp_path / "wal"
    shutil.copytree(CAPTURES / "wal", folder)
    assert (folder / "recording.db-wal").stat().st_size > 0
    before = snapshot(folder)
    src = open_recording(folder)
    frames = list(src.frames())
    assert [f.source_ordinal for f in frames] == [w["source_ordinal"] for w in expected("png")["frames"]]
    assert all(len(f.load()) > 0 for f in frames)  # type: ignore[arg-type]
    assert len(src.actions()) == 10
    assert any("2 monitors" in n for n in src.notes)
    assert snapshot(folder) == before


@pytest.mark.parametrize("name", ["mp4_box", "png", "no_box", "window"])
def test_sealed_capture_folder_left_byte_identical(name, tmp_path):
    folder = tmp_path / name
    shutil.copytree(CAPTURES / name, folder)
    before = snapshot(folder)
    src = open_recording(folder)
    for f in src.frames():
        f.load()
    src.actions()
    assert snapshot(folder) == before


def test_window_capture_is_said_and_positions_are_window_pixels():
    src = open_recording(CAPTURES / "window")
    assert any("window capture (Files)" in n for n in src.notes)
    assert src.actions()[0].x == expected("window")["actions"][0]["x"]


def test_capture_without_frames_and_without_database_say_what_is_wrong(tmp_path):
    cap = tmp_path / "nothing"
    shutil.copytree(CAPTURES / "mp4_box", cap)
    for mp4 in cap.glob("*.mp4"):
        mp4.unlink()
    with pytest.raises(RecordingError, match="keeps no screenshot PNGs and the folder has no oa_recording"):
        open_recording(cap)
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "recording.db").write_bytes(b"not a database at all" * 100)
    with pytest.raises(RecordingError, match="not a readable SQLite database"):
        open_recording(bad)


def test_video_over_the_pixel_limit_is_error_frames_without_decoding():
    frames = list(open_recording(CAPTURES / "mp4_box", max_pixels=100 * 100).frames())
    assert len(frames) == 10 and all(f.error is not None and "--max-pixels" in f.error for f in frames)
