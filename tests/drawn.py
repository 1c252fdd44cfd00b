"""Drawn desktop screens for tests: a wallpaper, maybe a window behind, and a dialog whose
only distinctive part is its icon, placed, sized and themed as asked."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFont


def _wallpaper(size: tuple[int, int], seed: int) -> Image.Image:
    rng = np.random.default_rng(seed)
    w, h = size
    c0, c1 = rng.integers(20, 235, 3), rng.integers(20, 235, 3)
    t = np.linspace(0, 1, h)[:, None, None]
    grad = (c0 * (1 - t) + c1 * t).astype(np.uint8)
    return Image.fromarray(np.broadcast_to(grad, (h, w, 3)).copy())


def _window(draw: ImageDraw.ImageDraw, box: tuple[int, int, int, int], dark: bool, title: tuple[int, int, int]) -> None:
    x0, y0, x1, y1 = box
    draw.rectangle(box, fill=(45, 45, 45) if dark else (242, 241, 240), outline=(20, 20, 20), width=2)
    draw.rectangle((x0, y0, x1, y0 + max(8, (y1 - y0) // 8)), fill=title, outline=(20, 20, 20), width=2)


def dialog_screen(
    icon: str | None,
    size: tuple[int, int] = (1280, 800),
    at: tuple[int, int] = (400, 300),
    scale: float = 1.0,
    dark: bool = False,
    seed: int = 0,
    behind: bool = True,
) -> Image.Image:
    """A desktop with a wallpaper, maybe a window behind, and a dialog with ``icon`` on top
    (None: no dialog, the plain desktop)."""
    img = _wallpaper(size, seed)
    d = ImageDraw.Draw(img)
    rng = np.random.default_rng(seed + 100)
    if behind:  # a terminal-like window the dialog partly covers
        bx, by = at[0] - int(rng.integers(60, 200)), at[1] - int(rng.integers(40, 150))
        _window(d, (bx, by, bx + 420, by + 300), dark=not dark, title=(90, 90, 90))
        for i in range(8):
            d.rectangle(
                (bx + 12, by + 50 + 28 * i, bx + 12 + int(rng.integers(80, 380)), by + 58 + 28 * i), fill=(0, 160, 0)
            )
    if icon is None:
        return img
    w, h = int(440 * scale), int(150 * scale)
    x0, y0 = at
    _window(d, (x0, y0, x0 + w, y0 + h), dark, title=(60, 60, 70))
    ix, iy, r = x0 + int(45 * scale), y0 + int(70 * scale), int(22 * scale)
    if icon == "error":
        d.ellipse((ix - r, iy - r, ix + r, iy + r), fill=(205, 30, 30))
        d.rectangle((ix - r // 2, iy - r // 6, ix + r // 2, iy + r // 6), fill=(255, 255, 255))
    elif icon == "warning":
        d.polygon([(ix, iy - r), (ix - r, iy + r), (ix + r, iy + r)], fill=(240, 170, 20))
        d.rectangle((ix - 2, iy - r // 3, ix + 2, iy + r // 2), fill=(30, 30, 30))
    else:
        d.polygon([(ix, iy - r), (ix + r, iy), (ix, iy + r), (ix - r, iy)], fill=(40, 100, 215))
        d.ellipse((ix - r // 4, iy - r // 4, ix + r // 4, iy + r // 4), fill=(255, 255, 255))
    fg = (220, 220, 220) if dark else (40, 40, 40)
    for i in range(2):  # two lines of "text"
        d.rectangle(
            (
                x0 + int(90 * scale),
                y0 + int((50 + 18 * i) * scale),
                x0 + int(380 * scale),
                y0 + int((58 + 18 * i) * scale),
            ),
            fill=fg,
        )
    d.rectangle(
        (x0 + w - int(80 * scale), y0 + h - int(35 * scale), x0 + w - int(15 * scale), y0 + h - int(10 * scale)),
        outline=fg,
        width=2,
    )
    return img


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


def editor_screen(
    size: tuple[int, int],
    editor: tuple[int, int, int, int],
    lines: tuple[str, ...],
    dialog: tuple[str, str] | None = None,
    seed: int = 0,
) -> Image.Image:
    """A desktop with a text editor window (``editor`` box) showing ``lines`` of real text,
    and maybe a dialog (title, message) centred on the screen in front of it: screens the
    OCR reads, for rules that need words and windows in front."""
    img = _wallpaper(size, seed)
    d = ImageDraw.Draw(img)
    x0, y0, x1, y1 = editor
    _window(d, editor, dark=False, title=(70, 110, 170))
    top = y0 + max(8, (y1 - y0) // 8)  # below the title bar
    d.text((x0 + 12, y0 + 8), "notes.txt - Editor", fill=(255, 255, 255), font=_font(18))
    for i, line in enumerate(lines):
        d.text((x0 + 16, top + 16 + 34 * i), line, fill=(20, 20, 20), font=_font(22))
    if dialog is not None:
        w, h = 460, 170
        dx, dy = (size[0] - w) // 2, (size[1] - h) // 2
        _window(d, (dx, dy, dx + w, dy + h), dark=False, title=(60, 60, 70))
        d.text((dx + 12, dy + 3), dialog[0], fill=(255, 255, 255), font=_font(14))
        d.text((dx + 24, dy + 60), dialog[1], fill=(20, 20, 20), font=_font(20))
        d.rectangle((dx + w - 100, dy + h - 50, dx + w - 20, dy + h - 16), outline=(40, 40, 40), width=2)
        d.text((dx + w - 72, dy + h - 46), "OK", fill=(20, 20, 20), font=_font(20))
    return img
