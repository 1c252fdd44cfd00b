"""Heading and title questions on the OCR path are answered by layout (the largest text,
topmost among equals), not by which line's words resemble "heading"."""

from __future__ import annotations

import pytest
from devset import MISSING  # tests/devset.py: the one place
from devset import SCREENS_DEV as DEV

from screenstate.asking import Asker, heading_line
from screenstate.embeddings.ocr import TextLine


class _NoVLM:
    def answer(self, img, question):
        raise AssertionError(f"the OCR path should answer {question!r}")


@pytest.fixture(scope="module")
def asker(text_encoder):
    return Asker(text_channel=text_encoder.channels[0], vlm=_NoVLM())


@pytest.mark.parametrize(
    "question", ["what is the heading of this page?", "what is the title?", "what's the page title?"]
)
def test_login_page_heading_is_its_largest_text(asker, data_dir, question):
    ans = asker.ask(data_dir / "login_page.png", question)
    assert (ans.path, ans.text) == ("ocr", "AdminLTE")  # not "Sign In", not the logo glyph read as "f"


@pytest.mark.skipif(not DEV.is_dir(), reason=MISSING)
@pytest.mark.parametrize(
    "image, heading",
    [
        ("login_page/dev_login_page_web_03.png", "AdminLTE"),  # another layout: heading above a card
        ("register_page/dev_register_page_web_02.png", "AdminLTE"),
        ("error_dialog/dev_error_dialog_01.png", "Error"),  # GTK dialog: title over a same-size message
    ],
)
def test_headings_of_other_layouts(asker, image, heading):
    assert asker.ask(DEV / image, "what is the heading?").text == heading


@pytest.mark.parametrize(
    "lines, expected",
    [
        ([("Sign In", 10, 22), ("AdminLTE", 40, 80)], "AdminLTE"),  # larger wins, even lower down
        ([("Welcome", 50, 80), ("Dashboard", 10, 39)], "Dashboard"),  # same size (within 10%): topmost
        ([("f", 0, 90), ("G.", 0, 70), ("Settings", 100, 120)], "Settings"),  # glyphs are not headings
        ([("1", 0, 50)], None),
    ],
)
def test_heading_rule(lines, expected):
    rows = [TextLine((0, y0, 100, y1), text, 1.0) for text, y0, y1 in lines]
    got = heading_line(rows)
    assert (got.text if got else None) == expected
