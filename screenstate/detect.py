"""ScreenDetector: boxes for UI elements described in a detector JSON (reference format).

    det = ScreenDetector("configs/buttons.json", regions="auto")
    for d in det.detect("frame.png"):
        d.box, d.score, d.class_          # box: (x0, y0, x1, y1) pixels of the input image

Region sources (``regions``): ``text`` (OCR lines, offline), ``owl`` (OWL-ViT / OWLv2
patches, needs weights), ``owl+text``, or ``auto`` (``owl+text`` when OWL weights are
available offline, else ``text``). Per box and class, pos/neg are the best positive and
negative relevance; :func:`screenstate.classifier.nms.suppress` decides on one cached IoU
graph.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from screenstate.classifier.nms import suppress
from screenstate.classifier.two_stage import best_positive_negative
from screenstate.embeddings.factory import EncoderOptions
from screenstate.embeddings.images import ImageInput, load_image
from screenstate.embeddings.regions import Regions, TextRegions
from screenstate.embeddings.text import TextChannel
from screenstate.errors import UnknownNameError
from screenstate.schema import DetectorSpec

REGION_SOURCES = ("auto", "text", "owl", "owl+text")


@dataclass(frozen=True)
class Detection:
    """One box: pixel (x0, y0, x1, y1) in the input image, score in [0, 1], class name."""

    box: tuple[float, float, float, float]
    score: float
    class_: str
    label: str = ""
    source: str = ""

    def __post_init__(self) -> None:
        x0, y0, x1, y1 = self.box
        if not (x1 >= x0 and y1 >= y0):
            raise ValueError(f"box must be (x0, y0, x1, y1) with x1 >= x0 and y1 >= y0, got {self.box}")

    def to_dict(self) -> dict[str, Any]:
        """The reference server's detection shape."""
        return {"tlbr": list(self.box), "score": self.score, "class": self.class_}


class ScreenDetector:
    """Zero-shot UI-element detection with positive and negative examples."""

    def __init__(
        self,
        spec: DetectorSpec | str | os.PathLike | dict,
        regions: str = "auto",
        options: EncoderOptions | None = None,
        text_channel: TextChannel | None = None,
        owl: Any = None,
    ) -> None:
        if regions not in REGION_SOURCES:
            raise UnknownNameError("region source", regions, REGION_SOURCES)
        self.spec = DetectorSpec.coerce(spec)
        self.options = options or EncoderOptions()
        self.names = self.spec.names
        self.columns = self.spec.columns()
        self.example_class = np.array([c.class_index for c in self.columns], dtype=np.int64)
        self.example_is_negative = np.array([c.is_negative for c in self.columns], dtype=np.bool_)
        self.thresholds = np.array([c.detection_threshold for c in self.spec.detector_configs], dtype=np.float32)
        self.sources: list[Any] = []
        if regions in ("owl", "owl+text") or regions == "auto":
            from screenstate.embeddings.owl import OwlRegions, owl_available

            if owl is not None:
                self.sources.append(owl)
            elif regions != "auto" or owl_available():
                self.sources.append(OwlRegions(device=self.options.device))
        if regions in ("text", "owl+text", "auto"):
            self.sources.append(TextRegions(text_channel or TextChannel(self.options.text_options())))

    @property
    def source_names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.sources)

    def _regions(self, img: Image.Image, columns: Sequence[Any]) -> Regions:
        parts = [s.regions(img, list(columns)) for s in self.sources]
        return Regions(
            np.concatenate([p.boxes for p in parts]) if parts else np.zeros((0, 4), np.float32),
            [lab for p in parts for lab in p.labels],
            np.concatenate([p.relevance for p in parts]) if parts else np.zeros((0, len(columns)), np.float32),
            "+".join(p.source for p in parts),
        )

    def detect(self, image: ImageInput, query: str | None = None) -> list[Detection]:
        """Detections, best first. ``query`` detects one free-text element instead of the spec's classes."""
        img = load_image(image)
        if query is not None:
            spec = DetectorSpec.from_dict({"detector_configs": [{"name": query, "examples_to_include": [query]}]})
            return ScreenDetector(
                spec, regions="text", options=self.options, text_channel=self._text_channel()
            )._detect(img)
        return self._detect(img)

    def _text_channel(self) -> TextChannel | None:
        for s in self.sources:
            if isinstance(s, TextRegions):
                return s.channel
        return None

    def _detect(self, img: Image.Image) -> list[Detection]:
        reg = self._regions(img, self.columns)
        n_cls = len(self.names)
        if reg.boxes.shape[0] == 0:
            return []
        pos, neg = best_positive_negative(reg.relevance, self.example_class, self.example_is_negative, n_cls)
        kept = suppress(reg.boxes, pos, neg, self.thresholds, self.spec.nms_threshold, self.spec.class_agnostic_nms)
        out = []
        w, h = img.size
        for j, idx in enumerate(kept):
            for i in idx.tolist():
                x0, y0, x1, y1 = (float(v) for v in reg.boxes[i])
                x0, y0 = min(max(0.0, x0), float(w)), min(max(0.0, y0), float(h))
                x1, y1 = min(max(x0, x1), float(w)), min(max(y0, y1), float(h))
                out.append(
                    Detection(
                        (x0, y0, x1, y1),
                        float(pos[i, j]),
                        self.names[j],
                        reg.labels[i],
                        reg.source,
                    )
                )
        return sorted(out, key=lambda d: -d.score)


def draw_detections(image: ImageInput, detections: Sequence[Detection]) -> Image.Image:
    """The image with boxes and "class score" labels drawn on it."""
    img = load_image(image).copy()
    draw = ImageDraw.Draw(img)
    palette = [(230, 25, 75), (60, 180, 75), (0, 130, 200), (245, 130, 48), (145, 30, 180), (70, 240, 240)]
    classes = list(dict.fromkeys(d.class_ for d in detections))
    for d in sorted(detections, key=lambda d: d.score):  # best drawn last, on top
        color = palette[classes.index(d.class_) % len(palette)]
        draw.rectangle(d.box, outline=color, width=3)
        label = f"{d.class_} {d.score:.2f}"
        tx, ty = d.box[0], max(0.0, d.box[1] - 14)
        draw.rectangle((tx, ty, tx + 7 * len(label), ty + 14), fill=color)
        draw.text((tx + 2, ty + 1), label, fill=(255, 255, 255))
    return img
