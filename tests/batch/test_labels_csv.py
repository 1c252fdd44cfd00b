"""A flat folder with ``labels.csv``: classify-directory scores its states against the
labels (``unknown`` = none of the above, right only when a frame gets no state) and shows
the same accuracy in its summary, CSV, --scores file and --report, on the parallel path and
on the change gate's."""

from __future__ import annotations

import csv
import io
import json

import pytest
from PIL import Image

from screenstate.batch.job import BatchJob, JobConfig
from screenstate.batch.metrics import score_labels
from screenstate.batch.sequence import SequenceOptions

CLASSES = {
    "classifier_configs": [
        {"name": "red", "examples_to_include": ["a red screen"]},
        {"name": "green", "examples_to_include": ["a green screen"]},
    ]
}
COLORS = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (250, 250, 0), (0, 0, 0)]


def _png(color) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (96, 64), color).save(buf, "PNG")
    return buf.getvalue()


def _run(root, classes, tmp_path, tiny_options, **kw):
    cfg = JobConfig(
        root=root,
        classes=classes,
        output=tmp_path / "out.csv",
        scores_file=tmp_path / "s.jsonl",
        report=tmp_path / "r.html",
        cache_dir=tmp_path / "cache",
        encoder="clip",
        options=tiny_options,
        encode_in="local",
        progress=False,
        **kw,
    )
    return BatchJob(cfg).run()


@pytest.mark.parametrize("gate", ["off", "on"])
def test_flat_folder_scored_against_labels_csv(tmp_path, tiny_options, gate):
    root = tmp_path / "rec"
    root.mkdir()
    for i, c in enumerate(COLORS):
        (root / f"frame_{i}.png").write_bytes(_png(c))
    (root / "frame_5.png").write_bytes(b"broken")
    classes = tmp_path / "classes.json"
    classes.write_text(json.dumps(CLASSES))
    seq = SequenceOptions(gate=gate)
    first = _run(root, classes, tmp_path, tiny_options, sequence=seq, min_score=0.0)
    assert first.accuracy is None  # no labels.csv yet: nothing scored, no label column
    states = {r.path.rsplit("/", 1)[-1]: r.result.state if r.result else None for r in first.rows}
    other = {"red": "green", "green": "red"}
    # frame_0 labeled right, frame_1 wrong, frame_2 "unknown" though it has a state (wrong),
    # frame_3 unlabeled, frame_5 (unreadable) labeled: always wrong
    (root / "labels.csv").write_text(
        "frame,state\n"
        f"frame_0.png,{states['frame_0.png']}\nframe_1.png,{other[states['frame_1.png']]}\n"
        "frame_2.png,unknown\nframe_5.png,red\n"
    )
    s = _run(root, classes, tmp_path, tiny_options, sequence=seq, min_score=0.0)
    acc = s.accuracy
    assert acc is not None and (acc.correct, acc.n, acc.named, acc.unknown, acc.unreadable) == (1, 4, 3, 1, 1)
    assert [w[0] for w in acc.wrong] == ["frame_1.png", "frame_2.png", "frame_5.png"]
    assert acc.describe() in s.describe()
    assert "wrong: frame_1.png" in s.describe()

    with open(tmp_path / "out.csv", newline="") as f:
        rows = {r["path"].rsplit("/", 1)[-1]: r for r in csv.DictReader(f)}
    assert rows["frame_3.png"]["label"] == "" and rows["frame_0.png"]["is_correct"] == "True"
    assert sum(r["is_correct"] == "True" for r in rows.values()) == acc.correct

    recs = {json.loads(line)["path"].rsplit("/", 1)[-1]: json.loads(line) for line in open(tmp_path / "s.jsonl")}
    assert recs["frame_0.png"]["label"] == states["frame_0.png"] and recs["frame_0.png"]["correct"] is True
    assert recs["frame_2.png"]["correct"] is False and recs["frame_3.png"]["correct"] is None
    # the scores file alone gives the same accuracy (labels + states, unknown = no state)
    again = score_labels(
        [r["label"] for r in recs.values()],
        [r["state"] for r in recs.values()],
        unreadable=[r["error"] is not None for r in recs.values()],
    )
    assert again is not None and (again.correct, again.n) == (acc.correct, acc.n)

    html = (tmp_path / "r.html").read_text()
    assert acc.describe() in html and "Confusion matrix" in html


def test_unknown_label_is_right_only_without_a_state():
    a = score_labels(["unknown", "unknown", "x"], [None, "x", None], names=["a", "b", "c"])
    assert a is not None and (a.correct, a.unknown_correct, a.named_correct) == (1, 1, 0)
    assert a.wrong == (("b", "unknown", "x"), ("c", "x", "unknown"))
    assert score_labels([None, None], ["x", None]) is None


def test_unreadable_labels_csv_is_a_warning_and_every_output_is_written(tmp_path, tiny_options, caplog):
    root = tmp_path / "rec"
    root.mkdir()
    (root / "frame_0.png").write_bytes(_png(COLORS[0]))
    (root / "labels.csv").write_text("image,label\nframe_0.png,red\n")  # not frame,state
    classes = tmp_path / "classes.json"
    classes.write_text(json.dumps(CLASSES))
    with caplog.at_level("WARNING"):
        s = _run(root, classes, tmp_path, tiny_options)
    assert s.accuracy is None and len(s.outputs) == 3
    assert "not scored against labels" in caplog.text and "expected columns frame,state" in caplog.text
