"""find_foreground: the topmost window of a synthetic desktop, or None when there is none."""

from __future__ import annotations

import pytest
from devset import MISSING  # tests/devset.py: the one place tests find screens-dev
from devset import SCREENS_DEV as DEV
from PIL import Image, ImageDraw

from screenstate.screen.foreground import Box, find_foreground


def _window(draw: ImageDraw.ImageDraw, box: tuple[int, int, int, int], body: str, title: str) -> None:
    x0, y0, x1, y1 = box
    draw.rectangle(box, fill=body, outline="#202020")
    draw.rectangle((x0, y0, x1, y0 + 22), fill=title, outline="#202020")
    for i in range(3):  # a few text-like strokes inside, which are not windows
        draw.rectangle((x0 + 12, y0 + 40 + 18 * i, x0 + 12 + (x1 - x0) // 3, y0 + 46 + 18 * i), fill="#333333")


def _desktop(windows: list[tuple[tuple[int, int, int, int], str, str]], size=(1024, 768)) -> Image.Image:
    img = Image.new("RGB", size, "#3b5b7b")
    draw = ImageDraw.Draw(img)
    for box, body, title in windows:  # back to front
        _window(draw, box, body, title)
    return img


def _close(found: Box | None, box: tuple[int, int, int, int], tol: int = 4) -> bool:
    return found is not None and all(abs(a - b) <= tol for a, b in zip((found.x0, found.y0, found.x1, found.y1), box))


@pytest.mark.parametrize(
    "windows, front",
    [
        # a dialog covering part of an editor: the dialog is in front
        (
            [((60, 60, 700, 560), "#ffffff", "#8899aa"), ((400, 300, 820, 460), "#e8e8e8", "#4466aa")],
            (400, 300, 820, 460),
        ),
        # the same with a terminal behind on the other side
        (
            [((500, 40, 1000, 420), "#101010", "#777777"), ((300, 250, 640, 420), "#f0f0f0", "#aa4444")],
            (300, 250, 640, 420),
        ),
        # a clock off to the side and a dialog covering an editor: the outlines the dialog cuts say it is in front
        (
            [
                ((40, 40, 200, 200), "#ffffff", "#777777"),
                ((300, 60, 900, 600), "#ffffff", "#8899aa"),
                ((600, 350, 1000, 520), "#e8e8e8", "#4466aa"),
            ],
            (600, 350, 1000, 520),
        ),
        # a dialog wholly inside a large editor: it floats in it, so it is a window on top, not a panel
        (
            [((60, 40, 960, 720), "#ffffff", "#8899aa"), ((380, 300, 700, 450), "#e8e8e8", "#4466aa")],
            (380, 300, 700, 450),
        ),
    ],
)
def test_the_window_in_front_is_found(windows, front):
    assert _close(find_foreground(_desktop(windows)), front)


def test_a_panel_reaching_a_side_of_its_window_is_not_a_window_in_front():
    """The visual finder and the text finder agree: a box inside a window that reaches one of
    its sides (a sidebar, a toolbar) is part of it; one floating in it is a dialog on it."""
    import numpy as np

    from screenstate.screen.windows import find_foreground as visual_foreground

    panel = _desktop([((60, 40, 960, 720), "#ffffff", "#8899aa"), ((60, 62, 300, 720), "#dddddd", "#dddddd")])
    assert find_foreground(panel) is None  # one window, nothing covered
    box = visual_foreground(np.asarray(panel))
    assert abs(box.x0 - 60) <= 6 and abs(box.x1 - 960) <= 6  # the window, not its sidebar
    dialog = _desktop([((60, 40, 960, 720), "#ffffff", "#8899aa"), ((380, 300, 700, 450), "#e8e8e8", "#4466aa")])
    box = visual_foreground(np.asarray(dialog))
    assert 370 <= box.x0 <= 390 and 690 <= box.x1 <= 710 and 290 <= box.y0 and box.y1 <= 460


def test_a_large_screen_is_searched_downscaled_and_boxes_come_back_in_its_pixels():
    img = _desktop(
        [((100, 100, 1300, 900), "#ffffff", "#8899aa"), ((800, 500, 1600, 800), "#e8e8e8", "#4466aa")], (1920, 1080)
    )
    assert _close(find_foreground(img), (800, 500, 1600, 800), tol=6)


@pytest.mark.parametrize(
    "img",
    [
        Image.new("RGB", (1024, 768), "#ffffff"),  # a blank page
        # a lone dialog covers nothing: like a card on a web page, it is not told apart
        _desktop([((300, 250, 700, 420), "#eeeeee", "#336699")]),
        # two windows side by side, neither covering the other: no evidence which is in front
        _desktop([((40, 40, 400, 400), "#ffffff", "#8899aa"), ((600, 300, 980, 700), "#eeeeee", "#4466aa")]),
    ],
)
def test_no_window_or_no_evidence_gives_none(img):
    assert find_foreground(img) is None


def test_front_mask_marks_lines_whose_centre_is_inside_the_window():
    from screenstate.screen.foreground import front_mask

    boxes = [(10.0, 10.0, 50.0, 20.0), (110.0, 110.0, 190.0, 130.0), (90.0, 95.0, 130.0, 105.0)]
    assert front_mask(boxes, Box(100, 100, 200, 200)) == (False, True, True)
    assert front_mask(boxes, None) == ()
    assert front_mask(boxes, Box(0, 0, 300, 300)) == ()  # nothing behind it
    assert front_mask(boxes, Box(250, 250, 300, 300)) == ()  # nothing inside it


@pytest.mark.skipif(not DEV.is_dir(), reason=MISSING)
@pytest.mark.parametrize(
    "name",
    [
        "data_table/dev_data_table_web_01.png",
        "mailbox_inbox/dev_mailbox_inbox_web_09.png",
        "dashboard/dev_dashboard_web_06.png",
    ],
)
def test_cells_of_a_web_table_or_list_are_not_a_window_in_front(name):
    """Grid lines that run on through a cell (or continue its top edge) are no occluded
    outline: a full-screen web page has no foreground window."""
    assert find_foreground(Image.open(DEV / name).convert("RGB")) is None


@pytest.mark.skipif(not DEV.is_dir(), reason=MISSING)
def test_a_dialog_in_front_of_other_windows_is_found():
    img = Image.open(DEV / "info_dialog" / "dev_info_dialog_07.png").convert("RGB")
    box = find_foreground(img)
    assert box is not None and box.area < 0.2 * img.width * img.height
