"""Shared synthetic screen for the pictogram tests."""

from __future__ import annotations

import pytest
from PIL import Image, ImageDraw, ImageFont


@pytest.fixture
def dialog_screen() -> Image.Image:
    """An 800x600 screen: an editor window and a dialog over it with a warning sign and a message."""
    img = Image.new("RGB", (800, 600), "#3b5b7b")
    d = ImageDraw.Draw(img)
    font = ImageFont.truetype("DejaVuSans.ttf", 14)
    d.rectangle((20, 20, 520, 400), fill="white", outline="black")
    d.text((40, 40), "Meeting minutes, second draft", fill="black", font=font)
    d.rectangle((250, 200, 650, 340), fill="#ececec", outline="black")
    d.polygon([(290, 230), (320, 282), (260, 282)], fill="#f5c211", outline="#8a6a00")
    d.rectangle((288, 245, 292, 268), fill="black")
    d.text((340, 250), "Disk almost full", fill="black", font=font)
    return img
