"""The built-in channels and evidence sources, registered by importing their modules
(as timm's ``models/__init__`` imports every model module so each registers itself)."""

from __future__ import annotations

from screenstate.embeddings import clip, text, visual, words  # noqa: F401 - each registers itself

__all__: list[str] = []
