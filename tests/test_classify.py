from __future__ import annotations

import io
import time

import numpy as np
import pytest
from PIL import Image

from screenstate import ClassSpec, ScreenClassifier
from screenstate.classifier.two_stage import two_stage_scores
from screenstate.errors import InvalidImageError

SPEC = {
    "classifier_configs": [
        {"name": "red", "examples_to_include": ["a red screen"], "examples_to_exclude": ["a blue screen"]},
        {"name": "green", "examples_to_include": ["a green screen", "a lime screen"]},
        {"name": "blue", "examples_to_include": ["a blue screen"], "min_score": 0.99},
    ]
}


@pytest.fixture(scope="module")
def clf(tiny_clip_encoder):
    return ScreenClassifier(ClassSpec.from_dict(SPEC), encoder=tiny_clip_encoder)


def _img(color):
    return Image.new("RGB", (160, 100), color)


def test_full_path_json_to_prediction(clf):
    res = clf.classify(_img((255, 0, 0)))
    assert res.pred in clf.names
    assert set(res.scores) == {"red", "green", "blue"}
    assert sum(res.scores.values()) == pytest.approx(1.0, abs=1e-5)
    assert res.channels == ("clip",)
    # raw scores are exactly the two-stage rule over the channel's relevance
    feats = clf.encoder.encode_images([_img((255, 0, 0))])
    rel = clf.encoder.relevance(feats, clf.examples)
    raw = two_stage_scores(rel, clf.example_class, clf.example_is_negative, 3)[0]
    assert [res.raw_scores[n] for n in clf.names] == pytest.approx(raw.tolist(), abs=1e-6)


def test_every_input_type_gives_same_result(clf, tmp_path):
    img = _img((0, 200, 0))
    buf = io.BytesIO()
    img.save(buf, "PNG")
    (tmp_path / "f.png").write_bytes(buf.getvalue())
    results = [
        clf.classify(x) for x in (img, buf.getvalue(), np.asarray(img), tmp_path / "f.png", str(tmp_path / "f.png"))
    ]
    for r in results[1:]:
        assert r.raw_scores == pytest.approx(results[0].raw_scores, abs=1e-6)


def test_batch_equals_one_by_one_and_dedupes(clf):
    imgs = [_img((255, 0, 0)), _img((0, 0, 255)), _img((255, 0, 0)), _img((10, 250, 10))]
    clf.memory.clear()  # earlier tests saw some of these screens
    before = clf.image_encodes
    batch = clf.classify_batch(imgs, batch_size=3)
    assert clf.image_encodes - before == 3  # the repeated red frame (same batch) is encoded once
    fresh = ScreenClassifier(ClassSpec.from_dict(SPEC), encoder=clf.encoder, memory_cache=0)
    single = [fresh.classify(i) for i in imgs]  # each encoded again, alone
    assert fresh.image_encodes == 4
    for a, b in zip(batch, single):
        assert a.pred == b.pred and a.raw_scores == pytest.approx(b.raw_scores, abs=1e-5)


def test_min_score_gives_none_of_the_above(clf):
    res = clf.classify(_img((0, 0, 255)))
    if res.pred == "blue":
        assert res.state is None  # raw below 0.99
    strict = ScreenClassifier(ClassSpec.from_dict(SPEC), encoder=clf.encoder, min_score=1.0)
    assert strict.classify(_img((5, 5, 5))).state is None


def test_invalid_image_names_the_input(clf, tmp_path):
    (tmp_path / "bad.png").write_bytes(b"garbage")
    with pytest.raises(InvalidImageError, match="bad.png: not a recognised image format"):
        clf.classify(tmp_path / "bad.png")


def test_with_spec_reuses_models_and_cache(clf, tmp_path):
    from screenstate.embeddings.cache import FeatureCache

    cached = ScreenClassifier(ClassSpec.from_dict(SPEC), encoder=clf.encoder, cache=FeatureCache(tmp_path))
    cached.classify(_img((1, 2, 3)))
    edited = cached.with_spec({"classifier_configs": [{"name": "x", "examples_to_include": ["dark"]}]})
    n = edited.image_encodes
    edited.memory.clear()
    assert edited.classify(_img((1, 2, 3))).pred == "x"
    assert edited.image_encodes == n  # features came from the disk cache
    assert cached.cache.hits >= 1


def test_screen_seen_again_is_not_encoded_again_without_disk_cache(clf):
    mem = ScreenClassifier(ClassSpec.from_dict(SPEC), encoder=clf.encoder, memory_cache=2)
    first = mem.classify(_img((9, 9, 9)))
    assert mem.image_encodes == 1
    again = mem.classify(_img((9, 9, 9)))
    assert mem.image_encodes == 1 and mem.memory.hits >= 1
    assert again.raw_scores == first.raw_scores
    # bounded: two other screens push the first one out, so it is encoded anew
    mem.classify(_img((8, 8, 8)))
    mem.classify(_img((7, 7, 7)))
    assert len(mem.memory) == 2
    mem.classify(_img((9, 9, 9)))
    assert mem.image_encodes == 4
    off = ScreenClassifier(ClassSpec.from_dict(SPEC), encoder=clf.encoder, memory_cache=0)
    off.classify(_img((9, 9, 9)))
    off.classify(_img((9, 9, 9)))
    assert off.image_encodes == 2 and len(off.memory) == 0


def test_auto_falls_back_to_text_offline_without_network_wait(monkeypatch, caplog):
    import socket

    from screenstate.embeddings import factory

    monkeypatch.setattr(factory, "_NOTICE_SHOWN", False)
    for offline in ("1", None):
        if offline:
            monkeypatch.setenv("HF_HUB_OFFLINE", offline)
        else:
            monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)

            def no_network(*a, **k):
                raise AssertionError("auto must not touch the network")

            monkeypatch.setattr(socket, "create_connection", no_network)
        t = time.perf_counter()
        name = factory.resolve_encoder_name("auto", factory.EncoderOptions())
        assert name == "text" and time.perf_counter() - t < 2
    assert sum("using the text channel alone" in r.message for r in caplog.records) == 1


def test_auto_uses_clip_when_weights_are_local(tiny_options):
    from screenstate.embeddings.factory import resolve_encoder_name

    assert resolve_encoder_name("auto", tiny_options) == "clip+text"


def test_text_encoder_classifies_real_screens(text_encoder, small_spec, data_dir):
    clf = ScreenClassifier(small_spec, encoder=text_encoder)
    res = clf.classify_batch([data_dir / n for n in ("login_page.png", "error_dialog.png", "file_chooser.png")])
    assert [r.pred for r in res] == ["login_page", "error_dialog", "file_chooser"]


def test_unknown_encoder_lists_choices(small_spec):
    from screenstate.errors import UnknownNameError

    with pytest.raises(
        UnknownNameError, match="auto, clip\\+text, clip\\+visual\\+text, clip, text, visual\\+text, visual"
    ):
        ScreenClassifier(small_spec, encoder="vit")


def test_result_validation():
    from screenstate.results import ClassificationResult

    with pytest.raises(ValueError, match="not one of the classes"):
        ClassificationResult("z", {"a": 1.0}, {"a": 0.5})
    with pytest.raises(ValueError, match="must be in \\[0, 1\\]"):
        ClassificationResult("a", {"a": 1.0}, {"a": 1.5})


def test_public_api_names():
    import screenstate

    for name in ("ClassSpec", "ScreenClassifier", "ScreenDetector", "StateChecker", "ask", "EncoderOptions"):
        assert getattr(screenstate, name) is not None
    with pytest.raises(AttributeError):
        screenstate.Nope  # noqa: B018


def test_cached_file_is_not_decoded_again(clf, tmp_path, monkeypatch):
    import screenstate.classify as classify_mod

    path = tmp_path / "frame.png"
    _img((40, 50, 60)).save(path)
    first = clf.classify(path)
    decodes = []
    real = classify_mod.load_image
    monkeypatch.setattr(classify_mod, "load_image", lambda *a, **k: decodes.append(1) or real(*a, **k))
    assert clf.classify(path).raw_scores == first.raw_scores
    assert clf.classify(path.read_bytes()).raw_scores == first.raw_scores
    assert decodes == []  # same bytes: features from memory, pixels never decoded
    (tmp_path / "other.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    with pytest.raises(InvalidImageError, match="other.png"):
        clf.classify(tmp_path / "other.png")  # a new input is still decoded and checked
