"""States suggested from a recording, and naming a whole cluster: drawn frames of three
dialogs (each moved, re-themed, on other wallpapers, some frames repeated) must come back
as three clusters, and labelling each cluster must give a class file that classifies them."""

from __future__ import annotations

import json

import numpy as np
import pytest
from drawn import dialog_screen  # tests/drawn.py
from sklearn.metrics import adjusted_rand_score
from typer.testing import CliRunner

from screenstate import ScreenClassifier
from screenstate.cli import app
from screenstate.errors import ScreenstateError
from screenstate.suggest import cluster_similarity, label_cluster, load_cluster, suggest_states, write_suggestions

ICONS = ("error", "warning", "question")
runner = CliRunner()


@pytest.fixture(scope="module")
def recording(tmp_path_factory):
    root = tmp_path_factory.mktemp("rec")
    truth = []
    n = 0
    for icon in ICONS:  # three states in turn, three shots each, one shot repeated
        for v in range(3):
            img = dialog_screen(icon, size=(960, 600), at=(200 + 60 * v, 150 + 40 * v), dark=v == 1, seed=10 * v)
            for _ in range(2 if v == 0 else 1):
                n += 1
                img.save(root / f"frame_{n:03d}.png")
                truth.append(icon)
    return root, truth


@pytest.fixture(scope="module")
def suggested(recording, tmp_path_factory):
    root, _ = recording
    s = suggest_states(root, max_states=5, cache=tmp_path_factory.mktemp("cache"))
    out = tmp_path_factory.mktemp("states")
    write_suggestions(s, out)
    return s, out


def test_clusters_recover_the_states(recording, suggested):
    root, truth = recording
    s, _ = suggested
    got = s.labels()
    frames = sorted(root.glob("*.png"))
    assert sum(len(c.frames) for c in s.clusters) == len(frames)  # no frame dropped
    assert adjusted_rand_score(truth, [got[f] for f in frames]) == pytest.approx(1.0)


def test_each_cluster_is_written_with_frames_thumbnail_and_exemplars(suggested):
    s, out = suggested
    summary = json.loads((out / "suggestions.json").read_text())
    assert len(summary["clusters"]) == len(s.clusters) == 3
    for c in s.clusters:
        d = out / f"cluster_{c.id:02d}"
        assert len(list((d / "frames").glob("*.png"))) == len(c.frames)
        assert (d / "thumbnail.png").is_file()
        back = load_cluster(d)
        assert back == c
        assert c.representative == c.exemplars[0] and len(set(c.exemplars)) == len(c.exemplars) <= 3
        assert len(c.exemplars) >= 2  # the repeated frame is not picked twice; other shots are


@pytest.mark.parametrize("max_states, expected", [(1, 1), (2, 2), (None, 3)])
def test_max_states_caps_the_number_of_clusters(max_states, expected):
    block = np.full((3, 3), 0.9)
    sim = np.kron(np.eye(3), block) + 0.1 * (1 - np.kron(np.eye(3), np.ones((3, 3))))
    np.fill_diagonal(sim, 1.0)
    assert cluster_similarity(sim, max_states).max() + 1 == expected


def test_labelling_clusters_builds_a_class_file_that_classifies_them(recording, suggested, tmp_path):
    root, truth = recording
    s, out = suggested
    classes = tmp_path / "states.json"
    names = {}
    for c in s.clusters:
        name = truth[sorted(root.glob("*.png")).index(c.frames[0])] + "_dialog"
        names[c.id] = name
        res = runner.invoke(
            app,
            [
                "label",
                "--cluster",
                str(out / f"cluster_{c.id:02d}"),
                "--class",
                name,
                "-c",
                str(classes),
                "--encoder",
                "visual",
            ],
        )
        assert res.exit_code == 0, res.output
    spec = json.loads(classes.read_text())
    assert [c["name"] for c in spec["classifier_configs"]] == list(names.values())
    clf = ScreenClassifier(classes, encoder="auto")
    assert "visual" in clf.encoder.channel_names
    for icon in ICONS:  # new shots of each state, elsewhere on a bigger screen
        shot = dialog_screen(icon, size=(1600, 1000), at=(700, 500), seed=77)
        assert clf.classify(shot).pred == f"{icon}_dialog"


def test_label_refuses_what_is_not_a_cluster(tmp_path):
    with pytest.raises(ScreenstateError, match="run `screenstate suggest` first"):
        label_cluster(tmp_path / "c.json", tmp_path, "x")
    res = runner.invoke(app, ["label", "--class", "x", "-c", str(tmp_path / "c.json")])
    assert res.exit_code == 2 and "either a FRAME or --cluster" in res.output
    assert not (tmp_path / "c.json").exists()


def test_suggest_cli_writes_clusters(recording, tmp_path):
    root, _ = recording
    res = runner.invoke(app, ["suggest", "--root", str(root), "--out", str(tmp_path / "s"), "--max-states", "4"])
    assert res.exit_code == 0, res.output
    assert "suggested states" in res.output and (tmp_path / "s" / "cluster_00" / "cluster.json").is_file()
    res = runner.invoke(app, ["suggest", "--root", str(tmp_path / "empty")])
    assert res.exit_code == 2 and "error:" in res.output
