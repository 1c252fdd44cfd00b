"""Videos as recordings: timestamps, sampling, capture directories, damaged files, gating,
segments, Ray ranges. Videos are encoded here with PyAV (H.264)."""

from __future__ import annotations

import csv
import json
import shutil

import pytest
from PIL import Image, ImageDraw

from screenstate.batch.job import BatchJob, JobConfig
from screenstate.batch.sequence import SequenceOptions
from screenstate.batch.video_ranges import split_at_keyframes
from screenstate.batch.video_write import draw_cursor as with_cursor
from screenstate.errors import ScreenstateError
from screenstate.recordings.decode import VideoError, decode_video, find_video, keyframe_times

av = pytest.importorskip("av")

CLASSES = {
    "classifier_configs": [
        {"name": "red", "examples_to_include": ["a red screen"]},
        {"name": "green", "examples_to_include": ["a green screen"]},
        {"name": "blue", "examples_to_include": ["a blue screen"]},
    ]
}
#: variable frame rate: irregular gaps, as screen recorders write when little changes
VFR_TIMES = [0.0, 0.1, 0.35, 0.4, 1.0, 1.2, 1.25, 2.5, 2.6, 4.0]


def _screen(color, i=0, size=(192, 128)):
    im = Image.new("RGB", size, color)
    ImageDraw.Draw(im).rectangle((8, 8, 60, 30), fill=(255, 255, 255))
    return with_cursor(im, 70 + 9 * i, 60)


def _rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture()
def classes(tmp_path):
    p = tmp_path / "classes.json"
    p.write_text(json.dumps(CLASSES))
    return p


def _job(root, classes, tmp_path, tiny_options, **seq):
    out = tmp_path / "out.csv"
    cfg = JobConfig(
        root=root,
        classes=classes,
        output=out,
        cache_dir=tmp_path / "cache",
        encoder="clip",
        options=tiny_options,
        progress=False,
        sequence=SequenceOptions(**seq),
    )
    return BatchJob(cfg), out


def test_vfr_timestamps_and_every_frame_a_row(make_video, classes, tmp_path, tiny_options):
    frames = [(_screen((200, 30, 30), i), t) for i, t in enumerate(VFR_TIMES)]
    video = make_video("rec.mp4", frames)
    assert [round(it.time_s, 3) for it in decode_video(video)] == VFR_TIMES
    job, out = _job(video, classes, tmp_path, tiny_options)
    summary = job.run()
    rows = _rows(out)
    assert list(rows[0]) == ["path", "frame_index", "time_s", "pred", "state", "error"]
    assert [float(r["time_s"]) for r in rows] == VFR_TIMES
    assert [int(r["frame_index"]) for r in rows] == list(range(len(VFR_TIMES)))
    assert all(r["path"] == str(video) and r["pred"] and not r["error"] for r in rows)
    assert summary.layout == "video" and summary.n_frames == len(VFR_TIMES)


def test_fps_sampling_keeps_first_frame_of_each_interval(make_video, classes, tmp_path, tiny_options):
    video = make_video("rec.mkv", [(_screen((30, 200, 30), i), i * 0.1) for i in range(20)])
    job, out = _job(video, classes, tmp_path, tiny_options, fps=2.0)
    job.config.scores_file = tmp_path / "scores.jsonl"
    job.run()
    rows = _rows(out)
    assert [float(r["time_s"]) for r in rows] == [0.0, 0.5, 1.0, 1.5]
    assert [int(r["frame_index"]) for r in rows] == [0, 5, 10, 15]  # index in the video, not in the sample
    scores = [json.loads(line) for line in job.config.scores_file.read_text().splitlines()]
    assert [(s["frame_index"], s["time_s"]) for s in scores] == [(0, 0.0), (5, 0.5), (10, 1.0), (15, 1.5)]
    assert set(scores[0]["raw_scores"]) == {"red", "green", "blue"}


def test_openadapt_capture_directory(make_video, classes, tmp_path, tiny_options):
    cap = tmp_path / "recording_123"
    cap.mkdir()
    (cap / "recording.db").write_bytes(b"SQLite format 3\x00")
    make_video("oa_recording-1700000000.mp4", [(_screen((30, 30, 200), i), i * 0.2) for i in range(5)])
    shutil.move(tmp_path / "oa_recording-1700000000.mp4", cap / "oa_recording-1700000000.mp4")
    assert find_video(cap) == cap / "oa_recording-1700000000.mp4"
    # a capture folder is read through its database (one row per screenshot, never the
    # 24 fps padding): a database that is not one is a clear error, not 5 video rows
    with pytest.raises(ScreenstateError, match="recording.db: not a readable SQLite database"):
        _job(cap, classes, tmp_path, tiny_options)[0].run()  # refused when the job is made, before any model
    # two videos and no capture name: ambiguous, say which
    other = tmp_path / "two"
    other.mkdir()
    for n in ("a.mp4", "b.mkv"):
        shutil.copy(cap / "oa_recording-1700000000.mp4", other / n)
    with pytest.raises(VideoError, match="holds 2 videos.*pass one of them"):
        find_video(other)
    # a missing path is left to the folder layout's message, unless it names a video
    assert find_video(tmp_path / "nope") is None
    with pytest.raises(VideoError, match="missing.mp4: file not found"):
        find_video(tmp_path / "missing.mp4")


@pytest.mark.parametrize(
    "data, message",
    [
        (b"", "empty file"),
        (b"this is a text file, not a video" * 20, "not a video FFmpeg can open.*supported: containers MP4"),
    ],
)
def test_unusable_files_get_a_clear_error(tmp_path, classes, tiny_options, data, message):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(data)
    with pytest.raises(VideoError, match=message):
        _job(bad, classes, tmp_path, tiny_options)[0].run()  # refused when the job is made, before any model


@pytest.mark.parametrize("name", ["empty.mkv", "empty.mp4"])
def test_zero_length_video_is_an_error(tmp_path, name):
    path = tmp_path / name
    out = av.open(str(path), "w")
    stream = out.add_stream("libx264", rate=10)
    stream.width, stream.height, stream.pix_fmt = 64, 64, "yuv420p"
    out.start_encoding()  # header and trailer, no frame
    for p in stream.encode():
        out.mux(p)
    out.close()
    assert path.stat().st_size > 0
    with pytest.raises(VideoError, match="no video frames.*zero-length"):
        list(decode_video(path))


def test_truncated_video_rows_up_to_last_frame_then_an_error_row(make_video, classes, tmp_path, tiny_options):
    frames = [(_screen((200, 30, 30) if i < 20 else (30, 30, 200), i % 10), i * 0.1) for i in range(40)]
    full = make_video("full.mkv", frames)
    data = full.read_bytes()
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(data[: len(data) * 6 // 10])
    job, out = _job(cut, classes, tmp_path, tiny_options)
    summary = job.run()
    rows = _rows(out)
    good, last = rows[:-1], rows[-1]
    assert good and all(not r["error"] for r in good)
    assert [int(r["frame_index"]) for r in good] == list(range(len(good)))  # from the start, none skipped
    assert len(good) < 40 and last["error"] and not last["pred"]
    assert f"ends after {float(good[-1]['time_s']):.3f} s" in last["error"] and "truncated" in last["error"]
    assert summary.n_errors == 1


def test_damaged_frames_in_the_middle_are_an_error_row_not_dropped(make_video, tmp_path):
    frames = [(_screen((i * 6, 100, 200), i), i * 0.1) for i in range(40)]
    video = make_video("rec.mp4", frames, options={"g": "10", "bf": "0"})
    data = bytearray(video.read_bytes())
    mid = len(data) // 2
    data[mid : mid + 300] = b"\x55" * 300
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(bytes(data))
    items = list(decode_video(bad))
    ok = [it for it in items if it.error is None]
    errs = [it for it in items if it.error is not None]
    assert errs and all("could not be decoded" in e.error for e in errs)
    n_lost = sum(int(e.error.split(": ")[1].split(" frame")[0]) for e in errs)
    assert len(ok) + n_lost == 40  # every frame is a row or counted in an error row


def test_gated_equals_per_frame_and_encodes_once_per_screen(make_video, classes, tmp_path, tiny_options):
    colors = [(200, 30, 30), (30, 200, 30), (30, 30, 200)]
    frames = [(_screen(c, i), k * 1.0 + i * 0.1) for k, c in enumerate(colors) for i in range(10)]
    video = make_video("rec.mp4", frames)
    gated, out_g = _job(video, classes, tmp_path / "g", tiny_options, gate="on")
    sg = gated.run()
    plain, out_p = _job(video, classes, tmp_path / "p", tiny_options, gate="off")
    sp = plain.run()
    preds_g = [r["pred"] for r in _rows(out_g)]
    preds_p = [r["pred"] for r in _rows(out_p)]
    assert len(preds_g) == 30 and preds_g == preds_p
    assert sg.encoded == 3 and sp.encoded == 30  # the moving cursor never costs a full read
    # a re-run (e.g. with an edited class file) reads nothing again
    again, _ = _job(video, classes, tmp_path / "g", tiny_options, gate="on")
    assert again.run().encoded == 0


def test_text_channel_gated_agrees_with_per_frame_on_real_screens(make_video, tmp_path, text_encoder, data_dir):
    from screenstate.batch.sequence import gate_video
    from screenstate.classify import ScreenClassifier
    from screenstate.embeddings.gating import GateOptions

    frames = []
    for k, name in enumerate(["login_page.png", "error_dialog.png", "file_chooser.png"]):
        base = Image.open(data_dir / name).convert("RGB").resize((960, 540))
        frames += [(with_cursor(base, 200 + 25 * i, 150 + 10 * i), k + i * 0.25) for i in range(4)]
    video = make_video("real.mp4", frames)
    clf = ScreenClassifier(data_dir / "classes_small.json", encoder=text_encoder, memory_cache=0)
    gated = gate_video(clf, video, GateOptions.for_video())
    plain = gate_video(clf, video, None)
    assert gated.counts.get("full", 0) == 3 and plain.counts["full"] == 12
    pg = [r.pred for r in clf.classify_features([gated.features[i] for i in gated.feature_ids])]
    pp = [r.pred for r in clf.classify_features(plain.features)]
    assert pg == pp and pg[0] == "login_page" and pg[4] == "error_dialog" and pg[8] == "file_chooser"


def test_segments_of_a_known_sequence(make_video, classes, tmp_path, tiny_options):
    from screenstate.batch.segments import find_segments

    colors = [(200, 30, 30)] * 5 + [(30, 200, 30)] * 3 + [(30, 30, 200)] * 4
    video = make_video("rec.mp4", [(_screen(c, i), i * 0.5) for i, c in enumerate(colors)])
    seg_path = tmp_path / "seg.csv"
    job, out = _job(video, classes, tmp_path, tiny_options, segments=seg_path)
    job.run()
    rows, segs = _rows(out), _rows(seg_path)
    assert list(segs[0]) == ["state", "start_s", "end_s", "start_frame", "end_frame", "frames", "mean_score"]
    # the segments are exactly the runs of predicted states, tiling the recording
    runs = find_segments([r["state"] or "unknown" for r in rows], [float(r["time_s"]) for r in rows], [1.0] * 12)
    assert [(s["state"], int(s["start_frame"]), int(s["end_frame"])) for s in segs] == [
        (g.state, g.start_frame, g.end_frame) for g in runs
    ]
    assert float(segs[0]["start_s"]) == 0.0 and float(segs[-1]["end_s"]) == pytest.approx(6.0)
    assert sum(int(s["frames"]) for s in segs) == 12


@pytest.mark.parametrize(
    "states, times, min_s, expected",
    [
        # one misread frame inside a run does not split it
        (["a", "a", "b", "a", "a"], [0, 1, 2, 3, 4], 1.5, [("a", 0, 4)]),
        # a long run is kept
        (["a", "a", "b", "b", "a"], [0, 1, 2, 3, 4], 1.5, [("a", 0, 1), ("b", 2, 3), ("a", 4, 4)]),
        # a transition frame read as a third state joins the state before it
        (["a", "a", "c", "b", "b"], [0, 1, 2, 3, 4], 1.5, [("a", 0, 2), ("b", 3, 4)]),
        # a short first run joins the run after it
        (["c", "a", "a", "a"], [0, 1, 2, 3], 1.5, [("a", 0, 3)]),
        # an unreadable frame is never absorbed
        (["a", "<unreadable>", "a"], [0, 1, 2], 5.0, [("a", 0, 0), ("<unreadable>", 1, 1), ("a", 2, 2)]),
        # rule off
        (["a", "b", "a"], [0, 1, 2], 0.0, [("a", 0, 0), ("b", 1, 1), ("a", 2, 2)]),
    ],
)
def test_temporal_rule(states, times, min_s, expected):
    from screenstate.batch.segments import find_segments

    segs = find_segments(states, [float(t) for t in times], [0.5] * len(states), min_duration_s=min_s)
    assert [(g.state, g.start_frame, g.end_frame) for g in segs] == expected
    assert segs[-1].end_s == pytest.approx(times[-1] + 1.0)


def test_ray_ranges_give_the_same_rows_as_one_pass(make_video, classes, tmp_path, tiny_options, ray_session):
    colors = [(200, 30, 30), (30, 200, 30), (30, 30, 200), (200, 200, 30)]
    frames = [(_screen(c, i), k * 1.0 + i * 0.1) for k, c in enumerate(colors) for i in range(10)]
    video = make_video("rec.mp4", frames, options={"g": "10", "bf": "0"})
    keys = keyframe_times(video)
    assert len(keys) >= 4
    assert split_at_keyframes(keys, 4.0, 2) == [(0.0, 2.0), (2.0, None)]
    one, out1 = _job(video, classes, tmp_path / "one", tiny_options)
    one.run()
    split, out2 = _job(video, classes, tmp_path / "two", tiny_options, video_ranges=2)
    summary = split.run()
    r1, r2 = _rows(out1), _rows(out2)
    assert [(r["frame_index"], r["time_s"]) for r in r2] == [(r["frame_index"], r["time_s"]) for r in r1]
    assert [r["pred"] for r in r2] == [r["pred"] for r in r1]
    assert summary.encoded == 4  # each range starts with a full read at its first screen


def test_gated_flat_folder(tmp_path, classes, tiny_options):
    root = tmp_path / "frames"
    root.mkdir()
    for i in range(6):
        _screen((200, 30, 30) if i < 3 else (30, 200, 30), 0).save(root / f"frame_{i + 1}.png")
    (root / "frame_7.png").write_bytes(b"garbage")
    seg = tmp_path / "seg.csv"
    job, out = _job(root, classes, tmp_path, tiny_options, gate="on", segments=seg)
    summary = job.run()
    rows = _rows(out)
    assert [r["path"].rsplit("/", 1)[1] for r in rows] == [f"frame_{i}.png" for i in range(1, 8)]
    assert rows[-1]["error"] and summary.encoded == 2
    segs = _rows(seg)
    assert [int(s["frames"]) for s in segs][-1] == 1 and segs[-1]["state"] == "<unreadable>"
    assert segs[0]["start_s"] == ""  # image folders have no times
    with pytest.raises(ScreenstateError, match="--fps samples a video"):
        _job(root, classes, tmp_path, tiny_options, fps=2.0)[0].run()


def test_report_timeline_in_seconds_with_thumbnails(make_video, classes, tmp_path, tiny_options):
    colors = [(200, 30, 30)] * 4 + [(30, 30, 200)] * 4
    video = make_video("rec.mp4", [(_screen(c, i), i * 0.5) for i, c in enumerate(colors)])
    job = BatchJob(
        JobConfig(
            root=video,
            classes=classes,
            report=tmp_path / "r.html",
            cache_dir=tmp_path / "cache",
            encoder="clip",
            options=tiny_options,
            progress=False,
        )
    )
    job.run()
    html = (tmp_path / "r.html").read_text()
    assert "State timeline (seconds)" in html and "4.0 s" in html
    assert html.count("data:image/jpeg;base64") >= 1


def test_cli_readme_workflow_on_an_openadapt_capture(make_video, classes, tmp_path, data_dir):
    from typer.testing import CliRunner

    from screenstate.cli import app

    cap = tmp_path / "recording_123"
    cap.mkdir()
    (cap / "recording.db").write_bytes(b"SQLite format 3\x00" + bytes(4096))
    colors = [(200, 30, 30)] * 4 + [(30, 200, 30)] * 4
    video = make_video("oa_recording-1700000000.mp4", [(_screen(c, i), i * 0.25) for i, c in enumerate(colors)])
    shutil.move(video, cap / video.name)
    tiny = ["--encoder", "clip", "--clip-model", str(data_dir / "tiny-clip.json"), "--clip-pretrained", "random"]
    out, seg = tmp_path / "out.csv", tmp_path / "seg.csv"
    # the capture's MP4 on its own is a video (the capture folder is read through its database)
    args = ["classify-directory", "--root", str(cap / video.name), "--classes", str(classes), "--output", str(out)]
    res = CliRunner().invoke(app, [*args, "--segments", str(seg), "--cache", str(tmp_path / "c"), *tiny])
    assert res.exit_code == 0, res.output
    assert "8 frames (video)" in res.output and len(_rows(out)) == 8 and _rows(seg)
    bad = CliRunner().invoke(app, [*args[:2], str(cap / "recording.db"), *args[3:], *tiny])
    assert bad.exit_code != 0 and "recording.db: not a video FFmpeg can open" in bad.output
    assert "supported: containers MP4" in bad.output
