"""Issue #29 item 5, each reproduced: the report never opens an error row's path (a FIFO
used to hang it), a video over --max-pixels is error rows without being decoded, and
damaged data inside a stream is error rows for every frame it touches."""

from __future__ import annotations

import csv
import os
import random
import threading
from pathlib import Path

import pytest
from PIL import Image, ImageDraw
from tiny_jobs import tiny_job  # tests/batch/tiny_jobs.py

from screenstate.batch.job import BatchJob
from screenstate.batch.report import render_report
from screenstate.batch.summary import FrameRow

pytest.importorskip("av")


def _frames(n: int) -> list[tuple[Image.Image, float]]:
    out = []
    for i in range(n):
        im = Image.new("RGB", (320, 240), (30 + i * 5, 60, 200 - i * 4))
        d = ImageDraw.Draw(im)
        d.text((10 + i * 3, 100), f"frame {i} text here", fill=(255, 255, 255))
        d.rectangle((i * 7, 10, i * 7 + 30, 40), fill=(200, 200, 0))
        out.append((im, i * 0.1))
    return out


def _job(root: Path, tmp_path: Path, data_dir: Path, tiny_options, **kw) -> tuple[BatchJob, Path]:
    out = tmp_path / "out.csv"
    return tiny_job(root, out, tmp_path, data_dir, tiny_options, **kw), out


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_report_never_opens_an_error_rows_path(tmp_path, data_dir):
    fifo = tmp_path / "frame.png"
    os.mkfifo(fifo)  # opening it for reading would block forever (no writer)
    rows = [FrameRow(str(fifo), "login_page", None, None, "frame.png: a FIFO, not a file")]
    done: list[str] = []
    t = threading.Thread(target=lambda: done.append(render_report(rows, "labeled", None, ["login_page"])))
    t.daemon = True
    t.start()
    t.join(30)
    assert done and "a FIFO, not a file" in done[0]


def test_video_over_max_pixels_is_error_rows_and_never_decoded(
    make_video, tmp_path, data_dir, tiny_options, monkeypatch
):
    video = make_video("big.mp4", _frames(6))
    import screenstate.recordings.decode as decode

    def no_decoding(*a, **k):
        raise AssertionError("decoded a video over --max-pixels")

    monkeypatch.setattr(decode, "decode_video", no_decoding)
    job, out = _job(video, tmp_path, data_dir, tiny_options, max_pixels=320 * 240 - 1)
    summary = job.run()
    rows = list(csv.DictReader(open(out)))
    assert summary.n_errors == len(rows) == 6
    assert all("over the limit of 76799 (--max-pixels); not decoded" in r["error"] for r in rows)


def test_damaged_data_inside_a_stream_is_error_rows_for_every_frame_it_touches(make_video, tmp_path):
    from screenstate.recordings.decode import decode_video, keyframe_times

    good = make_video("good.mp4", _frames(40), options={"crf": "18", "g": "30", "bf": "0"})
    data = good.read_bytes()
    keys = keyframe_times(good)
    for off in range(len(data) // 4, 3 * len(data) // 4, 250):  # garbage somewhere in the frame data
        rng = random.Random(off)
        bad = tmp_path / "bad.mp4"
        bad.write_bytes(data[:off] + bytes(rng.getrandbits(8) for _ in range(1024)) + data[off + 1024 :])
        items = list(decode_video(bad))
        errors = [it for it in items if it.error is not None]
        if errors:
            break
    else:
        pytest.skip("no offset damaged a frame the decoder noticed")
    first_bad = min(it.time_s for it in errors)
    next_key = min((k for k in keys if k > first_bad), default=float("inf"))
    decoded = [it.time_s for it in items if it.frame is not None]
    # no frame between the damage and the next keyframe comes back as if it were fine
    assert not [t for t in decoded if first_bad <= t < next_key - 1e-6]
    assert "damaged data" in (errors[0].error or "")
    # and nothing is dropped: frames that decoded + frames named in error runs = all 40
    lost = sum(
        int((it.error or "").split(": ")[1].split(" frame")[0]) for it in errors if "frame(s)" in (it.error or "")
    )
    assert len(decoded) + lost == 40
