"""Evidence sources beyond the channels, registered like channels (``registry.py``).

A channel scores screens against a class file's examples by itself. An *exemplar source*
is built from a class file's screenshot exemplars and the channels' features of them, and
then scores screens by their features (``words``: the word overlap of OCR'd screens, in
``words.py``). ``ScreenClassifier`` builds every registered source whose ``build`` returns
one for its encoder and class file; its decision rule decides whether it reads it (the
few-shot rule calibrates it on the exemplars; the two-stage rule reads channels only).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from screenstate.embeddings.encoder import Encoder
from screenstate.embeddings.features import ScreenFeatures
from screenstate.schema import Column


class ExemplarSource(Protocol):
    """Relevance of screens to a class file's columns, float [screens, columns] in [0, 1],
    NaN on the columns it has no opinion on."""

    def relevance(self, features: Sequence[ScreenFeatures]) -> np.ndarray: ...


@dataclass(frozen=True, eq=False)
class SourceKind:
    """A registered exemplar source: ``build(columns, exemplar_features, encoder)`` gives
    the source for a class file (``exemplar_features``: the encoder's features of its image
    columns, in column order), or None when the encoder lacks what it needs."""

    name: str
    build: Callable[[Sequence[Column], Sequence[ScreenFeatures], Encoder], ExemplarSource | None]


_SOURCES: dict[str, SourceKind] = {}


def register_source(kind: SourceKind) -> SourceKind:
    """Register ``kind`` under its name (which must not be a channel's)."""
    _SOURCES[kind.name] = kind
    return kind


def exemplar_sources(
    columns: Sequence[Column], exemplar_features: Sequence[ScreenFeatures], encoder: Encoder
) -> dict[str, ExemplarSource]:
    """Every registered source that applies to this class file and encoder, by name."""
    out: dict[str, ExemplarSource] = {}
    for name, kind in _SOURCES.items():
        source = kind.build(columns, exemplar_features, encoder)
        if source is not None:
            out[name] = source
    return out
