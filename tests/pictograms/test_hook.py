"""Pictograms inside the text channel: off by default, on by an option, lines with boxes
weighted by the foreground window, and a cache key of their own."""

from __future__ import annotations

import pytest

from screenstate.embeddings.factory import EncoderOptions
from screenstate.embeddings.text import TextChannel, TextOptions
from screenstate.pictograms.hook import PREFIX


@pytest.fixture(scope="module")
def channels() -> tuple[TextChannel, TextChannel]:
    return TextChannel(), TextChannel(TextOptions(pictograms=True))


def test_off_by_default_and_keyed_apart(channels) -> None:
    plain, icons = channels
    assert plain.pictograms is None and icons.pictograms is not None
    assert EncoderOptions().text_options().pictograms is False
    assert EncoderOptions(pictograms=True).text_options().pictograms is True
    assert plain.model_id != icons.model_id and icons.model_id.startswith(plain.model_id)


def test_icon_lines_join_the_ocr_lines(channels, dialog_screen) -> None:
    plain, icons = channels
    a, b = plain.encode([dialog_screen])[0], icons.encode([dialog_screen])[0]
    extra = [ln for ln in b.lines if ln.text.startswith(PREFIX)]
    assert [ln.text for ln in b.lines if not ln.text.startswith(PREFIX)] == [ln.text for ln in a.lines]
    assert not any(ln.text.startswith(PREFIX) for ln in a.lines)
    assert len(b.lines) == len(a.lines) + len(extra)
    assert b.line_emb.shape[0] == len(b.lines)
    assert "icon" not in b.words or "icon" in a.words  # the prefix is not a screen word
    restored = icons.loads(icons.dumps(b))  # icon lines survive the disk cache
    assert [ln.text for ln in restored.lines] == [ln.text for ln in b.lines]
