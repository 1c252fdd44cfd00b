"""Every README/CLI example runs here (CliRunner), plus one real subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from screenstate.cli import app

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[2]


def tiny_clip(data_dir: Path) -> list[str]:
    """CLI flags for the tiny random-weight CLIP built from tests/data/tiny-clip.json."""
    return ["--encoder", "clip", "--clip-model", str(data_dir / "tiny-clip.json"), "--clip-pretrained", "random"]


def test_help_lists_commands():
    res = runner.invoke(app, ["--help"])
    assert res.exit_code == 0
    for cmd in ("classify", "classify-directory", "schema", "models"):
        assert cmd in res.output


def test_schema_prints_json_schema():
    res = runner.invoke(app, ["schema"])
    assert res.exit_code == 0 and "classifier_configs" in json.loads(res.output)["properties"]
    assert runner.invoke(app, ["schema", "--kind", "nope"]).exit_code == 2


@pytest.mark.parametrize(
    "argv",
    [
        ["schema", "--kind", "nope"],
        ["detect", "x.png", "-c", "missing.json"],
        ["index", "build", "-c", "missing.json"],  # a nested command group: the same one wrapper
        ["suggest", "--root", "missing-recording"],
    ],
)
def test_a_screenstate_error_is_one_line_and_exit_code_2(argv, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    res = runner.invoke(app, argv)
    assert res.exit_code == 2 and res.exception is not None and type(res.exception).__name__ == "SystemExit"
    lines = res.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in res.output


def test_classify_json_gives_the_right_states(data_dir):
    names = ("login_page", "error_dialog", "file_chooser")
    res = runner.invoke(
        app,
        [
            "classify",
            *[str(data_dir / f"{n}.png") for n in names],
            "--classes",
            str(data_dir / "classes_small.json"),
            "--json",
            "--encoder",
            "text",
            "--device",
            "cpu",
        ],
    )
    assert res.exit_code == 0, res.output
    rows = [json.loads(line) for line in res.output.splitlines() if line.startswith("{")]
    assert [(Path(r["path"]).stem, r["pred"], r["error"]) for r in rows] == [(n, n, None) for n in names]


def test_classify_with_tiny_clip_matches_the_python_api(data_dir, tiny_clip_encoder):
    from screenstate import ScreenClassifier

    img = data_dir / "login_page.png"
    res = runner.invoke(
        app,
        ["classify", str(img), "--classes", str(data_dir / "classes_small.json"), "--json", *tiny_clip(data_dir)]
        + ["--precision", "fp32"],
    )
    assert res.exit_code == 0, res.output
    out = json.loads(res.output.strip().splitlines()[-1])
    api = ScreenClassifier(data_dir / "classes_small.json", encoder=tiny_clip_encoder).classify(img)
    assert out["pred"] == api.pred and out["raw_scores"] == pytest.approx(api.raw_scores, abs=1e-5)
    assert out["state"] == api.state and out["error"] is None


def test_classify_reports_bad_image_and_bad_spec(data_dir, tmp_path):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"xx")
    args = tiny_clip(data_dir)
    res = runner.invoke(app, ["classify", str(bad), "--classes", str(data_dir / "classes_small.json"), "--json", *args])
    assert res.exit_code == 1 and "not a recognised image format" in res.output
    spec = tmp_path / "c.json"
    spec.write_text('{"classifier_configs": [{"name": "a", "examples_to_include": []}]}')
    res = runner.invoke(app, ["classify", str(bad), "--classes", str(spec), *args])
    assert res.exit_code == 2
    assert "classifier_configs[0].examples_to_include: at least one example is required" in res.output


def test_missing_clip_weights_message(data_dir):
    res = runner.invoke(
        app,
        [
            "classify",
            str(data_dir / "login_page.png"),
            "--classes",
            str(data_dir / "classes_small.json"),
            "--encoder",
            "clip",
        ],
    )
    assert res.exit_code == 2 and "screenstate models pull" in res.output


def test_classify_directory_reference_flags(data_dir, tmp_path, ray_session, tiny_clip_encoder):
    from screenstate import ScreenClassifier

    rec = tmp_path / "rec"
    rec.mkdir()
    for name in ("login_page.png", "error_dialog.png"):
        (rec / name).write_bytes((data_dir / name).read_bytes())
    out = tmp_path / "out.csv"
    res = runner.invoke(
        app,
        [
            "classify-directory",
            "--root",
            str(rec),
            "--classifier_json_file",
            str(data_dir / "classes_small.json"),
            "--output_file",
            str(out),
            *tiny_clip(data_dir),
            "--cache",
            str(tmp_path / "cache"),
            "--precision",
            "fp32",
            "--min-score",
            "0.6",
        ],
    )
    assert res.exit_code == 0, res.output
    assert "2 frames (flat)" in res.output
    lines = out.read_text().splitlines()
    assert lines[0] == "path,pred,state,error"
    api = ScreenClassifier(data_dir / "classes_small.json", encoder=tiny_clip_encoder, min_score=0.6)
    want = {n: api.classify(rec / n) for n in ("error_dialog.png", "login_page.png")}
    rows = [line.split(",") for line in lines[1:]]
    assert [(Path(p).name, pred, state, err) for p, pred, state, err in rows] == [
        (n, r.pred, r.state or "", "") for n, r in sorted(want.items())
    ]
    assert {r.state for r in want.values()} == {None, "file_chooser"}  # 0.6 splits the two frames
    res = runner.invoke(
        app, ["classify-directory", "--root", str(rec), "--classes", str(data_dir / "classes_small.json")]
    )
    assert res.exit_code == 2 and "--output is required" in res.output


@pytest.mark.parametrize("argv", [["-m", "screenstate", "--help"]])
def test_real_subprocess(argv):
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    res = subprocess.run([sys.executable, *argv], capture_output=True, text=True, env=env, cwd=ROOT, timeout=60)
    assert res.returncode == 0 and "classify-directory" in res.stdout


def test_models_list_shows_offline_state():
    res = runner.invoke(app, ["models", "list"])
    assert res.exit_code == 0 and "missing (screenstate models pull)" in res.output and "rapidocr" in res.output


def test_models_list_reports_measured_precisions(tiny_options, tmp_path, monkeypatch):
    import screenstate.embeddings.clip as clip_mod
    from screenstate.embeddings.clip import ClipChannel

    monkeypatch.setenv("SCREENSTATE_CACHE", str(tmp_path))
    assert "none measured yet" in runner.invoke(app, ["models", "list"]).output
    monkeypatch.setattr(clip_mod, "cpu_supports_bf16", lambda: True)
    ch = ClipChannel(tiny_options.model_copy(update={"precision": "auto"}).clip_options())
    res = runner.invoke(app, ["models", "list"])
    line = next(ln for ln in res.output.splitlines() if "clip:tiny-clip" in ln)
    assert f"{ch.precision_choice.precision}, " in line and "fp32/" in line and "bf16/" in line


def test_label_and_index_build(data_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("SCREENSTATE_CACHE", str(tmp_path / "cache"))
    classes = tmp_path / "classes.json"
    classes.write_text((data_dir / "classes_small.json").read_text())
    res = runner.invoke(
        app,
        [
            "label",
            str(data_dir / "error_dialog.png"),
            "--class",
            "error_dialog",
            "--classes",
            str(classes),
            "--encoder",
            "text",
        ],
    )
    assert res.exit_code == 0, res.output
    assert (tmp_path / "exemplars" / "error_dialog" / "error_dialog.png").is_file()
    spec = json.loads(classes.read_text())
    err = next(c for c in spec["classifier_configs"] if c["name"] == "error_dialog")
    assert {"image": "exemplars/error_dialog/error_dialog.png"} in err["examples_to_include"]
    assert not (tmp_path / "classes.json.index").exists()  # label loads no model: no index until one is built
    res = runner.invoke(app, ["index", "build", "--classes", str(classes), "--encoder", "text"])
    assert res.exit_code == 0 and "1 exemplars" in res.output and "rebuilt" in res.output
    assert (tmp_path / "classes.json.index" / "text" / "manifest.json").is_file()
    res = runner.invoke(
        app,
        ["label", str(data_dir / "login_page.png"), "--class", "error_dialog", "-c", str(classes), "--encoder", "text"],
    )
    assert res.exit_code == 0 and "index: 2 exemplars" in res.output  # an existing index is kept current
    res = runner.invoke(app, ["index", "build", "--classes", str(classes), "--encoder", "text"])
    assert res.exit_code == 0 and "2 exemplars" in res.output and "up to date" in res.output
    # a frame of a state with no class yet creates it (a mixed cluster is named frame by frame),
    # and says so with every class the file now has, so a typo shows
    res = runner.invoke(
        app,
        ["label", str(data_dir / "file_chooser.png"), "--class", "chooser", "-c", str(classes), "--encoder", "text"],
    )
    assert res.exit_code == 0 and "created class chooser" in res.output and "error_dialog" in res.output
    chooser = next(c for c in json.loads(classes.read_text())["classifier_configs"] if c["name"] == "chooser")
    assert chooser["examples_to_include"] == [{"image": "exemplars/chooser/file_chooser.png"}]
    res = runner.invoke(
        app, ["label", str(data_dir / "error_dialog.png"), "--class", "nope", "--negative", "--classes", str(classes)]
    )
    assert res.exit_code == 2 and "unknown class 'nope'" in res.output  # a negative needs its class


def test_ask_cli_routes_without_vlm(data_dir):
    res = runner.invoke(
        app,
        [
            "ask",
            str(data_dir / "login_page.png"),
            "is the login page showing?",
            "--classes",
            str(data_dir / "classes_small.json"),
            "--encoder",
            "text",
            "--json",
        ],
    )
    assert res.exit_code == 0, res.output
    out = json.loads(next(line for line in res.output.splitlines() if line.startswith("{")))
    assert out["path"] == "classifier" and out["text"].startswith("yes")
    res = runner.invoke(
        app, ["ask", str(data_dir / "login_page.png"), "which file is selected?", "--vlm-model", "nope/nope"]
    )
    assert res.exit_code == 2 and "not available offline" in res.output


def test_models_pull_offline_fails_fast_naming_the_fix():
    res = runner.invoke(app, ["models", "pull", "--owl"])
    assert res.exit_code == 2 and "screenstate models pull" in res.output
