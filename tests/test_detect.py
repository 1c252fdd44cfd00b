"""ScreenDetector: OCR-line regions on a real screenshot, a tiny OWL-ViT built from a config."""

from __future__ import annotations

import pytest
from PIL import Image

from screenstate.detect import Detection, ScreenDetector, draw_detections
from screenstate.embeddings.regions import strip_roles
from screenstate.errors import ModelNotAvailableError, UnknownNameError

SPEC = {
    "detector_configs": [
        {"name": "sign_in_button", "examples_to_include": ["the Sign In button"], "detection_threshold": 0.5},
        {"name": "password_field", "examples_to_include": ["Password"], "examples_to_exclude": ["Forgot password"]},
    ],
    "nms_threshold": 0.4,
    "class_agnostic_nms": False,
}


@pytest.fixture(scope="module")
def text_detector(text_encoder):
    return ScreenDetector(SPEC, regions="text", text_channel=text_encoder.channels[0])


def test_ocr_lines_find_known_words(text_detector, data_dir):
    dets = text_detector.detect(data_dir / "login_page.png")
    by_class = {}
    for d in dets:
        by_class.setdefault(d.class_, d)
    sign_in = by_class["sign_in_button"]
    assert "sign in" in sign_in.label.lower() and sign_in.score >= 0.5
    x0, y0, x1, y1 = sign_in.box
    assert 0 <= x0 < x1 <= 1366 and 0 <= y0 < y1 <= 768
    # the negative example keeps "I forgot my password" out of password_field
    assert all("forgot" not in d.label.lower() for d in dets if d.class_ == "password_field")


def test_boxes_map_back_to_original_size(text_detector, data_dir):
    img = Image.open(data_dir / "login_page.png").convert("RGB")
    big = img.resize((img.size[0] * 2, img.size[1] * 2))
    a = [d for d in text_detector.detect(img) if d.class_ == "sign_in_button"][0]
    b = [d for d in text_detector.detect(big) if d.class_ == "sign_in_button"][0]
    assert b.box[0] == pytest.approx(2 * a.box[0], abs=12) and b.box[3] == pytest.approx(2 * a.box[3], abs=12)


def test_free_text_query_and_drawing(text_detector, data_dir, tmp_path):
    dets = text_detector.detect(data_dir / "login_page.png", query="Remember Me checkbox")
    assert dets and "remember" in dets[0].label.lower()
    out = draw_detections(data_dir / "login_page.png", dets[:3])
    assert out.size == (1366, 768)
    assert Detection((0, 0, 1, 1), 0.5, "x").to_dict() == {"tlbr": [0, 0, 1, 1], "score": 0.5, "class": "x"}


@pytest.mark.parametrize("text, stripped", [("the Save button", "Save"), ("Cancel", "Cancel"), ("button", "button")])
def test_strip_roles(text, stripped):
    assert strip_roles(text) == stripped


def test_tiny_owl_full_path_offline(tiny_owl, data_dir):
    spec = {
        "detector_configs": [
            {"name": "button", "examples_to_include": ["a button"], "detection_threshold": 0.0},
            {"name": "logo", "examples_to_include": ["a logo"], "examples_to_exclude": ["text"]},
        ],
        "class_agnostic_nms": True,
    }
    det = ScreenDetector(spec, regions="owl", owl=tiny_owl)
    assert det.source_names == ("owl",)
    img = Image.open(data_dir / "error_dialog.png")
    dets = det.detect(img)
    assert tiny_owl.calls == 1 and dets
    for d in dets:
        assert 0 <= d.box[0] <= d.box[2] <= img.size[0] and 0 <= d.box[1] <= d.box[3] <= img.size[1]
        assert 0.0 <= d.score <= 1.0 and d.class_ in ("button", "logo")
    # 4x4 patches -> top_k 10 regions; class-agnostic NMS keeps a subset of the per-class result
    per_class = ScreenDetector({**spec, "class_agnostic_nms": False}, regions="owl", owl=tiny_owl).detect(img)
    assert len(dets) <= len(per_class) <= 2 * 10
    assert {(d.box, d.class_) for d in dets} <= {(d.box, d.class_) for d in per_class}


def test_missing_owl_weights_fail_fast(monkeypatch):
    from screenstate.embeddings.owl import OwlRegions

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelNotAvailableError, match="regions='text'"):
        OwlRegions()
    with pytest.raises(UnknownNameError, match="auto, text, owl, owl\\+text"):
        ScreenDetector(SPEC, regions="yolo")
