"""The built-in channels and evidence sources, registered by importing their modules
(as timm's ``models/__init__`` imports every model module so each registers itself); the
``clip`` module (torch, open_clip) registers on first need, so the default channels start
without torch."""

from __future__ import annotations

from screenstate.embeddings.registry import register_lazy

register_lazy("clip", "screenstate.embeddings.clip")

from screenstate.embeddings import text, visual, words  # noqa: E402, F401 - each registers itself

__all__: list[str] = []
