"""Quiet by default: in real runs of the command, stderr holds only screenstate's own
lines (``WARNING: ...``), never a third-party notice or a timestamped log line; the offline
notice shows once per machine; ``--quiet`` prints nothing at all on success."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
OURS = re.compile(r"^(WARNING|INFO|error): ")
NOTICE = "encoder=auto: CLIP weights"


def _run(tmp_path: Path, *argv: str, home: Path | None = None) -> tuple[str, str]:
    """The `screenstate` command in a fresh process, with a user's environment: no test-only
    Ray settings, a cache root of its own (the "machine")."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
    env.update(PYTHONPATH=str(ROOT), HF_HUB_OFFLINE="1", SCREENSTATE_CACHE=str(tmp_path / "machine-cache"))
    if home is not None:
        env["HOME"] = str(home)  # Ray writes its auth token under ~/.ray
    proc = subprocess.run(
        [sys.executable, "-m", "screenstate", *argv], env=env, capture_output=True, text=True, timeout=900, cwd=ROOT
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout, proc.stderr


def _only_ours(stderr: str) -> list[str]:
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    foreign = [ln for ln in lines if not OURS.match(ln)]
    assert foreign == [], "third-party lines on stderr:\n" + "\n".join(foreign)
    return lines


@pytest.fixture()
def recording(tmp_path) -> Path:
    """Three frames of the bundled example recording (what `make demo` classifies)."""
    rec = tmp_path / "recording"
    rec.mkdir()
    for name in ("frame_00003.png", "frame_00020.png", "frame_00029.png"):
        shutil.copyfile(ROOT / "examples" / "recording" / name, rec / name)
    return rec


def test_demo_command_stderr_is_our_notice_once_per_machine(tmp_path, recording):
    args = ["classify-directory", "--root", str(recording), "--classes", "configs/demo_states.json"]
    out = ["--output", str(tmp_path / "p.csv"), "--report", str(tmp_path / "r.html"), "--cache", str(tmp_path / "c")]
    stdout, stderr = _run(tmp_path, *args, *out)
    assert "3 frames (flat)" in stdout
    lines = _only_ours(stderr)
    assert len(lines) == 1 and lines[0].startswith(f"WARNING: {NOTICE}")
    _, again = _run(tmp_path, *args, *out)
    assert again == ""  # the same machine: said once
    _, verbose = _run(tmp_path, "--verbose", *args, *out)
    assert NOTICE in verbose and all(OURS.match(ln) or ln.startswith(" ") for ln in verbose.splitlines())


def test_quiet_prints_only_the_results(tmp_path, recording):
    stdout, stderr = _run(
        tmp_path, "--quiet", "classify-directory", "--root", str(recording), "--classes", "configs/demo_states.json",
        "--output", str(tmp_path / "p.csv"), "--cache", str(tmp_path / "c"),
    )  # fmt: skip
    assert stderr == "" and "encoding" not in stdout and "3 frames (flat)" in stdout


def tiny_clip(data_dir: Path) -> list[str]:
    return ["--encoder", "clip", "--clip-model", str(data_dir / "tiny-clip.json"), "--clip-pretrained", "random"]


def test_ray_folder_job_stderr_holds_no_ray_line(tmp_path, recording, data_dir):
    stdout, stderr = _run(
        tmp_path, "classify-directory", "--root", str(recording), "--classes", str(data_dir / "classes_small.json"),
        "--output", str(tmp_path / "p.csv"), "--ray-address", "local", *tiny_clip(data_dir),
        home=tmp_path,
    )  # fmt: skip
    assert "3 frames (flat), 3 distinct, 3 encoded" in stdout
    assert _only_ours(stderr) == []


def test_video_on_ray_actors_stderr_holds_no_ray_line(tmp_path, data_dir):
    pytest.importorskip("av")
    from PIL import Image

    from screenstate.batch.video_write import write_video

    colors = [(200, 30, 30), (30, 200, 30), (30, 30, 200), (200, 200, 30)]
    frames = [(Image.new("RGB", (192, 128), c), k * 1.0 + i * 0.25) for k, c in enumerate(colors) for i in range(4)]
    video = write_video(tmp_path / "rec.mp4", frames, options={"g": "4", "bf": "0"})  # a keyframe per second
    stdout, stderr = _run(
        tmp_path, "classify-directory", "--root", str(video), "--classes", str(data_dir / "classes_small.json"),
        "--output", str(tmp_path / "p.csv"), "--video-ranges", "2", *tiny_clip(data_dir),
        home=tmp_path,
    )  # fmt: skip
    assert "16 frames" in stdout
    assert _only_ours(stderr) == []
