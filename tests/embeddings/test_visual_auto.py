"""encoder="auto" adds the visual channel when a class file has screenshot exemplars, and
adding a channel re-uses what the disk cache already holds (no second OCR)."""

from __future__ import annotations

import shutil

import pytest
from devset import MISSING  # tests/devset.py: the one place tests find screens-dev
from devset import SCREENS_DEV as DEV

from screenstate import ClassSpec, ScreenClassifier
from screenstate.classifier import FewShot, TwoStage
from screenstate.embeddings.encoder import Encoder
from screenstate.embeddings.visual import VisualChannel


@pytest.mark.parametrize(
    "clip_local, image_exemplars, expected",
    [
        (False, False, "text"),
        (False, True, "visual+text"),
        (True, False, "clip+text"),
        (True, True, "clip+visual+text"),
    ],
)
def test_auto_adds_visual_for_image_exemplars(monkeypatch, clip_local, image_exemplars, expected):
    from screenstate.embeddings import factory

    monkeypatch.setattr(factory, "clip_available", lambda *a: clip_local)
    monkeypatch.setattr(factory, "_NOTICE_SHOWN", True)
    assert factory.resolve_encoder_name("auto", factory.EncoderOptions(), image_exemplars) == expected


def _spec(data_dir, tmp_path, images: bool) -> ClassSpec:
    for name in ("error_dialog", "login_page", "file_chooser"):
        shutil.copyfile(data_dir / f"{name}.png", tmp_path / f"{name}.png")
    cfgs = [
        {"name": n, "examples_to_include": [f"a {n.replace('_', ' ')}", *([{"image": f"{n}.png"}] if images else [])]}
        for n in ("error_dialog", "login_page", "file_chooser")
    ]
    return ClassSpec.from_dict({"classifier_configs": cfgs}, base_dir=tmp_path)


def test_auto_classifier_gains_visual_with_exemplars_and_keeps_text_features(
    text_encoder, data_dir, tmp_path, monkeypatch
):
    from screenstate.embeddings import factory

    monkeypatch.setattr(factory, "clip_available", lambda *a: False)
    text = text_encoder.channels[0]
    # build an "auto" classifier around the already-loaded text channel
    monkeypatch.setattr(factory, "create_encoder", lambda *a, **k: text_encoder)
    monkeypatch.setattr("screenstate.classify.create_encoder", lambda *a, **k: text_encoder)
    cache = tmp_path / "cache"
    clf = ScreenClassifier(_spec(data_dir, tmp_path, images=False), encoder="auto", cache=cache)
    assert clf.encoder.channel_names == ("text",)
    clf.classify(data_dir / "login_page.png")  # text features of this screen land on disk
    calls = text.ocr_calls
    with_images = clf.with_spec(_spec(data_dir, tmp_path, images=True))
    assert with_images.encoder.channel_names == ("visual", "text")
    assert clf.encoder.channel_names == ("text",)  # the original is untouched
    calls = text.ocr_calls  # the exemplars were read once (two of them were new)
    res = with_images.classify(data_dir / "login_page.png")
    assert text.ocr_calls == calls  # only the visual channel ran for the known screen
    assert res.pred == "login_page" and res.channels == ("visual", "text")


def test_explicit_encoder_is_never_changed(text_encoder, data_dir, tmp_path):
    clf = ScreenClassifier(_spec(data_dir, tmp_path, images=True), encoder=text_encoder)
    assert clf.encoder.channel_names == ("text",)
    enc = Encoder("visual", [VisualChannel()])
    clf2 = ScreenClassifier(_spec(data_dir, tmp_path, images=True), encoder=enc)
    # visual alone scores only exemplars; text examples get no opinion (fused 0), exemplars decide
    assert clf2.classify(data_dir / "file_chooser.png").pred == "file_chooser"


def test_evidence_leaves_out_channels_without_an_opinion(text_encoder, data_dir, tmp_path):
    """explain() on visual+text: a text example's evidence names only the text channel, an
    exemplar's both, and the fused relevance is their mean (the fusion rule)."""
    from screenstate.evidence import explain

    enc = Encoder("visual+text", [VisualChannel(), text_encoder.channels[0]])
    clf = ScreenClassifier(_spec(data_dir, tmp_path, images=True), encoder=enc)
    feats = clf.features([clf.load(data_dir / "login_page.png")])[0]
    kinds = set()
    for ev in explain(clf, feats, clf.names):
        if ev.example_text is not None:
            assert set(ev.channel_relevance) == {"text"}
        else:
            assert set(ev.channel_relevance) == {"visual", "text"}
            assert ev.relevance == pytest.approx(sum(ev.channel_relevance.values()) / 2, abs=1e-5)
        kinds.add(ev.example_text is None)
    assert kinds == {True, False}  # both kinds of example decided some class


@pytest.mark.skipif(not DEV.is_dir(), reason=MISSING)
def test_two_screenshots_per_class_switch_on_the_fewshot_rule(text_encoder, tmp_path):
    """Two screenshots of each of three states: the few-shot rule learns a scale and weight
    per source from them, classifies new screens of those states, and the evidence of
    every class reproduces its raw score; one screenshot per class keeps the two-stage rule."""
    from screenstate.evidence import explain

    states = ("error_dialog", "file_chooser", "login_page")
    files = {s: sorted((DEV / s).glob("*.png")) for s in states}
    cfgs = [
        {"name": s, "examples_to_include": [f"a {s.replace('_', ' ')}", *({"image": str(p)} for p in files[s][:2])]}
        for s in states
    ]
    enc = Encoder("visual+text", [VisualChannel(), text_encoder.channels[0]])
    clf = ScreenClassifier(ClassSpec.from_dict({"classifier_configs": cfgs}), encoder=enc, cache=tmp_path)
    assert isinstance(clf.rule, FewShot)
    assert {str(c.source) for c in clf.rule.calibration} == {
        "text:prompts",
        "text:exemplars",
        "visual:exemplars",
        "words:exemplars",
    }
    assert all(c.loo_accuracy is not None and c.weight > 0 for c in clf.rule.calibration)
    screens = [files[s][2] for s in states]
    results = clf.classify_batch(screens)
    assert [r.pred for r in results] == list(states)
    feats = clf.features([clf.load(p) for p in screens])
    for f, r in zip(feats, results):
        for ev in explain(clf, f, clf.names):
            assert ev.raw_score == pytest.approx(r.raw_scores[ev.class_name], abs=1e-5)
    one = [{**c, "examples_to_include": c["examples_to_include"][:2]} for c in cfgs]
    assert isinstance(clf.with_spec(ClassSpec.from_dict({"classifier_configs": one})).rule, TwoStage)


def test_large_exemplar_sets_calibrate_on_a_spread_subset(text_encoder, tmp_path, monkeypatch):
    """Above FEWSHOT_CALIBRATION_ROWS positive screenshots, the scales are learned from the
    first ones of every class (pairs are quadratic), and every class keeps at least two."""
    import screenstate.classifier.fewshot as fewshot_mod

    if not DEV.is_dir():
        pytest.skip(MISSING)
    seen_rows = []
    real = fewshot_mod.calibrate
    monkeypatch.setattr(fewshot_mod, "calibrate", lambda rows, cols, *a: seen_rows.append(cols) or real(rows, cols, *a))
    monkeypatch.setattr(fewshot_mod, "FEWSHOT_CALIBRATION_ROWS", 3)
    cfgs = [
        {"name": s, "examples_to_include": [{"image": str(p)} for p in sorted((DEV / s).glob("*.png"))[:3]]}
        for s in ("error_dialog", "login_page")
    ]
    clf = ScreenClassifier(
        ClassSpec.from_dict({"classifier_configs": cfgs}), encoder=Encoder("visual", [VisualChannel()])
    )
    assert isinstance(clf.rule, FewShot)
    assert seen_rows[-1].tolist() == [0, 1, 3, 4]  # two of each class (columns 0-2, 3-5)
