"""Region sources a user picks (``auto``, ``owl+text``) and classify_regions on boxes of one
screenshot."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from screenstate.detect import ScreenDetector

SPEC = {
    "detector_configs": [
        {"name": "sign_in_button", "examples_to_include": ["the Sign In button"], "detection_threshold": 0.5},
        {"name": "logo", "examples_to_include": ["a logo"], "detection_threshold": 0.0},
    ],
    "class_agnostic_nms": False,
}


@pytest.fixture(scope="module")
def login(data_dir):
    return Image.open(data_dir / "login_page.png").convert("RGB")


def test_auto_is_text_offline_and_owl_plus_text_with_weights(text_encoder, tiny_owl, login, monkeypatch):
    from screenstate.embeddings import owl

    ch = text_encoder.channels[0]
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(owl, "owl_available", lambda *a, **k: False)
    offline = ScreenDetector(SPEC, regions="auto", text_channel=ch)
    assert offline.source_names == ("text",)
    text_only = ScreenDetector(SPEC, regions="text", text_channel=ch)
    assert [d.to_dict() for d in offline.detect(login)] == [d.to_dict() for d in text_only.detect(login)]
    # with weights on disk, auto loads OWL and reads both sources
    monkeypatch.setattr(owl, "owl_available", lambda *a, **k: True)
    monkeypatch.setattr(owl, "OwlRegions", lambda *a, **k: tiny_owl)
    assert ScreenDetector(SPEC, regions="auto", text_channel=ch).source_names == ("owl", "text")


def test_owl_plus_text_reads_both_sources(text_encoder, tiny_owl, login):
    ch = text_encoder.channels[0]
    both = ScreenDetector(SPEC, regions="owl+text", text_channel=ch, owl=tiny_owl)
    assert both.source_names == ("owl", "text")
    reg = both._regions(login, both.columns)
    owl_only = ScreenDetector(SPEC, regions="owl", owl=tiny_owl)._regions(login, both.columns)
    text_only = ScreenDetector(SPEC, regions="text", text_channel=ch)._regions(login, both.columns)
    assert reg.source == "owl+text" and tiny_owl.calls == 2
    assert np.array_equal(reg.boxes, np.concatenate([owl_only.boxes, text_only.boxes]))
    assert np.allclose(reg.relevance, np.concatenate([owl_only.relevance, text_only.relevance]))
    assert reg.labels == owl_only.labels + text_only.labels
    dets = both.detect(login)
    # the text line still answers "Sign In" (random OWL patches cannot reach 0.5 relevance here) ...
    sign_in = [d for d in dets if d.class_ == "sign_in_button"]
    assert sign_in and "sign in" in sign_in[0].label.lower()
    text_box = next(d for d in ScreenDetector(SPEC, regions="text", text_channel=ch).detect(login))
    assert sign_in[0].box == text_box.box
    # ... and the zero-threshold class keeps boxes from both sources
    logo_boxes = {d.box for d in dets if d.class_ == "logo"}
    owl_boxes = {tuple(float(v) for v in b) for b in owl_only.boxes}
    assert logo_boxes & owl_boxes and logo_boxes - owl_boxes


@pytest.fixture(scope="module")
def two_screens(data_dir) -> tuple[Image.Image, list[tuple[int, int, int, int]]]:
    """The login page and the error dialog side by side on one canvas, with their boxes."""
    a = Image.open(data_dir / "login_page.png").convert("RGB")
    b = Image.open(data_dir / "error_dialog.png").convert("RGB")
    canvas = Image.new("RGB", (a.width + b.width, max(a.height, b.height)), (0, 0, 0))
    canvas.paste(a, (0, 0))
    canvas.paste(b, (a.width, 0))
    return canvas, [(0, 0, a.width, a.height), (a.width, 0, a.width + b.width, b.height)]


def test_classify_regions_classifies_each_box(text_encoder, small_spec, two_screens):
    from screenstate import ScreenClassifier

    clf = ScreenClassifier(small_spec, encoder=text_encoder)
    canvas, boxes = two_screens
    res = clf.classify_regions(canvas, boxes)
    assert [r.pred for r in res] == ["login_page", "error_dialog"]
    # same numbers as classifying the crops themselves; a tensor of float boxes works too
    crops = [canvas.crop(b) for b in boxes]
    for r, c in zip(res, clf.classify_batch(crops)):
        assert r.raw_scores == pytest.approx(c.raw_scores, abs=1e-6)
    again = clf.classify_regions(canvas, np.array(boxes, dtype=np.float32))
    assert [r.raw_scores for r in again] == [r.raw_scores for r in res]


def test_classify_regions_clips_and_names_bad_boxes(tiny_clip_encoder, small_spec):
    from screenstate import ScreenClassifier

    clf = ScreenClassifier(small_spec, encoder=tiny_clip_encoder)
    img = Image.new("RGB", (100, 80), (10, 20, 30))
    img.paste((200, 0, 0), (50, 0, 100, 80))
    # a box past the right edge is clipped to the image: the same as the in-image box
    out, inside = clf.classify_regions(img, [(50, -5, 130.5, 90), (50, 0, 100, 80)])
    assert out.raw_scores == inside.raw_scores
    with pytest.raises(ValueError, match=r"boxes\[1\]: empty after clipping to the 100x80 image"):
        clf.classify_regions(img, [(0, 0, 10, 10), (120, 0, 140, 10)])
    with pytest.raises(ValueError, match=r"boxes\[0\]: expected \(x0, y0, x1, y1\)"):
        clf.classify_regions(img, [(0, 0, 10)])
