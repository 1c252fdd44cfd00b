"""classify_directory on Ray with a tiny CLIP: bad files, duplicates, resume, cache, eval."""

from __future__ import annotations

import csv
import io
import json

import pytest
from PIL import Image

from screenstate.batch.job import BatchJob, JobConfig
from screenstate.batch.metrics import evaluate
from screenstate.recordings.folder import discover_frames

CLASSES = {
    "classifier_configs": [
        {"name": "red", "examples_to_include": ["a red screen"]},
        {"name": "green", "examples_to_include": ["a green screen"], "examples_to_exclude": ["a red screen"]},
    ]
}


def _png(color, size=(96, 64)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, "PNG")
    return buf.getvalue()


@pytest.fixture()
def recording(tmp_path):
    root = tmp_path / "rec"
    root.mkdir()
    frames = {
        "frame_1.png": _png((255, 0, 0)),
        "frame_2.png": _png((255, 0, 0)),  # exact duplicate of frame_1
        "frame_3.png": _png((0, 255, 0)),
        "frame_4.png": b"\x89PNG\r\n\x1a\n garbage",  # corrupt
        "frame_5.png": b"",  # empty
        "frame_6.png": _png((0, 0, 255))[:80],  # truncated
        "frame_7.dat": b"not an image at all",  # non-image file
        "frame_10.png": _png((0, 250, 0)),
        "frame_11.png": _png((0, 255, 0)),  # duplicate of frame_3
    }
    for name, data in frames.items():
        (root / name).write_bytes(data)
    (root / "labels.csv").write_text("frame,state\n")  # side file, not a frame
    classes = tmp_path / "classes.json"
    classes.write_text(json.dumps(CLASSES))
    return root, classes


def _config(root, classes, tmp_path, tiny_options, **kw):
    return JobConfig(
        root=root,
        classes=classes,
        output=tmp_path / "out.csv",
        cache_dir=tmp_path / "cache",
        encoder="clip",
        options=tiny_options,
        batch_size=2,
        progress=False,
        **kw,
    )


def _rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_every_frame_once_bad_ones_reported_duplicates_encoded_once(recording, tmp_path, tiny_options, ray_session):
    root, classes = recording
    cfg = _config(root, classes, tmp_path, tiny_options, scores_file=tmp_path / "s.jsonl", encode_in="actors")
    summary = BatchJob(cfg).run()
    rows = _rows(tmp_path / "out.csv")
    names = [r["path"].rsplit("/", 1)[1] for r in rows]
    assert names == [
        "frame_1.png",
        "frame_2.png",
        "frame_3.png",
        "frame_4.png",
        "frame_5.png",
        "frame_6.png",
        "frame_7.dat",
        "frame_10.png",
        "frame_11.png",
    ]  # natural order, none dropped
    errors = {n: r["error"] for n, r in zip(names, rows) if r["error"]}
    assert set(errors) == {"frame_4.png", "frame_5.png", "frame_6.png", "frame_7.dat"}
    assert "empty file" in errors["frame_5.png"]
    assert "not a recognised image format" in errors["frame_7.dat"]
    assert "truncated" in errors["frame_6.png"] or "corrupt" in errors["frame_6.png"]
    assert all(r["pred"] in ("red", "green") for n, r in zip(names, rows) if n not in errors)
    assert summary.n_frames == 9 and summary.n_errors == 4
    assert summary.encoded == 3  # red, green, slightly different green: duplicates encoded once
    assert rows[0]["pred"] == rows[1]["pred"] and rows[2]["pred"] == rows[8]["pred"]
    scores = [json.loads(line) for line in (tmp_path / "s.jsonl").read_text().splitlines()]
    assert len(scores) == 9 and set(scores[0]["raw_scores"]) == {"red", "green"}


def test_edited_class_file_reencodes_nothing(recording, tmp_path, tiny_options, ray_session):
    root, classes = recording
    BatchJob(_config(root, classes, tmp_path, tiny_options)).run()
    edited = dict(CLASSES)
    edited["classifier_configs"] = [*CLASSES["classifier_configs"], {"name": "blue", "examples_to_include": ["blue"]}]
    classes.write_text(json.dumps(edited))
    summary = BatchJob(_config(root, classes, tmp_path, tiny_options)).run()
    assert summary.encoded == 0 and summary.cached == 3
    assert {r["pred"] for r in _rows(tmp_path / "out.csv") if not r["error"]} <= {"red", "green", "blue"}


def test_resume_after_interruption_equals_uninterrupted(recording, tmp_path, tiny_options, ray_session):
    root, classes = recording
    full_dir = tmp_path / "full"
    full_dir.mkdir()
    BatchJob(_config(root, classes, full_dir, tiny_options)).run()
    expected = (full_dir / "out.csv").read_text()

    class Killed(Exception):
        pass

    def kill(done):
        if done >= 1:
            raise Killed

    cut = tmp_path / "cut"
    cut.mkdir()
    with pytest.raises(Killed):
        BatchJob(_config(root, classes, cut, tiny_options, on_encoded=kill)).run()
    assert not (cut / "out.csv").exists()  # no half-written output
    summary = BatchJob(_config(root, classes, cut, tiny_options, resume=True)).run()
    assert summary.cached >= 1 and summary.encoded == 3 - summary.cached
    assert (cut / "out.csv").read_text() == expected


def test_labeled_layout_eval_metrics_and_report(tmp_path, tiny_options, ray_session):
    root = tmp_path / "labeled"
    for label, color in (("red", (255, 0, 0)), ("green", (0, 255, 0))):
        (root / label).mkdir(parents=True)
        for i in range(2):
            (root / label / f"{i}.png").write_bytes(_png((color[0], color[1] - i, color[2])))
    (root / "green" / "broken.png").write_bytes(b"nope")
    classes = tmp_path / "classes.json"
    classes.write_text(json.dumps(CLASSES))
    cfg = _config(
        root,
        classes,
        tmp_path,
        tiny_options,
        eval_only=True,
        metrics_json=tmp_path / "m.json",
        report=tmp_path / "r.html",
    )
    summary = BatchJob(cfg).run()
    m = json.loads((tmp_path / "m.json").read_text())
    assert m["n"] == 5 and m["unreadable"] == 1 and set(m) >= {"accuracy", "per_class", "confusion"}
    assert summary.metrics["accuracy"] == m["accuracy"]
    rows = _rows(tmp_path / "out.csv")
    assert list(rows[0]) == ["path", "label", "pred", "is_correct", "state", "error"]
    assert sum(r["is_correct"] == "True" for r in rows) == round(m["accuracy"] * 5)
    html = (tmp_path / "r.html").read_text()
    assert "Confusion matrix" in html and "broken.png" in html


def test_flat_report_has_timeline(recording, tmp_path, tiny_options, ray_session):
    root, classes = recording
    BatchJob(_config(root, classes, tmp_path, tiny_options, report=tmp_path / "r.html")).run()
    html = (tmp_path / "r.html").read_text()
    assert "State timeline" in html and html.count("class='tip'") == 9
    tips = [t.split("</span>")[0] for t in html.split("class='tip'")[1:]]
    assert sum("data:image/jpeg;base64" in t for t in tips) == 5  # a hover thumbnail for every readable frame
    assert "<h2>Segments</h2>" in html


def test_layout_and_metrics_units(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x.png").write_bytes(_png((1, 1, 1)))
    frames, layout = discover_frames(tmp_path)
    assert layout == "labeled" and frames[0].label == "a"
    m = evaluate(["a", "a", "b"], ["a", "b", "b"], ["a", "b"])
    assert m["accuracy"] == pytest.approx(2 / 3)
    assert m["per_class"]["a"] == {"precision": 1.0, "recall": 0.5, "f1": pytest.approx(2 / 3), "support": 2}
    assert m["confusion"]["a"]["b"] == 1
