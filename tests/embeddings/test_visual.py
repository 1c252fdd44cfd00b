"""The weight-free visual channel and the foreground finder, on drawn screens whose
differences are known: the same dialog moved, resized, re-themed and put on other
wallpapers with other windows behind must match itself better than a dialog that differs
only by its icon."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from drawn import dialog_screen  # tests/drawn.py

from screenstate.classifier.fusion import fuse
from screenstate.classifier.two_stage import two_stage_scores
from screenstate.embeddings.visual import INDEX_TOP, VisualChannel, VisualFeatures
from screenstate.schema import Column
from screenstate.screen.windows import Box, find_foreground

ICONS = ("error", "warning", "question")
IMG = Path("exemplar.png")  # image columns need a path; features are passed in


@pytest.fixture(scope="module")
def channel() -> VisualChannel:
    return VisualChannel()


def test_foreground_is_the_dialog_on_top_not_the_window_behind():
    img = dialog_screen("error", at=(500, 350), seed=3)
    box = find_foreground(np.asarray(img))
    assert not box.whole
    dialog = Box(500, 350, 940, 500)  # the window behind starts up and left of it
    assert box.x0 >= dialog.x0 - 6 and box.y0 >= dialog.y0 - 6 and box.x1 <= dialog.x1 + 6 and box.y1 <= dialog.y1 + 6
    assert box.area >= 0.8 * dialog.area  # the dialog, perhaps without its title bar


@pytest.mark.parametrize(
    "image, expected",
    [
        (np.zeros((600, 800, 3), np.uint8), Box(0, 0, 800, 600, whole=True)),  # nothing drawn: the whole screen
        (np.full((90, 120), 200, np.uint8), Box(0, 0, 120, 90, whole=True)),  # grey input accepted
    ],
)
def test_foreground_defaults_to_the_whole_screen(image, expected):
    assert find_foreground(image) == expected


@pytest.mark.parametrize("shape", [(0, 10, 3), (10, 10, 3, 1)])
def test_foreground_rejects_non_images(shape):
    with pytest.raises(ValueError, match="expected an image"):
        find_foreground(np.zeros(shape, np.uint8))


# the query screens vary everything that does not define the state
VARIANTS = [
    dict(size=(1920, 1080), at=(900, 500), scale=1.0, dark=False, seed=11),
    dict(size=(1024, 768), at=(250, 300), scale=1.0, dark=True, seed=12),
    dict(size=(1920, 1080), at=(600, 400), scale=2.0, dark=False, seed=13),
    dict(size=(1280, 800), at=(700, 200), scale=1.3, dark=True, seed=14, behind=False),
]


@pytest.mark.parametrize("variant", VARIANTS)
def test_same_icon_beats_other_icons_across_position_size_theme_and_wallpaper(channel, variant):
    exemplars = [dialog_screen(icon) for icon in ICONS]  # one light, 1280x800 exemplar each
    cols = [Column(i, False, None, IMG, f"c{i}") for i in range(3)]
    ex = channel.encode_examples(cols, image_features=channel.encode_images(exemplars))
    for k, icon in enumerate(ICONS):
        rel = channel.relevance(channel.encode_images([dialog_screen(icon, **variant)]), ex)[0]
        assert int(rel.argmax()) == k, (icon, rel.tolist())
        assert 0.0 <= float(rel.min()) and float(rel.max()) <= 1.0


def test_a_screen_matches_its_own_exemplar_with_relevance_one(channel):
    img = dialog_screen("warning", seed=5)
    f = channel.encode_images([img])
    ex = channel.encode_examples([Column(0, False, None, IMG, "a")], image_features=f)
    assert float(channel.relevance(f, ex)[0, 0]) == pytest.approx(1.0, abs=1e-5)


def test_text_examples_get_no_opinion_and_fusion_skips_them(channel):
    img = dialog_screen("error")
    cols = [Column(0, False, "an error dialog", None, "t"), Column(0, False, None, IMG, "i")]
    f = channel.encode_images([img])
    rel = channel.relevance(f, channel.encode_examples(cols, image_features=f))
    assert np.isnan(rel[0, 0]) and float(rel[0, 1]) == pytest.approx(1.0, abs=1e-5)
    fused = fuse({"visual": rel, "text": np.array([[0.7, 0.6]], np.float32)})
    assert fused.tolist()[0] == pytest.approx([0.7, 0.8], abs=1e-5)
    assert fuse({"visual": rel}).tolist()[0][0] == 0.0  # nobody scored the text example


def test_negative_exemplar_lowers_its_class_by_the_two_stage_rule(channel):
    """Class 0 = error dialogs, class 1 = warning dialogs but *not* the question dialog it
    resembles; a question dialog screen goes to class 1 without the negative and away from
    it with it."""
    shots = {icon: dialog_screen(icon, seed=21) for icon in ICONS}
    feats = {k: channel.encode_images([v])[0] for k, v in shots.items()}
    screen = channel.encode_images([dialog_screen("question", size=(1920, 1080), at=(800, 450), seed=22)])
    pos_only = [Column(0, False, None, IMG, "e"), Column(1, False, None, IMG, "w"), Column(1, False, None, IMG, "q")]
    with_neg = [Column(0, False, None, IMG, "e"), Column(1, False, None, IMG, "w"), Column(1, True, None, IMG, "q")]
    rows = []
    for cols in (pos_only, with_neg):
        ex = channel.encode_examples(cols, image_features=[feats["error"], feats["warning"], feats["question"]])
        rel = channel.relevance(screen, ex)
        cls = np.array([c.class_index for c in cols])
        neg = np.array([c.is_negative for c in cols])
        rows.append(two_stage_scores(rel, cls, neg, 2)[0])
    assert int(rows[0].argmax()) == 1  # the look-alike positive wins without the negative
    assert int(rows[1].argmax()) == 0  # the negative takes class 1 down: raw = 1 - d(negative)
    assert float(rows[1][1]) < 0.2


def test_faiss_index_gives_the_full_products_top_scores(channel, monkeypatch):
    import screenstate.embeddings.visual as visual

    imgs = [dialog_screen(ICONS[i % 3], seed=40 + i, at=(200 + 20 * i, 200)) for i in range(9)]
    feats = channel.encode_images(imgs)
    cols = [Column(i % 3, False, None, IMG, str(i)) for i in range(9)]
    full = channel.relevance(feats[:2], channel.encode_examples(cols, image_features=feats))
    monkeypatch.setattr(visual, "INDEX_ABOVE", 4)
    monkeypatch.setattr(visual, "INDEX_TOP", 3)
    ex = channel.encode_examples(cols, image_features=feats)
    assert ex.index is not None
    indexed = channel.relevance(feats[:2], ex)
    for i in range(2):
        top = np.argsort(-full[i], kind="stable")[:3]
        assert np.allclose(indexed[i, top], full[i, top], atol=1e-5)
        assert float(indexed[i].max()) == pytest.approx(float(full[i].max()), abs=1e-5)
    assert INDEX_TOP > 3  # the default compares many more


def test_features_survive_the_disk_cache_format(channel):
    f = channel.encode_images([dialog_screen("question")])[0]
    back = channel.loads(channel.dumps(f))
    assert isinstance(back, VisualFeatures)
    assert np.array_equal(back.vector, f.vector) and back.box == f.box and back.size == f.size


def test_model_id_names_the_descriptor(channel):
    assert channel.model_id.startswith("visual:v")
