"""States suggested from a recording, and naming a whole cluster: drawn frames of three
dialogs (each moved, re-themed, on other wallpapers, some frames repeated) must come back
as three clusters, and labelling each cluster must give a class file that classifies them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from drawn import dialog_screen  # tests/drawn.py
from PIL import Image
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
        assert clf.classify(shot).state == f"{icon}_dialog"
    # none of the above without a min_score: learned from the exemplars, proposed by index build
    assert clf.rule.min_score is not None
    desktop = Image.new("RGB", (1600, 1000), (40, 90, 130))
    far = clf.classify(desktop)
    assert far.state is None and far.pred in names.values()
    res = runner.invoke(app, ["index", "build", "-c", str(classes), "--encoder", "visual"])
    assert res.exit_code == 0 and "none of the above below raw score" in res.output


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


def test_an_unreadable_frame_is_reported_and_skipped(recording, tmp_path):
    root, _ = recording
    rec = tmp_path / "rec"
    shutil.copytree(root, rec)
    (rec / "frame_005.png").write_bytes(b"not a png")
    s = suggest_states(rec, max_states=5, cache=tmp_path / "cache")
    assert [p.name for p, _ in s.skipped] == ["frame_005.png"]
    assert sum(len(c.frames) for c in s.clusters) == len(list(root.glob("*.png"))) - 1
    res = runner.invoke(app, ["suggest", "--root", str(rec), "--out", str(tmp_path / "s"), "--max-states", "4"])
    assert res.exit_code == 0, res.output
    assert "skipped" in res.output and "frame_005.png" in res.output
    summary = json.loads((tmp_path / "s" / "suggestions.json").read_text())
    assert [Path(x["frame"]).name for x in summary["skipped"]] == ["frame_005.png"]


def test_out_keeps_files_it_did_not_write_and_a_rerun_replaces_its_own_clusters(recording, suggested, tmp_path):
    root, _ = recording
    s, _ = suggested
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    write_suggestions(s, out)
    (out / "cluster_00" / "my_label.txt").write_text("mine too")
    fewer = suggest_states(root, max_states=2, cache=tmp_path / "cache")
    assert len(fewer.clusters) == 2
    write_suggestions(fewer, out)
    assert (out / "notes.txt").read_text() == "mine" and (out / "cluster_00" / "my_label.txt").is_file()
    assert not (out / "cluster_02").exists()  # the earlier run's third cluster is gone, not left to label
    summary = json.loads((out / "suggestions.json").read_text())
    assert [c["dir"] for c in summary["clusters"]] == ["cluster_00", "cluster_01"]
    assert sum(len(list((out / c["dir"] / "frames").glob("*.png"))) for c in summary["clusters"]) == len(
        list(root.glob("*.png"))
    )
    foreign = tmp_path / "foreign"
    (foreign / "cluster_00").mkdir(parents=True)
    (foreign / "cluster_00" / "x.png").write_bytes(b"user data")
    with pytest.raises(ScreenstateError, match="not written by `screenstate suggest`"):
        write_suggestions(s, foreign)
    assert sorted(p.name for p in foreign.rglob("*")) == ["cluster_00", "x.png"]
    with pytest.raises(ScreenstateError, match="never writes into"):
        write_suggestions(s, root / "states")


def test_a_cluster_of_an_earlier_run_is_refused(recording, suggested, tmp_path):
    s, _ = suggested
    out = tmp_path / "out"
    write_suggestions(s, out)
    old = tmp_path / "old_cluster"
    shutil.copytree(out / "cluster_00", old)
    write_suggestions(s, out)  # a new run: the copied cluster is from the earlier one
    shutil.copyfile(out / "suggestions.json", tmp_path / "suggestions.json")
    with pytest.raises(ScreenstateError, match="earlier `screenstate suggest` run"):
        load_cluster(old)


def test_cluster_paths_resolve_from_the_cluster_folder(recording, suggested, tmp_path, monkeypatch):
    root, _ = recording
    s, _ = suggested
    base = tmp_path / "work"
    shutil.copytree(root, base / "rec")
    monkeypatch.chdir(base)
    rel = suggest_states(Path("rec"), max_states=5, cache=tmp_path / "cache")
    write_suggestions(rel, Path("rec.states"))
    moved = tmp_path / "moved"
    shutil.move(str(base), moved)  # the recording and its clusters move together
    monkeypatch.chdir(tmp_path)
    meta = json.loads((moved / "rec.states" / "cluster_00" / "cluster.json").read_text())
    assert all(f.startswith("../../rec/") for f in meta["frames"])
    c = load_cluster(moved / "rec.states" / "cluster_00")
    assert all(f.is_file() for f in c.frames + c.exemplars)
    dests = label_cluster(tmp_path / "c.json", moved / "rec.states" / "cluster_00", "first")
    assert all(d.is_file() for d in dests)


def test_label_names_several_clusters_in_one_call_without_loading_models(recording, suggested, tmp_path, monkeypatch):
    import screenstate.embeddings.factory as factory

    s, out = suggested
    monkeypatch.setattr(factory, "create_encoder", lambda *a, **k: pytest.fail("label loaded an encoder"))
    classes = tmp_path / "states.json"
    dirs = [str(out / f"cluster_{c.id:02d}") for c in s.clusters]
    args = ["label", "-c", str(classes), "--cluster", dirs[0], "--cluster", dirs[1], "--cluster", dirs[2]]
    res = runner.invoke(app, [*args, "--class", "a", "--class", "b", "--class", "c"])
    assert res.exit_code == 0, res.output
    assert [c["name"] for c in json.loads(classes.read_text())["classifier_configs"]] == ["a", "b", "c"]
    res = runner.invoke(app, [*args, "--class", "a", "--class", "b"])
    assert res.exit_code == 2 and "one per --cluster (3)" in res.output
