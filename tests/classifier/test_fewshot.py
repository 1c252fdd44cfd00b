"""The few-shot rule: sources calibrated and weighted on the user's own exemplars."""

from __future__ import annotations

import numpy as np
import pytest

from screenstate.classifier.columns import Against, ExampleColumns, Source, sources_of
from screenstate.classifier.fewshot import MIN_WEIGHT, FewShot, SourceCalibration, calibrate

NAN = float("nan")


def t(x):
    """An array as the channels hand them to the rules: float32, int64 or bool."""
    a = np.asarray(x)
    return a.astype(np.float32) if a.dtype.kind == "f" else a


def _scores(relevance, calibration, cls, neg):
    """The few-shot rule's raw scores with ``calibration`` on 2 classes."""
    is_image = np.ones(len(cls), dtype=bool)
    return FewShot(ExampleColumns(cls, neg, is_image, 2), tuple(calibration), tuple(relevance)).scores(relevance)


def _layout():
    """2 classes; columns: a text prompt per class, then 2 screenshot exemplars per class."""
    cls = t([0, 1, 0, 0, 1, 1])
    neg = np.zeros(6, dtype=bool)
    is_image = t([False, False, True, True, True, True])
    return cls, neg, is_image


def test_sources_split_prompt_and_exemplar_columns():
    _, _, is_image = _layout()
    rel = {
        "text": np.random.default_rng(0).random((1, 6), dtype=np.float32),
        "visual": t([[NAN, NAN, 0.5, 0.6, 0.7, 0.8]]),
    }
    got = sources_of(rel, is_image)
    assert {str(s) for s in got} == {"text:prompts", "text:exemplars", "visual:exemplars"}
    assert got[Source("visual", Against.EXEMPLARS)].tolist() == [False, False, True, True, True, True]


def _exemplar_rows(good: str):
    """Relevance of the 4 exemplar screens (columns 2..5) to every column: channel ``good``
    tells the classes apart (same class 0.9, other 0.6), the other channel is noise that
    prefers the wrong class."""
    good_m = t(
        [
            [0.7, 0.6, 1.0, 0.9, 0.6, 0.6],
            [0.7, 0.6, 0.9, 1.0, 0.6, 0.6],
            [0.6, 0.7, 0.6, 0.6, 1.0, 0.9],
            [0.6, 0.7, 0.6, 0.6, 0.9, 1.0],
        ]
    )
    bad_m = t(
        [
            [0.6, 0.6, 1.0, 0.55, 0.8, 0.8],
            [0.6, 0.6, 0.55, 1.0, 0.8, 0.8],
            [0.6, 0.6, 0.8, 0.8, 1.0, 0.55],
            [0.6, 0.6, 0.8, 0.8, 0.55, 1.0],
        ]
    )
    bad_m[:, :2] = NAN  # the bad channel has no opinion on prompts
    return {good: good_m, ("visual" if good == "text" else "text"): bad_m}


def test_weights_follow_leave_one_out_accuracy_on_the_exemplars():
    cls, neg, is_image = _layout()
    cal = {
        str(c.source): c
        for c in calibrate(_exemplar_rows("text"), t([2, 3, 4, 5]), ExampleColumns(cls, neg, is_image, 2))
    }
    assert cal["text:exemplars"].loo_accuracy == 1.0 and cal["text:exemplars"].weight == pytest.approx(0.5)
    assert cal["text:prompts"].loo_accuracy == 1.0
    assert cal["visual:exemplars"].loo_accuracy == 0.0  # it picks the other class every time
    assert cal["visual:exemplars"].weight == MIN_WEIGHT
    assert cal["text:exemplars"].same == pytest.approx(0.9) and cal["text:exemplars"].diff == pytest.approx(0.6)


def test_a_source_that_misleads_on_the_exemplars_does_not_decide():
    cls, neg, is_image = _layout()
    cal = calibrate(_exemplar_rows("text"), t([2, 3, 4, 5]), ExampleColumns(cls, neg, is_image, 2))
    # a new screen of class 0: text agrees with class 0's exemplars, visual (noise) with class 1's
    screen = {
        "text": t([[0.7, 0.6, 0.85, 0.8, 0.6, 0.62]]),
        "visual": t([[NAN, NAN, 0.6, 0.6, 0.99, 0.99]]),
    }
    raw = _scores(screen, cal, cls, neg)
    assert int(raw.argmax(1)[0]) == 0
    # with equal weights (no calibration) the confident wrong channel would have won
    flat = [SourceCalibration(c.source, c.columns, None, None, 1.0, None) for c in cal]
    assert int(_scores(screen, flat, cls, neg).argmax(1)[0]) == 1
    # each source on its own: text picks class 0, the visual exemplars class 1
    rule = FewShot(ExampleColumns(cls, neg, np.asarray(is_image, bool), 2), tuple(cal), tuple(screen))
    per = {k: int(v.argmax(1)[0]) for k, v in rule.per_source(screen).items()}
    assert per == {"text:prompts": 0, "text:exemplars": 0, "visual:exemplars": 1}


def test_negative_screenshot_lowers_its_class():
    cls = t([0, 0, 1, 1])
    neg = t([False, True, False, False])  # class 0: one positive, one negative screenshot
    is_image = np.ones(4, dtype=bool)
    rows = {"visual": t([[1.0, 0.6, 0.6, 0.6], [0.6, 0.6, 1.0, 0.9], [0.6, 0.6, 0.9, 1.0]])}
    cal = calibrate(rows, t([0, 2, 3]), ExampleColumns(cls, neg, is_image, 2))
    near_neg = {"visual": t([[0.8, 0.95, 0.7, 0.7]])}  # like class 0, but more like its negative
    far_neg = {"visual": t([[0.8, 0.5, 0.7, 0.7]])}
    assert int(_scores(far_neg, cal, cls, neg).argmax(1)[0]) == 0
    assert int(_scores(near_neg, cal, cls, neg).argmax(1)[0]) == 1


def test_one_exemplar_per_class_keeps_the_channel_calibration():
    cls = t([0, 1])
    neg = np.zeros(2, dtype=bool)
    is_image = np.ones(2, dtype=bool)
    rows = {"visual": t([[1.0, 0.6], [0.6, 1.0]])}
    (cal,) = calibrate(rows, t([0, 1]), ExampleColumns(cls, neg, is_image, 2))
    assert cal.same is None and cal.weight == 1.0
    raw = _scores({"visual": t([[0.7, 0.9]])}, [cal], cls, neg)
    assert np.allclose(raw, t([[0.7, 0.9]]))


def test_the_rule_is_chosen_from_the_screenshot_exemplars():
    """Two-stage until two classes have two positive screenshots each; then the few-shot rule,
    calibrated on exactly those screenshots' evidence."""
    from screenstate.classifier.rule import choose_rule
    from screenstate.classifier.two_stage import TwoStage

    cls, neg, is_image = _layout()
    asked = []

    def evidence(rows):
        asked.append(rows.tolist())
        return {k: v[: len(rows)] for k, v in _exemplar_rows("text").items()}

    one_each = ExampleColumns(cls, neg, t([False, False, True, False, True, False]), 2)
    rule = choose_rule(one_each, ("text",), {"text": 2.0}, evidence)
    assert isinstance(rule, TwoStage) and asked == [] and rule.channels == ("text",)
    rule = choose_rule(ExampleColumns(cls, neg, is_image, 2), ("text", "visual"), {}, evidence)
    assert isinstance(rule, FewShot) and asked == [[2, 3, 4, 5]]
    assert rule.channels == ("text", "visual")
    screen = {"text": t([[0.7, 0.6, 0.85, 0.8, 0.6, 0.62]]), "visual": np.full((1, 6), NAN, np.float32)}
    assert int(rule.scores(screen).argmax(1)[0]) == 0
    view = rule.column_view(screen)
    assert view.shape == (1, 6) and int(view[0, 2:].argmax()) == 0  # the exemplar behind class 0's score


def test_calibration_rows_spread_a_large_set_over_the_classes():
    from screenstate.classifier.fewshot import calibration_rows

    cls = t([0, 0, 0, 1, 1, 1])
    cols = ExampleColumns(cls, np.zeros(6, dtype=bool), np.ones(6, dtype=bool), 2)
    assert calibration_rows(cols).tolist() == [0, 1, 2, 3, 4, 5]
    assert calibration_rows(cols, limit=3).tolist() == [0, 1, 3, 4]  # two of each class
    few = ExampleColumns(cls, t([False, True, True, False, False, True]), np.ones(6, dtype=bool), 2)
    assert calibration_rows(few) is None  # class 0 has one positive screenshot


def test_screenshots_of_one_scene_count_once():
    """Exemplars named from one recording (one scene each class, or all of them) teach
    nothing about another session: the two-stage rule decides (label_once)."""
    from screenstate.classifier.fewshot import calibration_rows

    cls = t([0, 0, 0, 1, 1, 1])
    pos = np.zeros(6, dtype=bool)
    distinct = ExampleColumns(cls, pos, np.ones(6, dtype=bool), 2, t([0, 1, 2, 3, 4, 5]))
    assert calibration_rows(distinct) is not None
    one_scene_each = ExampleColumns(cls, pos, np.ones(6, dtype=bool), 2, t([0, 0, 0, 3, 3, 3]))
    assert calibration_rows(one_scene_each) is None
    assert calibration_rows(ExampleColumns(cls, pos, np.ones(6, dtype=bool), 2, t([0, 0, 2, 3, 4, 3]))) is not None
    # two classes of six with two scenes: too few to learn the others' variation from
    six = t([0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5])
    scenes = t([0, 1, 2, 3, 4, 4, 6, 6, 8, 8, 10, 10])
    many = ExampleColumns(six, np.zeros(12, dtype=bool), np.ones(12, dtype=bool), 6, scenes)
    assert calibration_rows(many) is None
    # without scenes (the replay rule of a recording treats every screenshot as its own): two classes suffice
    assert calibration_rows(ExampleColumns(six, np.zeros(12, dtype=bool), np.ones(12, dtype=bool), 6)) is not None
    scenes[[5, 7]] = [5, 7]  # four of six
    assert (
        calibration_rows(ExampleColumns(six, np.zeros(12, dtype=bool), np.ones(12, dtype=bool), 6, scenes)) is not None
    )


def test_leave_one_out_leaves_the_near_duplicates_out_too():
    """A screenshot's near-duplicate is not a same-class pair: with it left out, the source
    is scored on the other scene of its class only (its weight drops when that one differs)."""
    cls = t([0, 0, 0, 1, 1, 1])
    pos = np.zeros(6, dtype=bool)
    img = np.ones(6, dtype=bool)
    rel = t(  # screenshots 0 and 1 of class 0 are near-duplicates; 2 is another scene, as like class 1
        [
            [1.0, 0.99, 0.6, 0.62, 0.6, 0.6],
            [0.99, 1.0, 0.6, 0.62, 0.6, 0.6],
            [0.6, 0.6, 1.0, 0.6, 0.61, 0.6],
            [0.6, 0.6, 0.6, 1.0, 0.8, 0.8],
            [0.6, 0.6, 0.6, 0.8, 1.0, 0.8],
            [0.6, 0.6, 0.6, 0.8, 0.8, 1.0],
        ]
    )
    rows = t([0, 1, 2, 3, 4, 5])
    naive = calibrate({"visual": rel}, rows, ExampleColumns(cls, pos, img, 2))[0]
    honest = calibrate({"visual": rel}, rows, ExampleColumns(cls, pos, img, 2, t([0, 0, 2, 3, 4, 5])))[0]
    assert naive.loo_accuracy > honest.loo_accuracy
    assert honest.same is not None and naive.same is not None and honest.same < naive.same


def _mixed():
    """3 classes: 0 and 1 with a prompt and 2 screenshot exemplars each, 2 with a prompt only."""
    cls = t([0, 1, 2, 0, 0, 1, 1])
    neg = np.zeros(7, dtype=bool)
    is_image = t([False, False, False, True, True, True, True])
    rows = t([3, 4, 5, 6])
    text = t(  # exemplar screens vs every column: prompts a little, exemplars clearly
        [
            [0.7, 0.6, 0.6, 1.0, 0.9, 0.6, 0.6],
            [0.7, 0.6, 0.6, 0.9, 1.0, 0.6, 0.6],
            [0.6, 0.7, 0.6, 0.6, 0.6, 1.0, 0.9],
            [0.6, 0.7, 0.6, 0.6, 0.6, 0.9, 1.0],
        ]
    )
    return ExampleColumns(cls, neg, is_image, 3), {"text": text}, rows


def test_a_text_only_class_does_not_beat_the_exemplars_of_the_screen_shown():
    columns, exemplar_rel, rows = _mixed()
    rule = FewShot.calibrated(columns, exemplar_rel, rows)
    # a new screen of class 0: its exemplars match (0.9), its prompt less than class 2's prompt
    screen = {"text": t([[0.66, 0.6, 0.72, 0.9, 0.88, 0.6, 0.6]])}
    raw = rule.scores(screen)
    assert int(raw.argmax()) == 0
    # the text-only class is scored on the same sources: its missing exemplars count as a
    # typical other-class match, not as absent evidence
    assert raw[0, 2] < raw[0, 0]


def test_none_of_the_above_is_learned_from_the_exemplars():
    columns, exemplar_rel, rows = _mixed()
    rule = FewShot.calibrated(columns, exemplar_rel, rows)
    assert rule.min_score is not None
    like_class_1 = {"text": t([[0.6, 0.7, 0.6, 0.6, 0.6, 0.92, 0.9]])}
    far = {"text": t([[0.55, 0.55, 0.55, 0.5, 0.5, 0.5, 0.5]])}
    assert float(rule.scores(like_class_1).max()) > rule.min_score
    assert float(rule.scores(far).max()) < rule.min_score


def _one_screenshot_class():
    """``_mixed`` plus one screenshot exemplar of class 2 (its only one)."""
    columns, exemplar_rel, rows = _mixed()
    cls = np.concatenate([columns.example_class, t([2])])
    is_image = np.concatenate([columns.is_image, t([True])])
    text = np.concatenate([exemplar_rel["text"], np.full((4, 1), 0.6, np.float32)], 1)
    text = np.concatenate([text, t([[0.6, 0.6, 0.7, 0.6, 0.6, 0.6, 0.6, 1.0]])])
    return (
        ExampleColumns(cls, np.zeros(8, dtype=bool), is_image, 3),
        {"text": text},
        t([3, 4, 5, 6, 7]),
    )


def test_a_class_with_one_screenshot_does_not_lower_none_of_the_above():
    columns, exemplar_rel, rows = _one_screenshot_class()
    rule = FewShot.calibrated(columns, exemplar_rel, rows)
    # learned from the classes with two screenshots only: the same threshold as without class 2's
    base = FewShot.calibrated(columns, {"text": exemplar_rel["text"][:4]}, rows[:4])
    assert rule.min_score == pytest.approx(base.min_score)
    # a screen like none of the exemplars (another session's desktop) stays no state
    from screenstate.classifier.two_stage import predict

    far = {"text": t([[0.6, 0.6, 0.6, 0.62, 0.62, 0.6, 0.6, 0.6]])}
    assert predict(
        rule.scores(far), np.full((3,), rule.min_score, np.float32), np.full((3,), rule.min_margin, np.float32)
    )[1].tolist() == [False]


def test_a_screen_as_like_two_classes_as_the_other_is_none_of_them():
    from screenstate.classifier.two_stage import predict

    columns, exemplar_rel, rows = _mixed()
    rule = FewShot.calibrated(columns, exemplar_rel, rows)
    assert rule.min_margin is not None and rule.min_margin > 0
    mins = np.full((3,), rule.min_score, np.float32)
    margins = np.full((3,), rule.min_margin, np.float32)
    # the screen under both dialogs: close to the exemplars of class 0 and class 1 alike
    between = {"text": t([[0.65, 0.65, 0.6, 0.85, 0.84, 0.85, 0.84]])}
    clear = {"text": t([[0.7, 0.6, 0.6, 0.92, 0.9, 0.6, 0.6]])}
    raw = rule.scores(between)
    assert float(raw.max()) >= rule.min_score  # a threshold on the best score alone would accept it
    assert predict(raw, mins, margins)[1].tolist() == [False]
    idx, ok = predict(rule.scores(clear), mins, margins)
    assert (idx.tolist(), ok.tolist()) == ([0], [True])
    # a class whose min_score the user set (NaN margin there) keeps its own threshold only
    assert predict(raw, np.full((3,), 0.1, np.float32), np.full((3,), float("nan"), np.float32))[1].tolist() == [True]


def test_a_screens_scores_do_not_depend_on_the_other_screens_of_the_batch():
    # one screen the exemplar source abstains on (like no exemplar), one it scores: scored
    # together or alone, each gets the same scores (a replay checks one frame at a time)
    columns, exemplar_rel, rows = _mixed()
    rule = FewShot.calibrated(columns, exemplar_rel, rows)
    far = t([[0.62, 0.6, 0.7, 0.4, 0.4, 0.4, 0.4]])
    near = t([[0.66, 0.6, 0.72, 0.9, 0.88, 0.6, 0.6]])
    both = rule.scores({"text": np.concatenate([far, near])})
    alone = np.concatenate([rule.scores({"text": far}), rule.scores({"text": near})])
    assert np.allclose(both, alone)
