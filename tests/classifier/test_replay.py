"""A class file named from one recording (classifier/replay.py): screens of that session
are decided by the few-shot rule learned on it (its unnamed desktop: none of the above),
screens of another session by the two-stage rule (not none of the above because the
exemplars fit one session). Drawn screens: a dialog whose only distinctive part is its icon."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from screenstate import ScreenClassifier
from screenstate.evidence import explain
from tests.drawn import dialog_screen

ICONS = ("error", "warning", "question")


def _cursor(img: Image.Image, x: int, y: int) -> Image.Image:
    out = img.copy()
    ImageDraw.Draw(out).polygon([(x, y), (x, y + 18), (x + 11, y + 11)], fill="black")
    return out


def _one_session(tmp_path: Path) -> Path:
    """Two frames of each dialog in one session (a moved cursor), named as label --cluster does."""
    configs = []
    for icon in ICONS:
        shot = dialog_screen(icon, size=(960, 600), at=(300, 200), seed=3)
        examples = []
        for k, (x, y) in enumerate(((100, 100), (700, 450))):
            name = f"{icon}_{k}.png"
            _cursor(shot, x, y).save(tmp_path / name)
            examples.append({"image": name})
        configs.append({"name": f"{icon}_dialog", "examples_to_include": examples})
    out = tmp_path / "classes.json"
    out.write_text(json.dumps({"classifier_configs": configs}))
    return out


def test_a_class_file_of_one_session_decides_its_replays_and_other_sessions_apart(tmp_path):
    clf = ScreenClassifier(_one_session(tmp_path), encoder="visual")
    assert clf.replay is not None and clf.rule.min_score is None  # the two-stage rule: nothing to learn from
    replay = [_cursor(dialog_screen(icon, size=(960, 600), at=(300, 200), seed=3), 500, 50) for icon in ICONS]
    desktop = _cursor(dialog_screen(None, size=(960, 600), at=(300, 200), seed=3), 400, 300)
    got = clf.classify_batch([*replay, desktop])
    assert [r.state for r in got] == [f"{i}_dialog" for i in ICONS] + [None]  # the unnamed desktop: none
    other = [dialog_screen(icon, size=(1280, 800), at=(560, 380), dark=True, seed=9) for icon in ICONS]
    assert [r.state for r in clf.classify_batch(other)] == [f"{i}_dialog" for i in ICONS]
    # a screen's result does not depend on its batch: the replay frames alone, the same
    assert [r.state for r in clf.classify_batch(replay[:1])] == ["error_dialog"]
    # the evidence shown for a replayed screen is the replay rule's, as its result
    last = got[-1]
    (ev,) = explain(clf, clf.features([clf.load(desktop)])[0], [last.pred])
    assert ev.raw_score == pytest.approx(last.raw_scores[last.pred])
