"""The offline default path runs without torch: the decision rules and the default channels
(text, visual, words) hold their evidence in numpy, so a one-frame ``classify`` and a
``StateChecker`` never import torch (a second of every cold start, and most of the install),
nor Ray or open_clip. Torch loads only with the CLIP/OWL channels, the VLM and pictogram
training (``screenstate[clip]``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "ray", "open_clip", "torchvision")

PROBE = """
import json, sys
args, heavy = sys.argv[1:-1], set(sys.argv[-1].split(","))
if args[0] == "classify":
    from screenstate.cli import app
    try:
        app(args, standalone_mode=False)
    except SystemExit as e:
        assert not e.code, e.code
else:
    from screenstate import StateChecker
    checker = StateChecker(args[1])
    print(json.dumps({"state": checker.which(args[2]).state, "is": checker.is_state(args[2], args[3])}))
print(json.dumps(sorted({m.split(".")[0] for m in sys.modules} & heavy)), file=sys.stderr)
"""


def _run(tmp_path: Path, *argv: str) -> tuple[list[str], str]:
    """``PROBE argv`` in a fresh interpreter on a machine without CLIP weights (an empty hub
    cache and home) and with an empty cache (the sentence model's graph is built in that run,
    without torch too), offline; returns the heavy modules it imported and its stdout."""
    (tmp_path / "hub").mkdir(exist_ok=True)
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "HF_HUB_OFFLINE": "1",
        "SCREENSTATE_CACHE": str(tmp_path / "cache"),
        "HF_HUB_CACHE": str(tmp_path / "hub"),
        "HOME": str(tmp_path),  # open_clip's URL cache (~/.cache/clip) is empty here
        "XDG_CACHE_HOME": str(tmp_path / "xdg"),  # the library's default cache root (StateChecker)
    }
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, *argv, ",".join(HEAVY)],
        env=env, capture_output=True, text=True, timeout=600, cwd=ROOT,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stderr.strip().splitlines()[-1]), proc.stdout


def test_a_one_frame_classify_on_the_default_encoder_imports_no_torch(tmp_path, data_dir):
    loaded, out = _run(
        tmp_path, "classify", str(data_dir / "login_page.png"), "-c", str(data_dir / "classes_small.json"), "--json"
    )
    assert json.loads(out.strip().splitlines()[-1])["pred"] == "login_page"
    assert loaded == []


def test_screenshot_exemplars_add_the_visual_channel_and_still_no_torch(tmp_path, data_dir):
    """encoder=auto with two screenshots per class: visual + text and the words source under
    the few-shot rule (calibrated on the exemplars); numpy throughout."""
    import shutil

    names = ("login_page", "error_dialog", "file_chooser")
    for n in names:
        for k in (1, 2):
            shutil.copyfile(data_dir / f"{n}.png", tmp_path / f"{n}-{k}.png")
    spec = {
        "classifier_configs": [
            {"name": n, "examples_to_include": [{"image": str(tmp_path / f"{n}-{k}.png")} for k in (1, 2)]}
            for n in names
        ]
    }
    classes = tmp_path / "shots.json"
    classes.write_text(json.dumps(spec))
    loaded, out = _run(tmp_path, "classify", str(data_dir / "error_dialog.png"), "-c", str(classes), "--json")
    assert json.loads(out.strip().splitlines()[-1])["pred"] == "error_dialog"
    assert loaded == []


def test_a_state_checker_answers_without_torch(tmp_path, data_dir):
    loaded, out = _run(
        tmp_path, "checker", str(data_dir / "classes_small.json"), str(data_dir / "error_dialog.png"), "error_dialog"
    )
    assert json.loads(out.strip().splitlines()[-1]) == {"state": "error_dialog", "is": True}
    assert loaded == []

