"""Pictogram candidates on small synthetic screens: the icon is found, text and what lies
outside the foreground window are not, and crops come out as one 32x32 RGB batch."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from screenstate.pictograms.candidates import MAX_CANDIDATES, find_candidates
from screenstate.screen.windows import Box


def dialog(icon: bool = True) -> tuple[Image.Image, list[tuple[float, float, float, float]]]:
    """An 800x600 screen: a window with a text line, a dialog over it with an icon and a message."""
    img = Image.new("RGB", (800, 600), "#3b5b7b")
    d = ImageDraw.Draw(img)
    font = ImageFont.truetype("DejaVuSans.ttf", 14)
    d.rectangle((20, 20, 520, 400), fill="white", outline="black")
    d.text((40, 40), "Meeting minutes, second draft", fill="black", font=font)
    d.rectangle((250, 200, 650, 340), fill="#ececec", outline="black")
    if icon:
        d.polygon([(290, 230), (320, 282), (260, 282)], fill="#f5c211", outline="#8a6a00")
        d.rectangle((288, 245, 292, 268), fill="black")
    d.text((340, 250), "Disk almost full", fill="black", font=font)
    text_boxes = [(38.0, 38.0, 260.0, 58.0), (338.0, 248.0, 470.0, 268.0)]
    return img, text_boxes


def test_finds_the_icon_not_the_text() -> None:
    img, text = dialog()
    cands = find_candidates(img, text)
    boxes = [c.box for c in cands]
    assert any(b[0] <= 262 and b[2] >= 318 and b[1] <= 232 and b[3] >= 280 for b in boxes), boxes
    for x0, y0, x1, y1 in text:  # no candidate centred on a text line
        assert not any(x0 <= (b[0] + b[2]) / 2 <= x1 and y0 <= (b[1] + b[3]) / 2 <= y1 for b in boxes)
    assert all(c.crop.shape == (32, 32, 3) and c.crop.dtype == np.uint8 for c in cands)


@pytest.mark.parametrize(
    ("window", "inside"),
    [(Box(251, 201, 650, 340), True), (Box(20, 360, 240, 400), False)],
)
def test_searches_only_the_foreground_window(window: Box, inside: bool) -> None:
    img, text = dialog()
    boxes = [c.box for c in find_candidates(img, text, window)]
    assert all(window.x0 - 3 <= b[0] and b[2] <= window.x1 + 3 for b in boxes)
    assert any(abs((b[0] + b[2]) / 2 - 290) < 8 for b in boxes) == inside


def test_no_icon_no_candidate_in_the_dialog() -> None:
    img, text = dialog(icon=False)
    assert find_candidates(img, text, Box(251, 201, 650, 340)) == []


def test_many_blobs_are_capped_largest_first() -> None:
    img = Image.new("RGB", (1920, 1080), "white")
    d = ImageDraw.Draw(img)
    for i in range(120):
        x, y, s = 40 + (i % 20) * 90, 40 + (i // 20) * 150, 14 + i % 40
        d.ellipse((x, y, x + s, y + s), fill="navy")
    cands = find_candidates(img, [])
    assert len(cands) == MAX_CANDIDATES
    areas = [(b[2] - b[0]) * (b[3] - b[1]) for b in (c.box for c in cands)]
    assert areas == sorted(areas, reverse=True)
