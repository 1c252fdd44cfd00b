"""A channel defined outside the package: one module plus one registration.

``toy`` reads the mean colour of a screen. Text examples name a colour ("red", "green",
"blue"); screenshot exemplars are compared by their own mean colour. Relevance is
``1 - distance / sqrt(3)`` between unit-range RGB colours (0.5 is not "unrelated" here;
it is a toy), NaN for a text example that names no known colour.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image

from screenstate.embeddings.base import Channel
from screenstate.embeddings.images import load_image
from screenstate.embeddings.registry import ChannelKind, register_channel
from screenstate.embeddings.shapes import check_rows, check_shape
from screenstate.schema import Column

COLOURS = {"red": (1.0, 0.0, 0.0), "green": (0.0, 1.0, 0.0), "blue": (0.0, 0.0, 1.0)}


@dataclass(frozen=True)
class ToyOptions:
    side: int = 8  # screens are averaged on a side x side thumbnail


@dataclass(frozen=True)
class ToyFeatures:
    rgb: np.ndarray  # float32 [3] in [0, 1]

    def __post_init__(self) -> None:
        check_shape("ToyFeatures.rgb", self.rgb, (3,))


@dataclass(frozen=True)
class ToyExamples:
    rgb: np.ndarray  # float32 [columns, 3], NaN rows: no colour

    def __post_init__(self) -> None:
        check_shape("ToyExamples.rgb", self.rgb, (None, 3))


def _thumbnail(img: Image.Image, side: int) -> Image.Image:
    return img.convert("RGB").resize((side, side))


def _mean(img: Image.Image) -> np.ndarray:
    return (np.asarray(img, dtype=np.float32).reshape(-1, 3).mean(0) / 255.0).astype(np.float32)


class ToyChannel(Channel[ToyFeatures, ToyExamples]):
    name = "toy"

    def __init__(self, options: ToyOptions) -> None:
        self.options = options

    @property
    def model_id(self) -> str:
        return f"toy:mean-rgb:{self.options.side}"

    def preparer(self) -> Callable[[Image.Image], Image.Image]:
        return functools.partial(_thumbnail, side=self.options.side)

    def encode(self, prepared: list[Image.Image]) -> list[ToyFeatures]:
        return [ToyFeatures(_mean(p)) for p in prepared]

    def encode_examples(
        self, columns: list[Column], augment: bool = True, image_features: Sequence[ToyFeatures] | None = None
    ) -> ToyExamples:
        image_cols = [c for c in columns if c.image is not None]
        if image_features is None:
            image_features = self.encode([self.prepare(load_image(c.image)) for c in image_cols if c.image])
        check_rows("toy exemplar features", len(image_features), len(image_cols), "image column")
        shots = iter(image_features)
        rows = [
            next(shots).rgb if c.image is not None else np.array(COLOURS.get(str(c.text), (np.nan,) * 3), np.float32)
            for c in columns
        ]
        return ToyExamples(np.stack(rows).astype(np.float32) if rows else np.zeros((0, 3), np.float32))

    def relevance(self, features: Sequence[ToyFeatures], examples: ToyExamples) -> np.ndarray:
        screens = np.stack([f.rgb for f in features])
        dist = np.linalg.norm(screens[:, None, :] - examples.rgb[None, :, :], axis=-1)  # NaN rows stay NaN
        return (1.0 - dist / 3**0.5).astype(np.float32)

    def dumps(self, feature: ToyFeatures) -> bytes:
        return feature.rgb.astype(np.float32).tobytes()

    def loads(self, data: bytes) -> ToyFeatures:
        return ToyFeatures(np.frombuffer(data, dtype=np.float32).copy())

    def exemplar_vectors(self, examples: ToyExamples) -> np.ndarray:
        rgb = examples.rgb[~np.isnan(examples.rgb).any(1)]
        return rgb / np.maximum(np.linalg.norm(rgb, axis=1, keepdims=True), 1e-6) if len(rgb) else np.zeros((0, 1))


#: the one registration
TOY = register_channel(
    ChannelKind("toy", ToyChannel, ToyFeatures, ToyExamples, (Image.Image,), ToyOptions, lambda o, rt: ToyChannel(o))
)
