"""What every evidence channel provides, so decision rules never see a model.

A channel turns screenshots into *image features* (cacheable, picklable) and examples
into *example features*, and maps a (features, examples) pair to a relevance matrix
R[image, example] in [0, 1] with a documented calibration. ``Channel[F, E]`` is generic
over its own frozen feature type ``F`` and example type ``E`` (``TextChannel`` is
``Channel[TextFeatures, TextExamples]``), so nothing outside the channel reads their
fields by string.

    prepared = channel.prepare(img)               # CPU work; threads / Ray tasks
    feats = channel.encode([prepared, ...])       # model work, batched
    R = channel.relevance(feats, channel.encode_examples(columns))   # float [images, examples]
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

import numpy as np
from PIL import Image

from screenstate.schema import Column

if TYPE_CHECKING:  # only the CLIP channel passes tensors; the default path imports no torch
    import torch

#: a channel's image feature type (one screen)
F = TypeVar("F")
#: a channel's example feature type (all columns of a class file)
E = TypeVar("E")
#: an array of similarities: numpy on the default path, a tensor inside the CLIP channel
A = TypeVar("A", np.ndarray, "torch.Tensor")


class Channel(ABC, Generic[F, E]):
    """One evidence channel (``clip``, ``text``, ``visual``)."""

    name: ClassVar[str]

    @property
    @abstractmethod
    def model_id(self) -> str:
        """Identifies the weights and settings that image features depend on (cache key)."""

    @abstractmethod
    def preparer(self) -> Callable[[Image.Image], Any]:
        """A picklable function doing :meth:`prepare` without the model (for Ray tasks)."""

    def prepare(self, img: Image.Image) -> Any:
        """CPU-side preprocessing of one RGB image; the result must be picklable."""
        return self.preparer()(img)

    @abstractmethod
    def encode(self, prepared: list[Any]) -> list[F]:
        """Image features for a batch of prepared images (one per input)."""

    @abstractmethod
    def encode_examples(
        self, columns: list[Column], augment: bool = True, image_features: Sequence[F] | None = None
    ) -> E:
        """Features of the example columns. ``image_features`` are this channel's features of
        the image columns, in column order (computed by the caller, which caches them);
        when None the channel encodes the exemplar files itself."""

    @abstractmethod
    def relevance(self, features: Sequence[F], examples: E) -> np.ndarray:
        """Calibrated relevance, float32 [len(features), n_columns] in [0, 1]."""

    @abstractmethod
    def dumps(self, feature: F) -> bytes:
        """Serialise one image feature for the on-disk cache."""

    @abstractmethod
    def loads(self, data: bytes) -> F:
        """Inverse of :meth:`dumps`."""

    def encode_images(self, images: list[Image.Image]) -> list[F]:
        """prepare + encode in one call (convenience for small inputs)."""
        return self.encode([self.prepare(im) for im in images])

    @abstractmethod
    def exemplar_vectors(self, examples: E) -> np.ndarray:
        """One unit vector per image exemplar, float32 [n_image_columns, D] (what a saved
        exemplar index holds; ``D`` is 1 when there are none)."""


def floor_relevance(similarity: A, floor: float) -> A:
    """The channels' one calibration of a similarity to a relevance: ``floor`` (the
    similarity of unrelated screens, fitted per channel: docs/CONSTANTS.md) maps to 0.5 and
    1 to 1, linearly; not clamped (callers clamp to [0, 1]).

    >>> floor_relevance(np.array([0.6, 0.8, 1.0], np.float32), 0.6)
    array([0.5 , 0.75, 1.  ], dtype=float32)
    """
    return 0.5 + 0.5 * (similarity - floor) / (1.0 - floor)
