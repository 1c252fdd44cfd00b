"""Typed containers for what crosses layers: one screen's prepared inputs
(:class:`ScreenPrepared`, CPU preprocessing done in threads or Ray tasks) and features
(:class:`ScreenFeatures`) from every channel of an encoder, and a class file's example
features (:class:`ScreenExamples`).

Each holds one value per *registered* channel (``embeddings/registry.py``), validated on
creation against that channel's types, and nothing for channels it was not made with.
Typed access goes through the channel's kind, ``features.get(TEXT)`` (a ``TextFeatures |
None``); the built-in names also read as attributes (``features.text``, ``None`` when
absent). All three are frozen, picklable (Ray ships them between workers and the driver)
and cheap: they hold references to the channels' own frozen feature objects.

    >>> import screenstate.embeddings.builtins  # registers clip, text, visual
    >>> ScreenFeatures().names
    ()
    >>> ScreenFeatures(text=1)
    Traceback (most recent call last):
    ...
    ValueError: ScreenFeatures: text must be a TextFeatures, got int
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, TypeVar, overload

from screenstate.embeddings.registry import ChannelKind, channel_kind, is_channel

F = TypeVar("F")
E = TypeVar("E")
_P = TypeVar("_P", bound="_PerChannel")


class _PerChannel:
    """One optional value per registered channel."""

    __slots__ = ("_items",)
    #: which of a channel's types the values are: ``features``, ``examples`` or ``prepared``
    _role: ClassVar[str]
    #: False: values of channels not registered in this process pass unchecked (prepared
    #: inputs are built in Ray prepare tasks, which must not import the channels' models)
    _strict: ClassVar[bool] = True
    _items: dict[str, Any]

    def __init__(self, **channels: Any) -> None:
        items: dict[str, Any] = {}
        for name, value in sorted(channels.items()):  # one order whatever the construction
            if value is None:
                continue
            if not self._strict and not is_channel(name):
                items[name] = value
                continue
            kind = channel_kind(name)
            want = getattr(kind, self._role)
            want = want if isinstance(want, tuple) else (want,)
            if not isinstance(value, want):
                names = " or ".join(t.__name__ for t in want)
                raise ValueError(f"{type(self).__name__}: {name} must be a {names}, got {type(value).__name__}")
            items[name] = value
        object.__setattr__(self, "_items", items)

    @classmethod
    def from_channels(cls: type[_P], items: Mapping[str, Any]) -> _P:
        """Generic construction from ``{channel.name: value}`` (the encoder's plumbing)."""
        return cls(**items)

    def _value(self, channel: ChannelKind[Any, Any, Any] | str) -> Any:
        name = channel if isinstance(channel, str) else channel.name
        channel_kind(name)  # unknown names are errors, not None
        return self._items.get(name)

    def get(self, channel: ChannelKind[Any, Any, Any] | str) -> Any:
        """The value of ``channel`` (a registered kind, or its name for generic plumbing),
        None if absent."""
        return self._value(channel)

    @property
    def names(self) -> tuple[str, ...]:
        """Channels present, by name."""
        return tuple(self._items)

    def __getattr__(self, name: str) -> Any:
        # attribute access by channel name (``features.text``), None when absent
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            channel_kind(name)
        except ValueError:
            raise AttributeError(f"{type(self).__name__} has no attribute or channel {name!r}") from None
        return self._items.get(name)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{type(self).__name__} is frozen")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _PerChannel) and type(other) is type(self) and self._items == other._items

    def __hash__(self) -> int:
        return hash((type(self), tuple(self._items)))

    def __reduce__(self) -> tuple[Any, ...]:
        return (_restore, (type(self), self._items))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}=...' for k in self._items)})"

    def merged(self: _P, other: _P) -> _P:
        """These values with ``other``'s present channels added or replacing them."""
        return type(self)(**{**self._items, **other._items})

    def replace(self: _P, **channels: Any) -> _P:
        """A copy with ``channels`` replaced (None removes one)."""
        return type(self)(**{**self._items, **channels})


def _restore(cls: type[_P], items: dict[str, Any]) -> _P:
    return cls(**items)


class ScreenFeatures(_PerChannel):
    """One screen's image features, one value per channel that encoded it."""

    __slots__ = ()
    _role = "features"

    @overload
    def get(self, channel: ChannelKind[Any, F, Any]) -> F | None: ...
    @overload
    def get(self, channel: str) -> Any: ...
    def get(self, channel: ChannelKind[Any, Any, Any] | str) -> Any:
        """``features.get(TEXT)``: the channel's features (typed by its kind), None if absent."""
        return self._value(channel)


class ScreenExamples(_PerChannel):
    """A class file's example features, one value per channel of the encoder."""

    __slots__ = ()
    _role = "examples"

    @overload
    def get(self, channel: ChannelKind[Any, Any, E]) -> E | None: ...
    @overload
    def get(self, channel: str) -> Any: ...
    def get(self, channel: ChannelKind[Any, Any, Any] | str) -> Any:
        """``examples.get(TEXT)``: the channel's example features (typed by its kind), None if absent."""
        return self._value(channel)


class ScreenPrepared(_PerChannel):
    """One screen's prepared inputs, one per channel (what :meth:`Encoder.prepare`, or a
    :class:`~screenstate.embeddings.images.Preparer` in a Ray task, hands to
    :meth:`Encoder.encode`). No model inside; picklable. ``clip``: uint8 views
    [views, S, S, 3]; ``text`` and ``visual``: the (resized) RGB screen."""

    __slots__ = ()
    _role = "prepared"
    _strict = False
