"""Encoder registry (JSON configs in ``embeddings/configs/``) and the factory.

``create_encoder("auto")`` uses ``clip+text`` when CLIP weights are available without the
network (a local file, the hub cache, or ``clip_pretrained="random"``), and ``text``
alone otherwise, saying so once. When the class file has image exemplars
(``image_exemplars=True``) the weight-free ``visual`` channel joins: ``visual+text`` or
``clip+visual+text``. Overrides travel in one :class:`EncoderOptions`.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from screenstate.embeddings import builtins  # noqa: F401 - registers the built-in channels and sources
from screenstate.embeddings.base import Channel
from screenstate.embeddings.clip_features import ClipOptions
from screenstate.embeddings.clip_weights import clip_available
from screenstate.embeddings.encoder import Encoder
from screenstate.embeddings.registry import ChannelKind, Runtime, channel_kind, encoder_configs, registered_channels
from screenstate.embeddings.text import TextOptions
from screenstate.embeddings.text import options_in_effect as text_options_in_effect
from screenstate.embeddings.visual import VisualChannel, VisualOptions
from screenstate.errors import UnknownNameError
from screenstate.notices import notice_once

log = logging.getLogger("screenstate")
_NOTICE_SHOWN = False

#: the flat option names of earlier versions (and of the CLI), each the nested field it sets
FLAT_OPTIONS: dict[str, tuple[str, ...]] = {
    "clip_model": ("clip", "model"),
    "clip_pretrained": ("clip", "pretrained"),
    "views": ("clip", "views"),
    "tile_rows": ("clip", "tile_rows"),
    "templates": ("clip", "templates"),
    "batch_size": ("clip", "batch_size"),
    "allow_download": ("clip", "allow_download"),
    "sentence_model": ("text", "sentence_model"),
    "ocr_det_max_side": ("text", "ocr", "det_max_side"),
    "ocr_min_rec_width": ("text", "ocr", "min_rec_width"),
    "ocr_min_confidence": ("text", "ocr", "min_confidence"),
    "pictograms": ("text", "pictograms"),
}


def _as_dict(options: Any) -> dict[str, Any]:
    """The fields of an options dataclass (one level: nested options stay objects), or a dict's copy."""
    if dataclasses.is_dataclass(options) and not isinstance(options, type):
        return {f.name: getattr(options, f.name) for f in dataclasses.fields(options)}
    return dict(options)


def _nest(data: dict[str, Any]) -> dict[str, Any]:
    """Fold the flat option names into the nested per-channel options."""
    data = dict(data)
    for flat, path in FLAT_OPTIONS.items():
        if flat not in data:
            continue
        value = data.pop(flat)
        node = data.setdefault(path[0], {})
        if not isinstance(node, dict):  # an options object: set the field on a copy
            node = _as_dict(node)
            data[path[0]] = node
        for key in path[1:-1]:
            node[key] = _as_dict(node.get(key, {}))
            node = node[key]
        node[path[-1]] = value
    return data


class EncoderOptions(BaseModel):
    """Every encoder setting: what all channels share (device, precision, fusion weights)
    and one options object per channel, e.g. ``EncoderOptions(text=TextOptions(max_side=1920),
    clip=ClipOptions(model="ViT-B-16"))``; a channel registered outside the package takes its
    options from ``channels={"toy": ToyOptions(...)}``. The flat names of earlier versions
    (``clip_model=...``, ``ocr_det_max_side=...``, :data:`FLAT_OPTIONS`) still work."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    device: str = Field("auto", description="auto | cpu | cuda | cuda:N")
    precision: str = Field(
        "auto",
        description="auto (measured on CPU: fastest of fp32/bf16 that agrees with fp32; fp16 on GPU) | fp32 | bf16 | fp16",
    )
    weights: dict[str, float] | None = Field(None, description="fusion weights per channel")
    clip: ClipOptions = Field(default_factory=ClipOptions)
    text: TextOptions = Field(default_factory=TextOptions)
    visual: VisualOptions = Field(default_factory=VisualOptions)
    channels: dict[str, Any] = Field(default_factory=dict, description="options of other registered channels")

    @model_validator(mode="before")
    @classmethod
    def _flat_names(cls, data: Any) -> Any:
        return _nest(data) if isinstance(data, dict) else data

    @property
    def clip_model(self) -> str:
        return self.clip.model

    @property
    def clip_pretrained(self) -> str:
        return self.clip.pretrained

    @property
    def runtime(self) -> Runtime:
        return Runtime(self.device, self.precision)

    def options_of(self, kind: ChannelKind[Any, Any, Any]) -> Any:
        """The options of a registered channel (its defaults when not given)."""
        if kind.name in type(self).model_fields and kind.name != "channels":
            return getattr(self, kind.name)
        given = self.channels.get(kind.name)
        if isinstance(given, dict):  # from JSON (options sent to Ray workers)
            return kind.options(**given)
        return kind.options() if given is None else given

    def build(self, kind: ChannelKind[Any, Any, Any]) -> Channel[Any, Any]:
        """The channel of ``kind`` with these options."""
        return kind.build(self.options_of(kind), self.runtime)

    def clip_options(self) -> ClipOptions:
        """The CLIP options in effect (device and precision applied)."""
        return dataclasses.replace(self.clip, device=self.device, precision=self.precision)

    def text_options(self) -> TextOptions:
        """The text options in effect (the OCR precision follows ``precision``)."""
        return text_options_in_effect(self.text, self.runtime)


def _registry() -> dict[str, dict[str, Any]]:
    return encoder_configs()


def list_encoders() -> list[str]:
    """Valid encoder names: ``auto``, the registry's configs, and any ``a+b`` of registered
    channels (``registered_channels()``)."""
    return ["auto", *_registry()]


def _config(name: str) -> dict[str, Any]:
    """A named config, or the registered channels ``a+b+...`` with weight 1 each."""
    if name in _registry():
        return _registry()[name]
    parts = name.split("+")
    if all(p in registered_channels() for p in parts) and len(set(parts)) == len(parts):
        return {"channels": parts}
    raise UnknownNameError("encoder", name, [*list_encoders(), *registered_channels()])


def resolve_encoder_name(name: str, options: EncoderOptions, image_exemplars: bool = False) -> str:
    """Turn ``auto`` into a concrete name without touching the network; ``image_exemplars``
    (the class file has screenshot examples) adds the ``visual`` channel."""
    global _NOTICE_SHOWN
    if name != "auto":
        _config(name)
        return name
    if clip_available(options.clip_model, options.clip_pretrained):
        return "clip+visual+text" if image_exemplars else "clip+text"
    if image_exemplars:
        return "visual+text"
    if not _NOTICE_SHOWN:  # once per process; notice_once: at WARNING once per machine, then INFO
        notice_once(
            f"clip-offline-{options.clip_model}-{options.clip_pretrained}",
            "encoder=auto: CLIP weights %s/%s are not available offline; using the text channel "
            "alone (run `screenstate models pull` on a connected machine to add CLIP)",
            options.clip_model,
            options.clip_pretrained,
        )
        _NOTICE_SHOWN = True
    return "text"


def create_encoder(name: str = "auto", options: EncoderOptions | None = None, image_exemplars: bool = False) -> Encoder:
    """Build an encoder by name: ``auto``, a registry config (``clip``, ``text``, ``visual``,
    ``clip+text``, ``visual+text``, ``clip+visual+text``), or registered channels joined by
    ``+`` (a channel registered outside the package: ``"toy+text"``)."""
    options = options or EncoderOptions()
    resolved = resolve_encoder_name(name, options, image_exemplars)
    cfg = _config(resolved)
    channels = [options.build(channel_kind(ch)) for ch in cfg["channels"]]
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
