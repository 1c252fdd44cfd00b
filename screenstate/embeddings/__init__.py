"""Evidence channels: images and examples -> calibrated relevance matrices.

Imports are lazy so light modules (``images``) load in worker processes without torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from screenstate.embeddings.factory import EncoderOptions, create_encoder, list_encoders

__all__ = ["EncoderOptions", "create_encoder", "list_encoders"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from screenstate.embeddings import factory

        return getattr(factory, name)
    raise AttributeError(f"module 'screenstate.embeddings' has no attribute {name!r}")
