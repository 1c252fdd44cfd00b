"""Pictogram candidates on small synthetic screens: the icon is found, text and what lies
outside the foreground window are not, and crops come out as one 32x32 RGB batch."""

from __future__ import annotations

import numpy as np
import pytest
from icon_screens import dialog  # tests/pictograms/icon_screens.py
from PIL import Image, ImageDraw

from screenstate.pictograms.candidates import MAX_CANDIDATES, find_candidates
from screenstate.screen.windows import Box


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
