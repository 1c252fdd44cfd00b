"""``make demo``'s command, as the Makefile writes it, run in-process on the bundled example:
it prints the accuracy against the recording's labels.csv (and which frames are wrong), and
the report shows the same line."""

from __future__ import annotations

import csv
import os
import re
import shlex
from pathlib import Path

from typer.testing import CliRunner

from screenstate.cli import app

ROOT = Path(__file__).resolve().parents[1]


def demo_argv() -> list[str]:
    """The screenstate arguments of the Makefile's demo target (continuation lines joined)."""
    make = (ROOT / "Makefile").read_text().replace("\\\n", " ")
    recipe = re.search(r"^demo:.*\n((?:\t.*\n)+)", make, re.M)
    assert recipe, "Makefile: no demo target"
    line = next(x for x in recipe.group(1).splitlines() if "bin/screenstate classify-directory" in x)
    return shlex.split(line.strip())[1:]


def test_demo_prints_accuracy_against_labels(tmp_path, monkeypatch):
    argv = demo_argv()
    (tmp_path / "examples").symlink_to(ROOT / "examples", target_is_directory=True)
    (tmp_path / "configs").symlink_to(ROOT / "configs", target_is_directory=True)
    # demo_out/cache is the suite's feature cache, so the example's frames are read once per run
    (tmp_path / "demo_out").mkdir()
    (tmp_path / "demo_out" / "cache").symlink_to(os.environ["SCREENSTATE_CACHE"], target_is_directory=True)
    monkeypatch.chdir(tmp_path)
    res = CliRunner().invoke(app, argv)
    assert res.exit_code == 0, res.output
    with open(ROOT / "examples" / "recording" / "labels.csv", newline="") as f:
        truth = {r["frame"]: r["state"] for r in csv.DictReader(f)}
    with open(tmp_path / "demo_out" / "predictions.csv", newline="") as f:
        got = {Path(r["path"]).name: r["state"] or "unknown" for r in csv.DictReader(f)}
    right = sum(got[k] == v for k, v in truth.items())
    line = f"accuracy vs labels: {right}/13 ({right / 13:.3f})"
    assert line in res.output
    for k, v in truth.items():
        assert (f"wrong: {k}: {v} -> {got[k]}" in res.output) == (got[k] != v)
    assert line in (tmp_path / "demo_out" / "report.html").read_text()
