"""classify-directory on OpenAdapt captures: one row per retained screenshot with its
``source_ordinal`` and ``timestamp``, the actions CSV, and the capture left untouched."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest
from tiny_jobs import tiny_job  # tests/batch/tiny_jobs.py

from screenstate.batch.job import BatchJob

pytest.importorskip("av")

CAPTURES = Path(__file__).resolve().parents[1] / "data" / "captures"


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def _run(root: Path, tmp_path: Path, tiny_options, data_dir, **kw) -> tuple[BatchJob, Path]:
    out = tmp_path / f"{root.name}.csv"
    job = tiny_job(root, out, tmp_path, data_dir, tiny_options, **kw)
    job.run()
    return job, out


def test_mp4_and_png_captures_one_row_per_screenshot_and_actions(tmp_path, tiny_options, data_dir):
    want = json.loads((CAPTURES / "png.expected.json").read_text())
    preds = {}
    for name in ("mp4_box", "png"):
        folder = tmp_path / name
        shutil.copytree(CAPTURES / name, folder)
        before = sorted((p.name, p.read_bytes()) for p in folder.iterdir())
        actions = tmp_path / f"{name}_actions.csv"
        _, out = _run(folder, tmp_path, tiny_options, data_dir, actions=actions)
        assert sorted((p.name, p.read_bytes()) for p in folder.iterdir()) == before  # byte-identical
        rows = _rows(out)
        assert [int(r["source_ordinal"]) for r in rows] == [f["source_ordinal"] for f in want["frames"]]
        assert [float(r["timestamp"]) for r in rows] == pytest.approx([f["timestamp"] for f in want["frames"]])
        assert all(r["pred"] and not r["error"] for r in rows)
        preds[name] = [r["pred"] for r in rows]
        acts = _rows(actions)
        assert len(acts) == len(want["actions"]) == 10
        state_of = {r["source_ordinal"]: r["state"] or "unknown" for r in rows}
        for a, w in zip(acts, want["actions"]):
            assert a["screenshot_source_ordinal"] == str(w["screenshot_source_ordinal"])
            assert a["before_state"] == state_of[a["screenshot_source_ordinal"]]
            assert a["after_state"] == state_of[a["after_screenshot_source_ordinal"]]
            assert a["changed"] == str(a["before_state"] != a["settled_state"])
        # the settled state is the last screenshot's before the next action: the next one's before
        for a, nxt in zip(acts, acts[1:]):
            assert a["settled_state"] == nxt["before_state"]
    agree = sum(a == b for a, b in zip(preds["mp4_box"], preds["png"])) / len(preds["png"])
    assert agree >= 0.9, preds


def test_actions_refused_for_recordings_without_actions(tmp_path, tiny_options, data_dir):
    from screenstate.errors import ScreenstateError

    with pytest.raises(ScreenstateError, match="--actions: .* keeps no user actions"):
        _run(data_dir, tmp_path, tiny_options, data_dir, actions=tmp_path / "a.csv")


def test_capture_cut_short_rows_for_every_screenshot(tmp_path, tiny_options, data_dir):
    job, out = _run(CAPTURES / "cut_short", tmp_path, tiny_options, data_dir)
    rows = _rows(out)
    assert len(rows) == 10
    assert [bool(r["error"]) for r in rows] == [False] * 7 + [True] * 3


def test_readme_command_on_a_capture(tmp_path, data_dir):
    """README: ``classify-directory --root CAPTURE --classes C.json --output out.csv --actions actions.csv``."""
    from typer.testing import CliRunner

    from screenstate.cli import app

    out, actions = tmp_path / "out.csv", tmp_path / "actions.csv"
    tiny = ["--encoder", "clip", "--clip-model", str(data_dir / "tiny-clip.json"), "--clip-pretrained", "random"]
    args = ["classify-directory", "--root", str(CAPTURES / "png"), "--classes", str(data_dir / "classes_small.json")]
    res = CliRunner().invoke(
        app, [*args, "--output", str(out), "--actions", str(actions), "--cache", str(tmp_path / "c"), *tiny]
    )
    assert res.exit_code == 0, res.output
    assert "10 frames (capture)" in res.output
    assert len(_rows(out)) == 10 and len(_rows(actions)) == 10
    assert list(_rows(actions)[0])[:3] == ["index", "time", "kind"]
