from __future__ import annotations

import io
import time

import numpy as np
import pytest
import torch
from PIL import Image

from screenstate import ClassSpec, ScreenClassifier
from screenstate.embeddings.base import Channel
from screenstate.embeddings.registry import ChannelKind, register_channel
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


def _expected_raw_by_hand(encoder, color) -> dict[str, float]:
    """Raw scores of SPEC for a solid 160x100 screen, computed without the channel's
    relevance or the two-stage code: letterbox by hand, open_clip's own encode_image /
    encode_text, d = (1 + cos) / 2, prompt ensembling by averaging, and the rule in loops."""
    from screenstate.embeddings.templates import get_templates

    ch = encoder.channels[0]
    model, tok = ch._model, ch._tokenizer
    s = ch.image_size
    h = round(100 * s / 160)
    canvas = np.zeros((s, s, 3), dtype=np.float32)
    canvas[(s - h) // 2 : (s - h) // 2 + h, :, :] = np.asarray(color, dtype=np.float32) / 255.0
    x = torch.from_numpy(canvas).permute(2, 0, 1)[None]
    x = (x - ch.mean.view(1, 3, 1, 1)) / ch.std.view(1, 3, 1, 1)
    with torch.no_grad():
        img = torch.nn.functional.normalize(model.encode_image(x).float(), dim=-1)[0]

        def text(t: str) -> torch.Tensor:
            f = model.encode_text(tok([tpl.format(t) for tpl in get_templates("screen")])).float()
            return torch.nn.functional.normalize(torch.nn.functional.normalize(f, dim=-1).mean(0), dim=0)

        def d(t: str) -> float:
            return (1.0 + float(img @ text(t))) / 2.0

        out = {}
        for c in SPEC["classifier_configs"]:
            pos = max(d(t) for t in c["examples_to_include"])
            neg = max((d(t) for t in c.get("examples_to_exclude", [])), default=-1.0)
            out[c["name"]] = pos if pos > neg else 1.0 - neg
    return out


def test_full_path_json_to_prediction(clf):
    res = clf.classify(_img((255, 0, 0)))
    assert set(res.scores) == {"red", "green", "blue"}
    assert sum(res.scores.values()) == pytest.approx(1.0, abs=1e-5)
    assert res.channels == ("clip",)
    # raw scores equal numbers computed independently of the channel and decision code
    expected = _expected_raw_by_hand(clf.encoder, (255, 0, 0))
    assert res.raw_scores == pytest.approx(expected, abs=2e-5)
    assert res.pred == max(expected, key=expected.__getitem__)
    soft = np.exp(np.array([expected[n] for n in clf.names]) / 0.07)
    assert [res.scores[n] for n in clf.names] == pytest.approx((soft / soft.sum()).tolist(), abs=1e-5)


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


class FixedRelevance(Channel):
    """A channel whose relevances the test sets: the screen's top-left red value picks a
    row of ``table`` (one relevance per example column, in column order). Registered below
    as the ``fixed`` channel: its features and examples are plain ints."""

    name = "fixed"

    def __init__(self, table: dict[int, list[float]]) -> None:
        self.table = table

    @property
    def model_id(self) -> str:
        return "fixed"

    def preparer(self):
        return lambda img: int(img.getpixel((0, 0))[0])

    def encode(self, prepared):
        return list(prepared)

    def encode_examples(self, columns, augment=True, image_features=None):
        return len(columns)

    def relevance(self, features, examples):
        rows = [self.table[f] for f in features]
        assert all(len(r) == examples for r in rows)
        return np.array(rows, dtype=np.float32)

    def dumps(self, feature):
        return bytes([feature])

    def loads(self, data):
        return data[0]

    def exemplar_vectors(self, examples):
        return np.zeros((0, 1), np.float32)


register_channel(ChannelKind("fixed", FixedRelevance, int, int, (int,), dict, lambda o, rt: FixedRelevance(ROWS)))


def _below(x: float) -> float:
    """The largest float32 below x (relevances and thresholds are float32)."""
    return float(np.nextafter(np.float32(x), np.float32(0)))


# columns: a+, a-, b+, c+ ; a's own min 0.7, b's own min 0.5, c has none.
# A tie between a positive and a negative goes to the negative, so a- is 0 where unused.
THRESHOLDS = {
    "classifier_configs": [
        {"name": "a", "examples_to_include": ["a"], "examples_to_exclude": ["not a"], "min_score": 0.7},
        {"name": "b", "examples_to_include": ["b"], "min_score": 0.5},
        {"name": "c", "examples_to_include": ["c"]},
    ]
}
ROWS = {
    1: [0.7, 0.0, 0.1, 0.1],  # a exactly at its own threshold
    2: [_below(0.7), 0.0, 0.1, 0.1],  # a just below its own (above b's 0.5)
    3: [0.1, 0.0, 0.5, 0.1],  # b exactly at its own threshold
    4: [0.1, 0.0, _below(0.5), 0.1],  # b just below its own
    5: [0.2, 0.0, 0.1, 0.6],  # c at 0.6, no threshold of its own
    6: [0.2, 0.0, 0.1, _below(0.6)],  # c just below 0.6
    7: [0.9, 0.3, 0.1, 0.1],  # the negative (0.3) loses: raw a = 0.9
    8: [0.6, 0.75, 0.1, 0.1],  # the negative wins: raw a = 1 - 0.75 = 0.25, c (0.1) and b (0.1) lower
    9: [0.1, 0.8, 0.1, 0.15],  # the negative wins: raw a = 0.2, which beats c's 0.15
    10: [0.625, 0.625, 0.1, 0.1],  # a tie goes to the negative: raw a = 0.375
}


@pytest.fixture(scope="module")
def fixed():
    from screenstate.embeddings.encoder import Encoder

    return Encoder("fixed", [FixedRelevance(ROWS)])


@pytest.mark.parametrize(
    "row, pred, state, state_with_default_06",
    [
        (1, "a", "a", "a"),  # a's own 0.7 applies, not the default
        (2, "a", None, None),
        (3, "b", "b", "b"),  # b's own 0.5 wins over the stricter default
        (4, "b", None, None),
        (5, "c", "c", "c"),  # no threshold of its own: accepted, and exactly at the default
        (6, "c", "c", None),  # below the default only matters when there is one
        (7, "a", "a", "a"),
        (8, "a", None, None),
        (9, "a", None, None),
    ],
)
def test_min_score_per_class_at_and_below_threshold(fixed, row, pred, state, state_with_default_06):
    img = Image.new("RGB", (8, 8), (row, 0, 0))
    plain = ScreenClassifier(THRESHOLDS, encoder=fixed).classify(img)
    assert (plain.pred, plain.state) == (pred, state)
    strict = ScreenClassifier(THRESHOLDS, encoder=fixed, min_score=0.6).classify(img)
    assert (strict.pred, strict.state) == (pred, state_with_default_06)


@pytest.mark.parametrize(
    "row, raw",
    [
        (7, {"a": 0.9, "b": 0.1, "c": 0.1}),
        (8, {"a": 0.25, "b": 0.1, "c": 0.1}),
        (9, {"a": 0.2, "b": 0.1, "c": 0.15}),
        (10, {"a": 0.375, "b": 0.1, "c": 0.1}),
    ],
)
def test_raw_scores_follow_the_two_stage_rule(fixed, row, raw):
    res = ScreenClassifier(THRESHOLDS, encoder=fixed).classify(Image.new("RGB", (8, 8), (row, 0, 0)))
    assert res.raw_scores == pytest.approx(raw, abs=1e-6)


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


def test_auto_falls_back_to_text_offline_without_network_wait(monkeypatch, caplog, tmp_path):
    import socket

    from screenstate import notices
    from screenstate.embeddings import factory
    from screenstate.embeddings.cache import set_cache_root

    set_cache_root(tmp_path)  # a machine that has not shown the notice yet
    monkeypatch.setattr(factory, "_NOTICE_SHOWN", False)
    monkeypatch.setattr(notices, "_shown", set())  # nor has this process (earlier tests may have)
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
