"""Region sources for the detector: boxes plus a calibrated relevance to each example.

``TextRegions`` turns OCR lines into regions, so "where is the Save button?" is answered
offline by the line that reads "Save". Relevance of a text example t to a line l::

    s = max(cos(t, l), cos(strip_roles(t), l))        # "the Save button" -> "Save"
    d = sigmoid((s - 0.6) / 0.08)

so an unrelated line scores ~0.001, a related UI word ("Password" for "Sign In", s ~0.6)
0.5 and the same words ~1; the reference detector's default ``detection_threshold`` of
0.1 keeps lines with s >~ 0.42.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from PIL import Image

from screenstate.embeddings.text import TextChannel
from screenstate.schema import Column

#: words that name a widget's role rather than what it says
UI_ROLE_WORDS = frozenset(
    "the a an button buttons link links field fields input box textbox label labels tab tabs menu item icon "
    "checkbox option dropdown title heading text area entry".split()
)
TEXT_REGION_CENTER = 0.6
TEXT_REGION_WIDTH = 0.08


def strip_roles(text: str) -> str:
    """'the Save button' -> 'Save' (keeps the text when nothing else is left)."""
    words = re.findall(r"[^\W_]+(?:['’][^\W_]+)?", text)
    kept = [w for w in words if w.lower() not in UI_ROLE_WORDS]
    return " ".join(kept) if kept else text


@dataclass(frozen=True)
class Regions:
    """Boxes (pixels of the original image, x0 y0 x1 y1), labels and relevance [boxes, columns]."""

    boxes: np.ndarray  # float32 [boxes, 4]
    labels: list[str]
    relevance: np.ndarray  # float32 [boxes, columns]
    source: str


class RegionSource(Protocol):
    name: str

    def regions(self, img: Image.Image, columns: list[Column]) -> Regions: ...


class TextRegions:
    """OCR lines as regions (offline)."""

    name = "text"

    def __init__(self, channel: TextChannel) -> None:
        self.channel = channel

    def regions(self, img: Image.Image, columns: list[Column]) -> Regions:
        prepared = self.channel.prepare(img)
        sx = img.size[0] / prepared.size[0]
        sy = img.size[1] / prepared.size[1]
        lines = [ln for ln in self.channel.read_lines(prepared) if ln.text.strip()]
        texts = [c.text if c.text is not None else "" for c in columns]
        if not lines or not columns:
            return Regions(np.zeros((0, 4), np.float32), [], np.zeros((0, len(columns)), np.float32), self.name)
        enc = self.channel.sentences
        line_emb = enc.encode([ln.text for ln in lines])
        full = enc.encode(texts) @ line_emb.T
        stripped = enc.encode([strip_roles(t) for t in texts]) @ line_emb.T
        sim = np.maximum(full, stripped).T  # [lines, columns]
        rel = _sigmoid((sim - TEXT_REGION_CENTER) / TEXT_REGION_WIDTH)
        is_text = np.array([c.text is not None for c in columns], np.bool_)
        rel[:, ~is_text] = 0.0  # image exemplars do not describe a line of text
        boxes = np.array([[b[0] * sx, b[1] * sy, b[2] * sx, b[3] * sy] for b in (ln.box for ln in lines)], np.float32)
        return Regions(boxes, [ln.text for ln in lines], rel, self.name)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    """torch.sigmoid's 1 / (1 + exp(-x)), float32."""
    return np.float32(1.0) / (np.float32(1.0) + np.exp(-x))
