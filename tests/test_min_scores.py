"""A min_score per class proposed from the recording as the user named it: after `suggest`
and `label`, `label --min-scores` must give a class file under which the frames the user
left unnamed (a plain desktop) get no state while every named frame keeps its state, and
must refuse to propose where no value separates the two."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from drawn import _wallpaper, _window, dialog_screen  # tests/drawn.py
from PIL import Image, ImageDraw
from typer.testing import CliRunner

from screenstate import ScreenClassifier
from screenstate.cli import app
from screenstate.errors import ScreenstateError
from screenstate.min_scores import _proposal, named_frames, propose_min_scores, write_min_scores
from screenstate.schema import ClassSpec
from screenstate.suggest import Cluster, Suggestions, write_suggestions

runner = CliRunner()


def desktop(seed: int, size: tuple[int, int] = (960, 600)) -> Image.Image:
    """The wallpaper and the window the dialogs of ``dialog_screen`` open in front of."""
    img = _wallpaper(size, seed)
    _window(ImageDraw.Draw(img), (100, 80, 520, 380), dark=True, title=(90, 90, 90))
    return img


@pytest.fixture(scope="module")
def labelled(tmp_path_factory):
    """A recording (an error dialog three times, a question dialog once, two plain
    desktops), its clusters written as `suggest` writes them, and a class file naming the
    error cluster with `label --cluster` (two exemplars) and the question frame with
    `label FRAME`; the desktops are left unnamed (one exemplar per class but one, as in the
    README's walkthrough: no few-shot rule, so nothing says "none of the above")."""
    root = tmp_path_factory.mktemp("rec")
    frames: dict[str, list[Path]] = {"error": [], "question": [], "desktop": []}
    for icon, n in (("error", 3), ("question", 1)):
        for v in range(n):
            f = root / f"{icon}_{v}.png"
            dialog_screen(icon, size=(960, 600), at=(200 + 50 * v, 150 + 30 * v), seed=3, behind=False).save(f)
            frames[icon].append(f)
    for v in range(2):
        f = root / f"desktop_{v}.png"
        desktop(seed=3).save(f) if v == 0 else desktop(seed=3).rotate(0.5).save(f)
        frames["desktop"].append(f)
    clusters = (
        Cluster(0, tuple(frames["error"]), frames["error"][0], tuple(frames["error"][:2]), ("error",)),
        Cluster(1, tuple(frames["question"] + frames["desktop"]), frames["desktop"][0], tuple(frames["desktop"]), ()),
    )
    states = tmp_path_factory.mktemp("states")
    write_suggestions(Suggestions(root, clusters), states)
    classes = tmp_path_factory.mktemp("cf") / "states.json"
    res = runner.invoke(
        app, ["label", "--cluster", str(states / "cluster_00"), "--class", "error_dialog", "-c", str(classes)]
    )
    assert res.exit_code == 0, res.output
    frame = states / "cluster_01" / "frames" / frames["question"][0].name  # frame by frame
    res = runner.invoke(app, ["label", str(frame), "--class", "question_dialog", "-c", str(classes)])
    assert res.exit_code == 0, res.output
    return frames, states, classes


def test_frames_are_sorted_by_what_the_user_named(labelled):
    frames, states, classes = labelled
    got = {p.name: name for p, name in named_frames(ClassSpec.from_json(classes), states).items()}
    assert got == {
        **{f.name: "error_dialog" for f in frames["error"]},
        **{f.name: "question_dialog" for f in frames["question"]},
        **{f.name: None for f in frames["desktop"]},
    }


def test_the_proposed_min_scores_leave_the_unnamed_desktop_without_a_state(labelled, tmp_path):
    frames, states, classes = labelled
    before = ScreenClassifier(classes, encoder="visual")
    assert before.classify(frames["desktop"][0]).state is not None  # the problem: no "none of the above"
    copy = tmp_path / "states.json"
    copy.write_text(classes.read_text())
    (tmp_path / "exemplars").symlink_to(classes.parent / "exemplars")
    res = runner.invoke(
        app, ["label", "-c", str(copy), "--min-scores", str(states), "--encoder", "visual", "--dry-run"]
    )
    assert res.exit_code == 0, res.output
    assert "error_dialog" in res.output and "nothing written" in res.output
    assert copy.read_text() == classes.read_text()
    res = runner.invoke(app, ["label", "-c", str(copy), "--min-scores", str(states), "--encoder", "visual"])
    assert res.exit_code == 0, res.output
    mins = {c["name"]: c.get("min_score") for c in json.loads(copy.read_text())["classifier_configs"]}
    assert all(m is not None and 0 < m < 1 for m in mins.values()), mins
    clf = ScreenClassifier(copy, encoder="visual")
    for state, fs in (("error_dialog", frames["error"]), ("question_dialog", frames["question"])):
        assert [r.state for r in clf.classify_batch(fs)] == [state] * len(fs)
    assert [r.state for r in clf.classify_batch(frames["desktop"])] == [None, None]
    assert clf.classify(desktop(seed=3, size=(1100, 700))).state is None  # the desktop on a bigger screen


def test_leave_one_out_scores_an_exemplar_as_a_new_screen(labelled):
    _, states, classes = labelled
    props = {p.name: p for p in propose_min_scores(classes, states, encoder="visual")}
    # two screenshots: each is scored without itself, so below a perfect match
    assert props["error_dialog"].own is not None and props["error_dialog"].own < 0.999
    assert props["error_dialog"].own_frames == 3
    assert props["question_dialog"].own == pytest.approx(1.0)  # its only screenshot stays
    assert props["error_dialog"].min_score < props["error_dialog"].own


def test_no_value_is_proposed_where_an_unnamed_frame_is_as_close():
    p = _proposal("x", [(0.8, Path("own.png"))], [(0.85, Path("desk.png"))], 0.5)
    assert p.min_score is None and "desk.png" in p.why and "--negative" in p.why
    p = _proposal("x", [(0.9, Path("own.png")), (1.0, Path("b.png"))], [(0.5, Path("desk.png"))], 0.5)
    assert p.min_score == pytest.approx(0.7) and p.own == 0.9 and p.other == 0.5
    assert _proposal("x", [], [(0.5, Path("d.png"))], 0.5).min_score is None


def test_writing_keeps_classes_without_a_proposal(labelled, tmp_path):
    _, _, classes = labelled
    copy = tmp_path / "states.json"
    copy.write_text(classes.read_text())
    (tmp_path / "exemplars").symlink_to(classes.parent / "exemplars")
    data = json.loads(copy.read_text())
    data["classifier_configs"][1]["min_score"] = 0.42
    copy.write_text(json.dumps(data))
    props = (
        _proposal("error_dialog", [(0.9, Path("a"))], [(0.5, Path("b"))], 0.5),
        _proposal("question_dialog", [], [], 0.5),
    )
    assert write_min_scores(copy, props) == ["error_dialog"]
    mins = [c.get("min_score") for c in json.loads(copy.read_text())["classifier_configs"]]
    assert mins == [pytest.approx(0.7), 0.42]


def test_a_folder_that_is_not_a_suggest_output_is_refused_before_any_model(labelled, tmp_path, monkeypatch):
    import screenstate.embeddings.factory as factory

    _, _, classes = labelled
    monkeypatch.setattr(factory, "create_encoder", lambda *a, **k: pytest.fail("loaded an encoder"))
    with pytest.raises(ScreenstateError, match="--out folder of `screenstate suggest`"):
        propose_min_scores(classes, tmp_path)
    res = runner.invoke(app, ["label", "-c", str(classes), "--min-scores", str(tmp_path)])
    assert res.exit_code == 2 and "suggestions.json" in res.output


def test_nothing_is_proposed_where_the_learned_none_of_the_above_already_holds(labelled, tmp_path):
    """Two screenshots of each class: the few-shot rule learns its own threshold and margin,
    which a class's min_score would replace; where they already leave the unnamed frames
    without a state, the class file is left as it is."""
    frames, states, classes = labelled
    copy = tmp_path / "states.json"
    copy.write_text(classes.read_text())
    shutil.copytree(classes.parent / "exemplars", tmp_path / "exemplars")
    second = tmp_path / "question_1.png"
    dialog_screen("question", size=(960, 600), at=(320, 220), seed=3, behind=False).save(second)
    res = runner.invoke(app, ["label", str(second), "--class", "question_dialog", "-c", str(copy)])
    assert res.exit_code == 0, res.output
    clf = ScreenClassifier(copy, encoder="visual")
    assert clf.rule.min_score is not None  # learned
    assert [r.state for r in clf.classify_batch(frames["desktop"])] == [None, None]
    props = propose_min_scores(copy, states, clf)
    assert [p.min_score for p in props] == [None, None]
    assert all("already gives no unnamed frame" in p.why for p in props)
