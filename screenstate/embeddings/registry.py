"""The channel registry: every evidence channel registers itself (like timm's ``register_model``).

A channel module defines its feature and example types, its options object and its
``Channel`` subclass, and registers them once::

    TOY = register_channel(ChannelKind("toy", ToyChannel, ToyFeatures, ToyExamples, (Image.Image,), ToyOptions, build_toy))

Everything generic reads the registry: the containers (``ScreenFeatures`` /
``ScreenExamples`` / ``ScreenPrepared`` validate each value against its channel's types),
the encoder factory (``create_encoder("toy+text")``; ``EncoderOptions`` carries each
channel's options), the feature store (a channel's ``dumps`` / ``loads`` / ``model_id``).
Typed access goes through the kind: ``features.get(TOY)`` is a ``ToyFeatures | None``,
``encoder.get(TOY)`` a ``ToyChannel | None``.
The built-in channels (``clip``, ``text``, ``visual``) register when
``screenstate.embeddings.builtins`` is imported (the factory does); ``clip`` is registered
lazily there (:func:`register_lazy`): its module, and torch, load when it is first named.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from screenstate.errors import UnknownNameError

if TYPE_CHECKING:  # the registry itself stays torch-free: containers built in Ray prepare tasks import it
    from screenstate.embeddings.base import Channel

C = TypeVar("C", bound="Channel[Any, Any]")
F = TypeVar("F")
E = TypeVar("E")


@dataclass(frozen=True)
class Runtime:
    """What every channel of one encoder shares: where and at what precision models run."""

    device: str = "auto"
    precision: str = "auto"


@dataclass(frozen=True, eq=False)
class ChannelKind(Generic[C, F, E]):
    """A registered channel: its name, its class and types, its options and how to build it.

    ``prepared``: the type(s) of one screen's prepared input (what the channel's
    ``preparer()`` returns); ``options``: a default-constructible settings type (a frozen
    dataclass or pydantic model), a field of ``EncoderOptions``; ``build(options, runtime)``
    makes the channel."""

    name: str
    channel: type[C]
    features: type[F]
    examples: type[E]
    prepared: tuple[type, ...]
    options: type
    build: Callable[[Any, Runtime], C]

    def __repr__(self) -> str:
        return f"ChannelKind({self.name!r})"


_CHANNELS: dict[str, ChannelKind[Any, Any, Any]] = {}
#: channels known by name whose module registers them when first needed (name -> module)
_LAZY: dict[str, str] = {}


def register_lazy(name: str, module: str) -> None:
    """Make channel ``name`` known now and import ``module`` (which registers it) only when
    it is first asked for: a channel needing torch costs nothing to the others."""
    if name not in _CHANNELS:
        _LAZY[name] = module


def register_channel(kind: ChannelKind[C, F, E]) -> ChannelKind[C, F, E]:
    """Register ``kind`` under its name (re-registering the same name replaces it, so a
    reloaded module stays usable); returns it, for a module-level constant."""
    if not kind.name.isidentifier():
        raise ValueError(f"channel name must be an identifier (it is a keyword of the containers), got {kind.name!r}")
    _CHANNELS[kind.name] = kind
    return kind


def channel_kind(name: str) -> ChannelKind[Any, Any, Any]:
    """The registered channel ``name`` (the built-ins register on first need, e.g. in a worker
    process that unpickled features); an unknown name is an error listing the registered ones."""
    if name not in _CHANNELS and name not in _LAZY:
        importlib.import_module("screenstate.embeddings.builtins")
    if name not in _CHANNELS and name in _LAZY:
        importlib.import_module(_LAZY[name])
    try:
        return _CHANNELS[name]
    except KeyError:
        raise UnknownNameError("channel", name, sorted(_CHANNELS)) from None


def registered_channels() -> tuple[str, ...]:
    """Names of the registered channels (lazy ones included), in registration order."""
    return tuple(dict.fromkeys([*_LAZY, *_CHANNELS]))


def is_channel(name: str) -> bool:
    return name in _CHANNELS or name in _LAZY


#: the named encoder configs (``text.json`` is ``--encoder text``)
CONFIG_DIR = Path(__file__).parent / "configs"


@cache
def encoder_configs() -> dict[str, dict[str, Any]]:
    """The named encoder configs by name; read here, torch-free, so listing them is instant."""
    return {p.stem: json.loads(p.read_text()) for p in sorted(CONFIG_DIR.glob("*.json"))}
