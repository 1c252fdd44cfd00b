"""The text channel's hook for pictograms: a screen's OCR lines plus its icons read as lines.

Kept apart from ``embeddings/text.py`` so that the channel registry (#27) can register
pictograms as their own evidence source instead; until then the text channel calls
:func:`read_screen` and pictograms are lines like any other (weighted inside the
foreground window, matched against class descriptions, shown as evidence).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PIL import Image

from screenstate.embeddings.ocr import TextLine
from screenstate.pictograms.reader import PREFIX, PictogramReader
from screenstate.screen.foreground import find_foreground
from screenstate.screen.windows import Box

__all__ = ["PREFIX", "pictogram_reader", "read_screen"]

if TYPE_CHECKING:
    from screenstate.embeddings.text import TextChannel


def pictogram_reader(enabled: bool) -> PictogramReader | None:
    """The shared reader when ``enabled`` (loaded once per process), else None."""
    if not enabled:
        return None
    global _READER
    if _READER is None:
        _READER = PictogramReader()
    return _READER


_READER: PictogramReader | None = None


def read_screen(channel: TextChannel, image: Image.Image) -> tuple[list[TextLine], Box | None]:
    """OCR lines of a prepared screen, then its pictogram lines when the channel reads them,
    and the foreground window (both found once and shared)."""
    lines = channel.read_lines(image)
    window = find_foreground(image)
    reader = channel.pictograms
    return (lines + reader.lines(image, lines, window) if reader is not None else lines), window
