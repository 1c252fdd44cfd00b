"""The visual finder's foreground window (``screen/windows.py``) on drawn editors: a dialog
that a window manager put flush with the editor's edges is the foreground, the editor's own
panels (toolbar, status bar, text area) are not."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw

from screenstate.screen.windows import find_foreground

EDITOR = (100, 80, 1000, 680)


def _editor(dialog: tuple[int, int, int, int] | None) -> np.ndarray:
    img = Image.new("RGB", (1280, 800), (58, 70, 90))
    d = ImageDraw.Draw(img)
    x0, y0, x1, y1 = EDITOR
    d.rectangle(EDITOR, fill=(242, 241, 240), outline=(20, 20, 20), width=2)
    d.rectangle((x0, y0, x1, y0 + 30), fill=(70, 110, 170), outline=(20, 20, 20), width=2)  # title bar
    d.rectangle((x0, y0 + 30, x1, y0 + 70), outline=(120, 120, 120), width=2)  # toolbar, spans the width
    d.rectangle((x0, y1 - 30, x1, y1), outline=(120, 120, 120), width=2)  # status bar, spans the width
    for i in range(12):  # lines of text in the text area
        d.rectangle((x0 + 20, y0 + 90 + 28 * i, x0 + 200 + 37 * (i % 7) * 9 // 4, y0 + 98 + 28 * i), fill=(40, 40, 40))
    if dialog is not None:
        d.rectangle(dialog, fill=(232, 232, 232), outline=(20, 20, 20), width=2)
        d.rectangle(
            (dialog[0], dialog[1], dialog[2], dialog[1] + 26), fill=(50, 90, 160), outline=(20, 20, 20), width=2
        )
        d.ellipse((dialog[0] + 25, dialog[1] + 50, dialog[0] + 65, dialog[1] + 90), fill=(40, 100, 215))
        d.rectangle((dialog[2] - 90, dialog[3] - 40, dialog[2] - 15, dialog[3] - 12), outline=(40, 40, 40), width=2)
    return np.asarray(img)


@pytest.mark.parametrize(
    "dialog",
    [
        (600, 520, 1000, 680),  # flush with the editor's right and bottom edges (jwm, gtk-mousepad B)
        (560, 300, 985, 440),  # 15 px from its right edge (jwm, qt-featherpad D)
        (350, 300, 750, 460),  # floating in the middle
    ],
)
def test_a_dialog_against_the_editors_edges_is_the_foreground(dialog):
    box = find_foreground(_editor(dialog))
    client = (dialog[0], dialog[1] + 26, dialog[2], dialog[3])  # the finder's box: below the title bar
    assert max(abs(a - b) for a, b in zip((box.x0, box.y0, box.x1, box.y1), client)) <= 6, box


def test_the_editors_panels_are_not_windows():
    box = find_foreground(_editor(None))
    assert max(abs(a - b) for a, b in zip((box.x0, box.y0, box.x1, box.y1), EDITOR)) <= 6, box
