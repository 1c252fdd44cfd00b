"""CLI paths a user relies on, checked against the Python API: classify-directory's
evaluation outputs and --resume, the ``classify_directory`` console script with the
reference server's flags joining a given Ray cluster, ``detect`` and ``label --negative``."""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image
from typer.testing import CliRunner

from screenstate.cli import app

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[2]
STATES = ("error_dialog", "file_chooser", "login_page")


def tiny_clip_flags(data_dir: Path) -> list[str]:
    return [
        *("--encoder", "clip", "--clip-model", str(data_dir / "tiny-clip.json")),
        *("--clip-pretrained", "random", "--precision", "fp32", "--device", "cpu"),
    ]


@pytest.fixture
def labeled(tmp_path, data_dir) -> Path:
    """ROOT/<state>/<state>.png for the three test screens."""
    root = tmp_path / "labeled"
    for s in STATES:
        (root / s).mkdir(parents=True)
        shutil.copyfile(data_dir / f"{s}.png", root / s / f"{s}.png")
    return root


@pytest.fixture(scope="module")
def api(data_dir, tiny_clip_encoder):
    from screenstate import ScreenClassifier

    return ScreenClassifier(data_dir / "classes_small.json", encoder=tiny_clip_encoder, min_score=0.6)


def test_eval_only_writes_metrics_scores_and_report(labeled, data_dir, tmp_path, ray_session, api):
    out = tmp_path / "out"
    res = runner.invoke(
        app,
        [
            "classify-directory",
            *("--root", str(labeled), "--classifier_json_file", str(data_dir / "classes_small.json")),
            "--eval_only",
            *("--metrics_json", str(out / "m.json"), "--scores", str(out / "s.jsonl")),
            *("--report", str(out / "r.html"), "--cache", str(tmp_path / "cache"), "--min-score", "0.6"),
            *tiny_clip_flags(data_dir),
        ],
    )
    assert res.exit_code == 0, res.output
    want = {s: api.classify(labeled / s / f"{s}.png") for s in STATES}
    # an unaccepted state counts as "unknown", never as the argmax class
    right = sum((r.state or "unknown") == s for s, r in want.items())
    metrics = json.loads((out / "m.json").read_text())
    assert metrics["n"] == 3 and metrics["accuracy"] == pytest.approx(right / 3)
    assert f"accuracy vs labels: {right}/3 ({right / 3:.3f})" in res.output
    for s, r in want.items():
        assert metrics["confusion"][s][r.state or "unknown"] == 1
    scores = [json.loads(line) for line in (out / "s.jsonl").read_text().splitlines()]
    assert [Path(x["path"]).parent.name for x in scores] == list(STATES)
    for x in scores:
        r = want[x["label"]]
        assert x["pred"] == r.pred and x["state"] == r.state and x["error"] is None
        assert x["raw_scores"] == pytest.approx(r.raw_scores, abs=1e-5)
        assert x["scores"] == pytest.approx(r.scores, abs=1e-5)
    html = (out / "r.html").read_text()
    assert html.startswith("<!DOCTYPE html>") or html.lower().startswith("<!doctype html>")
    assert f"{100 * right / 3:.1f}" in html and all(s in html for s in STATES)


def test_resume_encodes_only_new_frames_and_keeps_results(labeled, data_dir, tmp_path, ray_session, api):
    cache, csv1 = tmp_path / "cache", tmp_path / "a.csv"
    args = [
        *("classify-directory", "--classes", str(data_dir / "classes_small.json"), "--cache", str(cache)),
        *tiny_clip_flags(data_dir),
        *("--min-score", "0.6"),
    ]
    moved = tmp_path / "later.png"
    shutil.move(labeled / "login_page" / "login_page.png", moved)  # "interrupted" before this frame
    res = runner.invoke(app, [*args, "--root", str(labeled), "--output", str(csv1)])
    assert res.exit_code == 0, res.output
    assert "2 frames (labeled), 2 distinct, 2 encoded, 0 from cache" in res.output
    shutil.move(moved, labeled / "login_page" / "login_page.png")
    csv2 = tmp_path / "b.csv"
    res = runner.invoke(app, [*args, "--root", str(labeled), "--output", str(csv2), "--resume"])
    assert res.exit_code == 0, res.output
    assert "3 frames (labeled), 3 distinct, 1 encoded, 2 from cache" in res.output
    rows = list(csv.DictReader(csv2.open()))
    assert [(Path(r["path"]).parent.name, r["pred"], r["state"]) for r in rows] == [
        (s, api.classify(labeled / s / f"{s}.png").pred, api.classify(labeled / s / f"{s}.png").state or "")
        for s in STATES
    ]
    assert list(csv.DictReader(csv1.open())) == [r for r in rows if "login_page" not in r["path"]]


def test_console_script_with_reference_flags_joins_the_given_ray_cluster(labeled, data_dir, tmp_path, ray_session, api):
    import ray
    from ray._private import state

    address = ray.get_runtime_context().gcs_address
    jobs_before = len(state.jobs())
    script = Path(sys.executable).with_name("classify_directory")
    out = tmp_path / "preds.csv"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}
    env.pop("RAY_ADDRESS", None)
    proc = subprocess.run(
        [
            str(script),
            *("--root", str(labeled), "--classifier_json_file", str(data_dir / "classes_small.json")),
            *("--output_file", str(out), "--eval_only", "--ray-address", address, "--min-score", "0.6"),
            *("--cache", str(tmp_path / "cache")),
            *tiny_clip_flags(data_dir),
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "3 frames (labeled)" in proc.stdout and "accuracy" in proc.stdout
    rows = list(csv.DictReader(out.open()))
    assert rows[0].keys() == {"path", "label", "pred", "is_correct", "state", "error"}
    for r in rows:
        want = api.classify(Path(r["path"]))
        assert (r["label"], r["pred"], r["state"]) == (Path(r["path"]).parent.name, want.pred, want.state or "")
        assert r["is_correct"] == str((want.state or "unknown") == r["label"])
    # the job ran as a driver of this test's Ray cluster, not a private one
    assert len(state.jobs()) == jobs_before + 1


DETECTOR = {
    "detector_configs": [
        {"name": "sign_in_button", "examples_to_include": ["the Sign In button"], "detection_threshold": 0.5}
    ]
}


def test_detect_json_draw_and_regions(data_dir, tmp_path):
    spec = tmp_path / "det.json"
    spec.write_text(json.dumps(DETECTOR))
    img = data_dir / "login_page.png"
    drawn = tmp_path / "boxes.png"
    res = runner.invoke(
        app, ["detect", str(img), "--classes", str(spec), "--json", "--draw", str(drawn), "--regions", "text"]
    )
    assert res.exit_code == 0, res.output
    dets = json.loads(res.output.splitlines()[0])
    best = dets[0]
    assert set(best) == {"tlbr", "score", "class"} and best["class"] == "sign_in_button" and best["score"] >= 0.5
    x0, y0, x1, y1 = best["tlbr"]
    # the blue "Sign In" button of the login form spans about x 746-843, y 372-410
    assert 740 <= x0 < 800 < x1 <= 850 and 365 <= y0 < 391 < y1 <= 415
    assert f"wrote {drawn}" in res.output
    before, after = Image.open(img).convert("RGB"), Image.open(drawn).convert("RGB")
    assert after.size == before.size
    edge = (round(x0), round((y0 + y1) / 2))  # the box outline is drawn on the box edge
    assert after.getpixel(edge) != before.getpixel(edge)
    far = (50, 700)  # nothing drawn far from every box
    assert after.getpixel(far) == before.getpixel(far)
    # plain text output names the class and the box; --regions auto offline reads text lines
    res = runner.invoke(app, ["detect", str(img), "--classes", str(spec), "--regions", "auto"])
    assert res.exit_code == 0 and res.output.startswith("sign_in_button") and "Sign In" in res.output
    res = runner.invoke(app, ["detect", str(img), "--classes", str(spec), "--regions", "owl"])
    assert res.exit_code == 2 and "regions='text'" in res.output
    res = runner.invoke(app, ["detect", str(img), "--classes", str(spec), "--regions", "yolo"])
    assert res.exit_code == 2 and "auto, text, owl, owl+text" in res.output


def test_label_negative_adds_an_excluded_exemplar(data_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("SCREENSTATE_CACHE", str(tmp_path / "cache"))
    classes = tmp_path / "classes.json"
    shutil.copyfile(data_dir / "classes_small.json", classes)
    before = json.loads(classes.read_text())
    res = runner.invoke(
        app,
        [
            *("label", str(data_dir / "error_dialog.png"), "--class", "file_chooser", "--negative"),
            *("--classes", str(classes), "--encoder", "text"),
        ],
    )
    assert res.exit_code == 0, res.output
    assert "as negative exemplar of file_chooser" in res.output  # no index to rebuild: label loads no model
    after = json.loads(classes.read_text())
    fc_before = next(c for c in before["classifier_configs"] if c["name"] == "file_chooser")
    fc = next(c for c in after["classifier_configs"] if c["name"] == "file_chooser")
    added = [x for x in fc["examples_to_exclude"] if isinstance(x, dict)]
    assert len(added) == 1 and fc["examples_to_include"] == fc_before["examples_to_include"]
    exemplar = classes.parent / added[0]["image"]
    assert exemplar.read_bytes() == (data_dir / "error_dialog.png").read_bytes()
    # every other class is untouched
    others = [c for c in after["classifier_configs"] if c["name"] != "file_chooser"]
    assert others == [c for c in before["classifier_configs"] if c["name"] != "file_chooser"]
    # the negative exemplar now decides: its own frame scores 1 - 1 = 0 for file_chooser
    from screenstate import ScreenClassifier

    raw = ScreenClassifier(classes, encoder="text").classify(data_dir / "error_dialog.png").raw_scores
    assert raw["file_chooser"] == pytest.approx(0.0, abs=1e-4)


def test_label_pin_pins_a_frame_and_adds_no_exemplar(data_dir, tmp_path, monkeypatch):
    """`label --pin FRAME [--class NAME]`: the frame and its near-duplicates get NAME (none
    of the above without --class); no exemplar is added, so no other screen changes."""
    monkeypatch.setenv("SCREENSTATE_CACHE", str(tmp_path / "cache"))
    classes = tmp_path / "classes.json"
    shutil.copyfile(data_dir / "classes_small.json", classes)
    before = json.loads(classes.read_text())
    frame = data_dir / "error_dialog.png"
    res = runner.invoke(app, ["label", str(frame), "--pin", "--class", "file_chooser", "--classes", str(classes)])
    assert res.exit_code == 0, res.output
    after = json.loads(classes.read_text())
    assert after["classifier_configs"] == before["classifier_configs"]
    assert after["pins"] == [{"image": "exemplars/_pinned/error_dialog.png", "state": "file_chooser"}]
    out = runner.invoke(app, ["classify", str(frame), "--classes", str(classes), "--json"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.output.strip().splitlines()[-1])["state"] == "file_chooser"
    res = runner.invoke(app, ["label", str(frame), "--pin", "--classes", str(classes)])  # re-pinned: none
    assert json.loads(classes.read_text())["pins"] == [{"image": "exemplars/_pinned/error_dialog.png", "state": None}]
    bad = runner.invoke(app, ["label", str(frame), "--pin", "--class", "nope", "--classes", str(classes)])
    assert bad.exit_code != 0 and "nope" in bad.output
