"""Typed containers for what crosses layers: one screen's prepared inputs
(:class:`ScreenPrepared`, CPU preprocessing done in threads or Ray tasks) and features
(:class:`ScreenFeatures`) from every channel of an encoder, and a class file's example
features (:class:`ScreenExamples`).

One field per channel, ``None`` where the encoder has no such channel, so callers read
``features.text.lines`` or ``examples.visual`` instead of looking a channel up by a name
string. Both are frozen, picklable (Ray ships them between workers and the driver) and
cheap: they hold references to the channels' own frozen feature objects. The encoder fills
them generically through :meth:`ScreenFeatures.from_channels`; each channel's feature and
example types validate their own shapes (:func:`check_rows`, :func:`check_shape`).

    >>> import torch
    >>> check_shape("clip.views", torch.zeros(2, 3), (None, 3))
    >>> check_shape("clip.views", torch.zeros(2, 4), (None, 3))
    Traceback (most recent call last):
    ...
    ValueError: clip.views: expected shape (*, 3), got (2, 4)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    import numpy as np
    from PIL import Image

    from screenstate.embeddings.clip import ClipExamples, ClipFeatures
    from screenstate.embeddings.text import TextExamples, TextFeatures
    from screenstate.embeddings.visual import VisualExamples, VisualFeatures


def check_shape(what: str, array: Any, expected: Sequence[int | None]) -> None:
    """Raise a ValueError naming ``what`` unless ``array.shape`` matches ``expected``
    (``None`` matches any size)."""
    shape = tuple(array.shape)
    if len(shape) != len(expected) or any(e is not None and s != e for s, e in zip(shape, expected)):
        want = ", ".join("*" if e is None else str(e) for e in expected)
        raise ValueError(f"{what}: expected shape ({want}{',' if len(expected) == 1 else ''}), got {shape}")


def check_rows(what: str, n: int, expected: int, of: str) -> None:
    """Raise a ValueError naming ``what`` unless it has ``expected`` rows (one per ``of``)."""
    if n != expected:
        raise ValueError(f"{what}: expected {expected} rows (one per {of}), got {n}")


_CHANNELS = ("clip", "text", "visual")
_P = TypeVar("_P", bound="_PerChannel")


class _PerChannel:
    """One optional field per channel; generic access by channel name for the encoder."""

    __slots__ = ()

    @classmethod
    def from_channels(cls: type[_P], items: Mapping[str, Any]) -> _P:
        """Generic construction from ``{channel.name: value}`` (the encoder's plumbing)."""
        unknown = sorted(set(items) - set(_CHANNELS))
        if unknown:
            raise ValueError(f"{cls.__name__}: unknown channel(s) {unknown}; channels are {list(_CHANNELS)}")
        return cls(**{k: v for k, v in items.items() if v is not None})

    def get(self, channel: str) -> Any:
        """The value of the channel named ``channel`` (None if absent); for generic plumbing
        over an encoder's channels, not for callers that want one channel."""
        if channel not in _CHANNELS:
            raise ValueError(f"{type(self).__name__}: unknown channel {channel!r}; channels are {list(_CHANNELS)}")
        return getattr(self, channel)

    @property
    def names(self) -> tuple[str, ...]:
        """Channels present, in field order."""
        return tuple(n for n in _CHANNELS if getattr(self, n) is not None)


@dataclass(frozen=True, slots=True)
class ScreenFeatures(_PerChannel):
    """One screen's image features, one field per channel (None: not encoded by it)."""

    clip: ClipFeatures | None = None
    text: TextFeatures | None = None
    visual: VisualFeatures | None = None

    def merged(self, other: ScreenFeatures) -> ScreenFeatures:
        """These features with ``other``'s present channels added or replacing them."""
        return dataclasses.replace(self, **{n: getattr(other, n) for n in other.names})


@dataclass(frozen=True, slots=True)
class ScreenExamples(_PerChannel):
    """A class file's example features, one field per channel of the encoder."""

    clip: ClipExamples | None = None
    text: TextExamples | None = None
    visual: VisualExamples | None = None


@dataclass(frozen=True, slots=True)
class ScreenPrepared(_PerChannel):
    """One screen's prepared inputs, one field per channel (None: not prepared for it): what
    :meth:`Encoder.prepare` (or a :class:`~screenstate.embeddings.images.Preparer` in a Ray
    task) hands to :meth:`Encoder.encode`. No model inside; picklable.

    ``clip``: uint8 views [views, S, S, 3]; ``text`` and ``visual``: the (resized) RGB screen."""

    clip: np.ndarray | None = None
    text: Image.Image | None = None
    visual: Image.Image | None = None
