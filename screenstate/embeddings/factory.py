"""Encoder registry (JSON configs in ``embeddings/configs/``) and the factory.

``create_encoder("auto")`` uses ``clip+text`` when CLIP weights are available without the
network (a local file, the hub cache, or ``clip_pretrained="random"``), and ``text``
alone otherwise, saying so once. When the class file has image exemplars
(``image_exemplars=True``) the weight-free ``visual`` channel joins: ``visual+text`` or
``clip+visual+text``. Overrides travel in one :class:`EncoderOptions`.
"""

from __future__ import annotations

import json
import logging
from functools import cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from screenstate.embeddings.base import Channel
from screenstate.embeddings.clip import (
    DEFAULT_CLIP_MODEL,
    DEFAULT_CLIP_PRETRAINED,
    ClipChannel,
    ClipOptions,
    clip_available,
)
from screenstate.embeddings.encoder import Encoder
from screenstate.embeddings.ocr import OcrOptions
from screenstate.embeddings.sentence import DEFAULT_SENTENCE_MODEL
from screenstate.embeddings.text import TextChannel, TextOptions
from screenstate.embeddings.visual import VisualChannel
from screenstate.errors import UnknownNameError

log = logging.getLogger("screenstate")
CONFIG_DIR = Path(__file__).parent / "configs"
_NOTICE_SHOWN = False


class EncoderOptions(BaseModel):
    """Every encoder setting in one object (defaults are the documented ones)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    device: str = Field("auto", description="auto | cpu | cuda | cuda:N")
    precision: str = Field(
        "auto",
        description="auto (measured on CPU: fastest of fp32/bf16 that agrees with fp32; fp16 on GPU) | fp32 | bf16 | fp16",
    )
    clip_model: str = DEFAULT_CLIP_MODEL
    clip_pretrained: str = Field(
        DEFAULT_CLIP_PRETRAINED, description="open_clip tag, local checkpoint path, or 'random'"
    )
    views: str = Field("letterbox", description="squash (reference) | letterbox | tiles")
    tile_rows: int = Field(2, ge=1, le=6)
    templates: str = Field("screen", description="screen | photo (reference) | none")
    batch_size: int = Field(32, ge=1)
    allow_download: bool = Field(True, description="explicit clip encoders may download when the hub answers")
    sentence_model: str = DEFAULT_SENTENCE_MODEL
    ocr_det_max_side: int = Field(OcrOptions.det_max_side, ge=64)
    ocr_min_rec_width: int = Field(96, ge=16)
    ocr_min_confidence: float = Field(0.5, ge=0.0, le=1.0)
    weights: dict[str, float] | None = Field(None, description="fusion weights per channel")
    pictograms: bool = Field(False, description="text channel also reads icons as words (screenstate.pictograms)")

    def clip_options(self) -> ClipOptions:
        return ClipOptions(
            model=self.clip_model,
            pretrained=self.clip_pretrained,
            device=self.device,
            precision=self.precision,
            views=self.views,
            templates=self.templates,
            tile_rows=self.tile_rows,
            batch_size=self.batch_size,
            allow_download=self.allow_download,
        )

    def text_options(self) -> TextOptions:
        return TextOptions(
            sentence_model=self.sentence_model,
            pictograms=self.pictograms,
            ocr=OcrOptions(
                det_max_side=self.ocr_det_max_side,
                min_rec_width=self.ocr_min_rec_width,
                min_confidence=self.ocr_min_confidence,
                # the OCR models run in bf16 or fp32 (openvino); fp16 is a GPU-only choice for CLIP
                precision=self.precision if self.precision in ("fp32", "bf16") else "auto",
            ),
        )


@cache
def _registry() -> dict[str, dict[str, Any]]:
    return {p.stem: json.loads(p.read_text()) for p in sorted(CONFIG_DIR.glob("*.json"))}


def list_encoders() -> list[str]:
    """Valid encoder names: ``auto`` plus the registry's configs."""
    return ["auto", *_registry()]


def resolve_encoder_name(name: str, options: EncoderOptions, image_exemplars: bool = False) -> str:
    """Turn ``auto`` into a concrete name without touching the network; ``image_exemplars``
    (the class file has screenshot examples) adds the ``visual`` channel."""
    global _NOTICE_SHOWN
    if name != "auto":
        if name not in _registry():
            raise UnknownNameError("encoder", name, list_encoders())
        return name
    if clip_available(options.clip_model, options.clip_pretrained):
        return "clip+visual+text" if image_exemplars else "clip+text"
    if image_exemplars:
        return "visual+text"
    if not _NOTICE_SHOWN:
        log.warning(
            "encoder=auto: CLIP weights %s/%s are not available offline; using the text channel "
            "alone (run `screenstate models pull` on a connected machine to add CLIP)",
            options.clip_model,
            options.clip_pretrained,
        )
        _NOTICE_SHOWN = True
    return "text"


def create_encoder(name: str = "auto", options: EncoderOptions | None = None, image_exemplars: bool = False) -> Encoder:
    """Build an encoder by registry name (``auto``, ``clip``, ``text``, ``visual``,
    ``clip+text``, ``visual+text``, ``clip+visual+text``)."""
    options = options or EncoderOptions()
    resolved = resolve_encoder_name(name, options, image_exemplars)
    cfg = _registry()[resolved]
    channels: list[Channel] = []
    for ch in cfg["channels"]:
        if ch == "clip":
            channels.append(ClipChannel(options.clip_options()))
        elif ch == "text":
            dev = "cuda" if options.device.startswith("cuda") else "cpu"
            channels.append(TextChannel(options.text_options(), device=dev))
        elif ch == "visual":
            channels.append(VisualChannel())
        else:  # pragma: no cover - registry files are ours
            raise UnknownNameError("channel", ch, ["clip", "text", "visual"])
    weights = dict(cfg.get("weights", {}))
    weights.update(options.weights or {})
    return Encoder(resolved, channels, weights)


def with_visual(encoder: Encoder, options: EncoderOptions | None = None) -> Encoder:
    """``encoder`` plus the ``visual`` channel, sharing its loaded channels (what ``auto``
    becomes when a class file gains image exemplars); unchanged if it already has it."""
    if encoder.visual is not None:
        return encoder
    name = "clip+visual+text" if encoder.clip is not None else "visual+text"
    cfg = _registry()[name]
    channels = {c.name: c for c in encoder.channels}
    channels["visual"] = VisualChannel()
    weights = dict(cfg.get("weights", {}))
    weights.update((options.weights if options else None) or {})
    return Encoder(name, [channels[n] for n in cfg["channels"] if n in channels], weights)
