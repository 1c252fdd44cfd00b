"""The real offline text channel (rapidocr + MiniLM from their wheels) on real screenshots."""

from __future__ import annotations

import numpy as np
import pytest

from screenstate.classifier.fusion import fuse
from screenstate.embeddings.images import load_image
from screenstate.schema import Column


@pytest.fixture(scope="session")
def login_features(text_encoder, data_dir):
    ch = text_encoder.channels[0]
    return ch, ch.encode_images([load_image(data_dir / "login_page.png")])[0]


def test_ocr_reads_the_login_form(login_features):
    _, f = login_features
    text = f.text.lower()
    assert "password" in text and ("sign in" in text or "sign in" in text.replace("\n", " "))
    for line in f.lines:
        x0, y0, x1, y1 = line.box
        assert 0 <= x0 < x1 <= 1366 and 0 <= y0 < y1 <= 768


@pytest.mark.parametrize(
    "match, unrelated",
    [
        ("a login form with email and password", "a spreadsheet with quarterly sales figures"),
        ("sign in to your account", "a music player showing the current song"),
    ],
)
def test_matching_prompt_beats_unrelated(login_features, match, unrelated):
    ch, f = login_features
    cols = [Column(0, False, match, None, "a"), Column(1, False, unrelated, None, "b")]
    rel = ch.relevance([f], ch.encode_examples(cols))
    assert 0.0 <= float(rel.min()) and float(rel.max()) <= 1.0
    assert rel[0, 0] > rel[0, 1] + 0.05


def test_image_exemplar_identical_screen_is_most_relevant(login_features, data_dir):
    ch, f = login_features
    cols = [
        Column(0, False, None, data_dir / "login_page.png", "a"),
        Column(1, False, None, data_dir / "error_dialog.png", "b"),
    ]
    rel = ch.relevance([f], ch.encode_examples(cols))
    assert rel[0, 0] == pytest.approx(1.0, abs=1e-3) and rel[0, 1] < rel[0, 0]


def test_features_round_trip_through_cache_bytes(login_features):
    ch, f = login_features
    g = ch.loads(ch.dumps(f))
    assert g.lines == f.lines and g.words == f.words
    np.testing.assert_allclose(g.page_emb, f.page_emb, atol=1e-3, rtol=1e-3)


def test_blank_screen_has_no_lines_and_neutral_relevance(text_encoder):
    from PIL import Image

    ch = text_encoder.channels[0]
    f = ch.encode_images([Image.new("RGB", (300, 200), (255, 255, 255))])[0]
    assert f.lines == ()
    rel = ch.relevance([f], ch.encode_examples([Column(0, False, "a login page", None, "a")]))
    assert rel[0, 0] == pytest.approx(0.5)


@pytest.mark.parametrize(
    "weights, expected",
    [(None, 0.75), ({"clip": 3.0, "text": 1.0}, 0.675), ({"text": 0.0}, 0.6)],
)
def test_fusion_is_weighted_mean(weights, expected):
    got = fuse({"clip": np.array([[0.6]], np.float32), "text": np.array([[0.9]], np.float32)}, weights)
    assert got.item() == pytest.approx(expected)


def test_fusion_errors():
    with pytest.raises(ValueError, match="shapes differ"):
        fuse({"clip": np.zeros((1, 2), np.float32), "text": np.zeros((1, 3), np.float32)})
    with pytest.raises(ValueError, match="at least one"):
        fuse({})


@pytest.mark.parametrize(
    "ocr, expected",
    [
        ("Updatecomplete", "Update complete"),
        ("RememberMe", "Remember Me"),
        ("Selectaphoto", "Select a photo"),
        ("willbe kept back", "will be kept back"),
        ("Password", "Password"),  # known words stay
        ("Downloading", "Downloading"),  # known words with an ending stay
        ("Notifications", "Notifications"),
        ("Scanning", "Scanning"),
        ("devtmpfs drwxr-xr-x", "devtmpfs drwxr-xr-x"),  # no dictionary split: unchanged
        ("Sign in using Google+", "Sign in using Google+"),
    ],
)
def test_respace_restores_words_ocr_merged(text_encoder, ocr, expected):
    from screenstate.embeddings.textnorm import respace

    assert respace(ocr, text_encoder.channels[0].sentences.words) == expected


def test_screen_words_are_only_what_the_screen_shows(text_encoder):
    """No word is added for punctuation ("?" -> "question", "Copying..." -> "progress"):
    such class-naming rules helped the dev set only (benchmarks: text_ablation)."""
    from screenstate.embeddings.ocr import TextLine

    ch = text_encoder.channels[0]
    box = (0.0, 0.0, 100.0, 20.0)
    f = ch.features_from_lines([TextLine(box, t, 0.99) for t in ("Delete 3 files?", "Copying photos...", "x", " ")])
    assert set(f.words) == {"delete", "files", "copying", "photos"}
    assert [ln.text for ln in f.lines] == ["Delete 3 files?", "Copying photos..."]  # lone glyphs and blanks go


def _desktop_lines():
    """A password dialog (front) over a mail client's inbox (behind): OCR lines in pixels."""
    from screenstate.embeddings.ocr import TextLine

    behind = ["Inbox (12)", "Compose", "Sent", "Drafts", "From: Anna Weekly report", "From: Bob Lunch on Friday?"]
    lines = [TextLine((20.0, 40.0 + 30 * i, 300.0, 60.0 + 30 * i), t, 0.99) for i, t in enumerate(behind)]
    front = ["Authentication required", "Password:", "Cancel OK"]
    lines += [TextLine((420.0, 300.0 + 30 * i, 640.0, 320.0 + 30 * i), t, 0.99) for i, t in enumerate(front)]
    return lines


def test_text_inside_the_foreground_window_weighs_more_than_text_behind_it(text_encoder):
    from screenstate.screen.windows import Box

    ch = text_encoder.channels[0]
    cols = [
        Column(0, False, "a dialog asking for a password", None, "password"),
        Column(1, False, "an email inbox listing messages", None, "inbox"),
    ]
    ex = ch.encode_examples(cols)
    lines = _desktop_lines()
    flat = ch.relevance([ch.features_from_lines(lines)], ex)[0]
    window = Box(400, 280, 660, 400)
    front = ch.features_from_lines(lines, window)
    assert front.front == (False,) * 6 + (True,) * 3
    rel = ch.relevance([front], ex)[0]
    # the dialog in front gains on the inbox behind it
    assert float(rel[0] - rel[1]) > float(flat[0] - flat[1]) + 0.01
    g = ch.loads(ch.dumps(front))
    assert g.front == front.front and g.word_front == front.word_front and g.front_page_emb is not None
    np.testing.assert_allclose(ch.relevance([g], ex), ch.relevance([front], ex), atol=2e-3, rtol=1e-3)


def test_no_foreground_preference_when_the_window_holds_every_line_or_none(text_encoder):
    from screenstate.screen.windows import Box

    ch = text_encoder.channels[0]
    lines = _desktop_lines()
    for window in (None, Box(0, 0, 700, 500), Box(650, 0, 700, 20)):
        f = ch.features_from_lines(lines, window)
        assert f.front == () and f.front_page_emb is None
