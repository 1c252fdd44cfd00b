"""The ``clip`` channel's types: options, features and examples (validated, frozen, picklable)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from screenstate.embeddings.defaults import DEFAULT_CLIP_MODEL, DEFAULT_CLIP_PRETRAINED
from screenstate.embeddings.shapes import check_rows, check_shape

if TYPE_CHECKING:  # tensors only inside the clip channel: the offline default imports no torch
    import torch


@dataclass(frozen=True)
class ClipFeatures:
    """One screen's unit view embeddings, float32 [views, D]: row 0 is the global (or
    only) view, the others are tiles (``views="tiles"``)."""

    views: torch.Tensor

    def __post_init__(self) -> None:
        check_shape("ClipFeatures.views", self.views, (None, None))
        if self.views.shape[0] == 0:
            raise ValueError("ClipFeatures.views: expected at least one view, got 0")


@dataclass(frozen=True)
class ClipExamples:
    """Example features: prompt-ensembled text embeddings [n_text, D] of the text columns,
    image embeddings [n_images, D] of the exemplar columns (None where there are none),
    and which columns are text (bool [n_columns])."""

    is_text: torch.Tensor
    text: torch.Tensor | None
    image: torch.Tensor | None

    def __post_init__(self) -> None:
        check_shape("ClipExamples.is_text", self.is_text, (None,))
        n_text = int(self.is_text.sum())
        for what, emb, n, of in (
            ("text", self.text, n_text, "text column"),
            ("image", self.image, self.is_text.shape[0] - n_text, "image column"),
        ):
            if emb is not None:
                check_shape(f"ClipExamples.{what}", emb, (None, None))
                check_rows(f"ClipExamples.{what}", emb.shape[0], n, of)
            elif n:
                raise ValueError(f"ClipExamples.{what}: expected {n} rows (one per {of}), got None")


@dataclass(frozen=True)
class ClipOptions:
    """Settings of the CLIP channel."""

    model: str = DEFAULT_CLIP_MODEL
    pretrained: str = DEFAULT_CLIP_PRETRAINED
    device: str = "auto"
    precision: str = "auto"
    views: str = "letterbox"
    templates: str = "screen"
    tile_rows: int = 2
    batch_size: int = 32
    allow_download: bool = True

    def __post_init__(self) -> None:
        if not 1 <= self.tile_rows <= 6 or self.batch_size < 1:
            raise ValueError(
                f"ClipOptions: tile_rows in [1, 6] and batch_size >= 1 are required, got {self.tile_rows}, {self.batch_size}"
            )
