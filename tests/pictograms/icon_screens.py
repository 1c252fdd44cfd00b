"""The synthetic screen of the pictogram tests: an editor window and a dialog over it with a
warning sign (or none) and a message."""

from __future__ import annotations

from PIL import Image, ImageDraw, ImageFont


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
