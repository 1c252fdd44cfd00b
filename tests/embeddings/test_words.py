"""Word overlap with screenshot exemplars: buttons and labels shared by a state's screens."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from screenstate.embeddings.features import ScreenFeatures
from screenstate.embeddings.ocr import TextLine
from screenstate.embeddings.text import TextFeatures
from screenstate.embeddings.visual import VisualFeatures
from screenstate.embeddings.words import WordExemplars, word_sets
from screenstate.schema import Column


def _screen(*lines: tuple[str, tuple[float, float, float, float]], box=None, size=(800, 600)) -> ScreenFeatures:
    """Real (validated) channel features holding only what word overlap reads: the OCR
    lines, and the visual channel's foreground box; embeddings are empty."""
    rows = tuple(TextLine(b, t, 1.0) for t, b in lines)
    z = np.zeros
    text = TextFeatures(rows, z((len(rows), 1), np.float32), z(1, np.float32), (), z((0, 1), np.float32))
    visual = (
        VisualFeatures(np.zeros(4, np.float32), box, size, np.zeros((1, 1, 3), np.uint8)) if box is not None else None
    )
    return ScreenFeatures(text=text, visual=visual)


BG = ("File Edit View Terminal Help", (0, 0, 400, 20))  # a window behind every dialog


def _columns() -> list[Column]:
    return [
        Column(0, False, "a question dialog", None, "q.text"),
        Column(0, False, None, Path("q.png"), "q.image"),
        Column(1, False, None, Path("i.png"), "i.image"),
    ]


def test_foreground_words_leave_out_the_windows_behind():
    sw = word_sets(_screen(BG, ("Replace the file?", (300, 300, 500, 320)), box=(250, 250, 550, 400)), 2560)
    assert "terminal" in sw.whole and "terminal" not in sw.foreground
    assert sw.foreground == {"replace", "the", "file"}


@pytest.mark.parametrize(
    "buttons, expected",
    [(("Yes", "No"), 0), (("OK",), 1)],
)
def test_the_exemplar_sharing_the_buttons_wins(buttons, expected):
    question = _screen(
        BG, ("Delete the backup?", (300, 300, 500, 320)), ("Yes", (300, 350, 340, 370)), ("No", (360, 350, 400, 370))
    )
    info = _screen(BG, ("The backup is done.", (300, 300, 500, 320)), ("OK", (300, 350, 340, 370)))
    words = WordExemplars.build(_columns(), [question, info], 2560)
    screen = _screen(
        BG,
        ("Another message entirely", (300, 300, 500, 320)),
        *((b, (300 + 40 * i, 350, 330 + 40 * i, 370)) for i, b in enumerate(buttons)),
    )
    rel = words.relevance([screen])
    assert rel.dtype == np.float32 and np.isnan(rel[0, 0])  # no opinion on the text example
    assert int(rel[0, 1:].argmax()) == expected
    assert float(rel[0, 1:].min()) >= 0.5 and float(rel[0, 1:].max()) <= 1.0


def test_exemplar_count_mismatch_is_refused():
    with pytest.raises(ValueError, match="expected 2 exemplar features, got 1"):
        WordExemplars.build(_columns(), [_screen(BG)], 2560)
