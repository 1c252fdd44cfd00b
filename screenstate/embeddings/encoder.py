"""Encoders: one or more channels, each giving a calibrated relevance matrix.

The encoder prepares, encodes and scores screens channel by channel; what to make of the
channels' relevances is the class file's decision rule's business (``classifier/rule.py``:
the two-stage rule fuses them with this encoder's ``weights``, ``classifier/fusion.py``).

Image features travel as one :class:`~screenstate.embeddings.features.ScreenFeatures` per
screen and example features as one :class:`~screenstate.embeddings.features.ScreenExamples`;
``encoder.text`` / ``encoder.clip`` / ``encoder.visual`` give a typed channel (or None).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
from PIL import Image

from screenstate.embeddings.base import Channel
from screenstate.embeddings.features import ScreenExamples, ScreenFeatures, ScreenPrepared
from screenstate.embeddings.images import Preparer
from screenstate.embeddings.registry import ChannelKind
from screenstate.schema import Column

if TYPE_CHECKING:
    from screenstate.embeddings.clip import ClipChannel
    from screenstate.embeddings.text import TextChannel
    from screenstate.embeddings.visual import VisualChannel

C = TypeVar("C", bound=Channel[Any, Any])


@dataclass
class Encoder:
    """A named set of channels plus fusion weights."""

    name: str
    channels: list[Channel[Any, Any]]
    weights: dict[str, float] = field(default_factory=dict)

    def get(self, kind: ChannelKind[C, Any, Any]) -> C | None:
        """The channel of a registered kind (``encoder.get(TEXT)`` is a ``TextChannel | None``)."""
        return next((c for c in self.channels if isinstance(c, kind.channel)), None)

    @property
    def text(self) -> TextChannel | None:
        """The ``text`` channel, or None."""
        from screenstate.embeddings.text import TEXT

        return self.get(TEXT)

    @property
    def clip(self) -> ClipChannel | None:
        """The ``clip`` channel, or None."""
        import sys

        clip = sys.modules.get("screenstate.embeddings.clip")
        if clip is None:
            return None  # no ClipChannel exists before its module (and torch) is imported
        return self.get(clip.CLIP)

    @property
    def visual(self) -> VisualChannel | None:
        """The ``visual`` channel, or None."""
        from screenstate.embeddings.visual import VISUAL

        return self.get(VISUAL)

    @property
    def channel_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.channels)

    @property
    def model_id(self) -> str:
        return "+".join(c.model_id for c in self.channels)

    def subset(self, names: tuple[str, ...] | list[str]) -> Encoder:
        """The same loaded channels, only those named (to encode what a cache lacks)."""
        return Encoder(self.name, [c for c in self.channels if c.name in names], self.weights)

    def preparer(self) -> Preparer:
        """Picklable per-channel preprocessing (no model inside), for worker processes."""
        return Preparer({c.name: c.preparer() for c in self.channels})

    def prepare(self, img: Image.Image) -> ScreenPrepared:
        """Per-channel CPU preprocessing of one RGB image."""
        return ScreenPrepared.from_channels({c.name: c.prepare(img) for c in self.channels})

    def encode(self, prepared: Sequence[ScreenPrepared]) -> list[ScreenFeatures]:
        """Per-channel image features, one :class:`ScreenFeatures` per image."""
        per_channel = {c.name: c.encode([_prepared(p, c) for p in prepared]) for c in self.channels}
        return [
            ScreenFeatures.from_channels({name: feats[i] for name, feats in per_channel.items()})
            for i in range(len(prepared))
        ]

    def encode_images(self, images: list[Image.Image]) -> list[ScreenFeatures]:
        return self.encode([self.prepare(im) for im in images])

    def encode_examples(
        self, columns: list[Column], augment: bool = True, image_features: Sequence[ScreenFeatures] | None = None
    ) -> ScreenExamples:
        """Per-channel example features; ``image_features`` (one per image column) avoids re-encoding."""
        return ScreenExamples.from_channels(
            {
                c.name: c.encode_examples(
                    columns,
                    augment=augment,
                    image_features=None if image_features is None else [_feature(f, c) for f in image_features],
                )
                for c in self.channels
            }
        )

    def channel_relevance(self, features: Sequence[ScreenFeatures], examples: ScreenExamples) -> dict[str, np.ndarray]:
        """Each channel's relevance matrix, float32 numpy [images, examples], by channel name
        (a channel of another package handing back a CPU tensor is converted here, without
        importing torch: the decision rules take numpy only)."""
        return {
            c.name: np.asarray(c.relevance([_feature(f, c) for f in features], _examples(examples, c)), np.float32)
            for c in self.channels
        }


def _part(container: ScreenPrepared | ScreenFeatures | ScreenExamples, channel: Channel[Any, Any], missing: str) -> Any:
    """``channel``'s part of ``container``; a screen or class file handled without that
    channel is a clear error (``missing``: the message, with ``{name}`` and ``{held}``)."""
    got = container.get(channel.name)
    if got is None:
        raise ValueError(missing.format(name=repr(channel.name), held=list(container.names)))
    return got


def _prepared(prepared: ScreenPrepared, channel: Channel[Any, Any]) -> Any:
    return _part(
        prepared, channel, "prepared screen has no {name} input (it holds {held}); prepare the screen with this encoder"
    )


def _feature(features: ScreenFeatures, channel: Channel[Any, Any]) -> Any:
    return _part(
        features,
        channel,
        "screen features have no {name} feature (they hold {held}); encode the screen with this encoder",
    )


def _examples(examples: ScreenExamples, channel: Channel[Any, Any]) -> Any:
    return _part(examples, channel, "example features have no {name} part; encode the examples with this encoder")
