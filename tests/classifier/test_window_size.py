"""None of the above from window sizes (classifier/window_size.py): a class file named from one
recording knows how big its dialogs are; a screen of another session showing only the editor
gets no state, its dialogs keep theirs. Drawn screens with real text (OCR reads them)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from typer.testing import CliRunner

from screenstate import ScreenClassifier
from screenstate.classifier.columns import ExampleColumns
from screenstate.classifier.window_size import WindowSizes
from screenstate.cli import app
from screenstate.evidence import explain
from tests.drawn import editor_screen

LINES = (
    "Meeting notes for the rowing club board",
    "Present: Dana, Ole, Farida and Kwame",
    "1. Boathouse roof: quote from Berg accepted",
    "2. Regatta volunteers: fourteen so far",
    "3. Budget for the new season is agreed",
    "4. Next meeting moved to the library hall",
)


def _class_file(tmp_path: Path) -> Path:
    """One session's error and warning dialogs over the editor, with descriptions, as
    ``label --cluster`` leaves them in a class file that had text."""
    configs = []
    for name, dialog, text in (
        ("error_dialog", ("Error", "The file could not be saved."), "an error message dialog"),
        ("warning_dialog", ("Warning", "The disk is almost full."), "a warning dialog"),
    ):
        editor_screen((1280, 800), (80, 60, 1100, 700), LINES, dialog, seed=1).save(tmp_path / f"{name}.png")
        configs.append({"name": name, "examples_to_include": [text, {"image": f"{name}.png"}]})
    out = tmp_path / "classes.json"
    out.write_text(json.dumps({"classifier_configs": configs}))
    return out


def test_another_sessions_editor_gets_no_state_and_its_dialogs_keep_theirs(tmp_path):
    clf = ScreenClassifier(_class_file(tmp_path), encoder="auto")
    assert clf.rule.min_score is None and clf.window_sizes is not None  # nothing learned: window sizes decide
    assert clf.window_sizes.windowed().tolist() == [True, True]
    other = ((1440, 900), (300, 120, 1400, 860), LINES[::-1])  # another screen size, place and text order
    editor, error, warning = (
        editor_screen(*other, dialog, seed=5)
        for dialog in (None, ("Error", "The printer is offline."), ("Warning", "The battery is low."))
    )
    got = clf.classify_batch([editor, error, warning])
    assert [r.state for r in got] == [None, "error_dialog", "warning_dialog"]
    assert got[0].pred in ("error_dialog", "warning_dialog")  # pred is kept: the best class, no state
    # the evidence says why (the review page shows it on the winner's card); a dialog's does not
    (why,) = explain(clf, clf.features([clf.load(editor)])[0], [got[0].pred])
    assert why.window is not None and why.window.startswith("its window is 1") and "px" in why.window
    (ok,) = explain(clf, clf.features([clf.load(error)])[0], ["error_dialog"])
    assert ok.window is None


def test_only_classes_whose_screenshots_all_show_a_window_in_front_are_windowed():
    nan = float("nan")
    cols = ExampleColumns(
        np.array([0, 0, 1, 2, 2]),
        np.array([False, False, False, False, True]),
        np.array([True, True, True, False, True]),
        3,
    )
    # class 0: two dialogs; class 1: a page with no window in front; class 2: text and a negative screenshot
    sizes = np.array([[400, 150], [420, 160], [nan, nan], [nan, nan], [400, 150]], np.float32)
    ws = WindowSizes(cols, sizes)
    assert ws.windowed().tolist() == [True, False, False]
    unlike = ws.unlike(np.array([[1100, 740], [430, 150]], np.float32))
    assert unlike.tolist() == [[True, False, False], [False, False, False]]


def test_index_build_says_which_classes_have_a_window_size(tmp_path):
    classes = _class_file(tmp_path)
    res = CliRunner().invoke(app, ["index", "build", "-c", str(classes), "--cache", str(tmp_path / "cache")])
    assert res.exit_code == 0, res.output
    assert "none of the above by window size for 2 classes (error_dialog, warning_dialog)" in res.output
