"""What a decision rule knows of a class file: its example columns and evidence sources.

A class file flattens into example *columns* (one per text prompt or screenshot exemplar,
each with its class and sign); every evidence source gives a relevance matrix
``R[image, column]`` in [0, 1] (NaN: no opinion). A rule sees only these arrays (numpy
float32: the default install needs no torch; the CLIP and OWL channels convert at their
boundary).

An evidence *source* is a typed value: a channel (``text``, ``visual``, ``clip``, or a
source derived from channels such as ``words``) scored against the class file's text
prompts or against its screenshot exemplars:

    >>> Source("text", Against.EXEMPLARS)
    Source(channel='text', against=<Against.EXEMPLARS: 'exemplars'>)
    >>> str(Source("visual", Against.EXEMPLARS))
    'visual:exemplars'
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Protocol

import numpy as np

#: per evidence source (a channel's name, or a derived source's), float32 [images, columns]
Relevance = Mapping[str, np.ndarray]


class Against(Enum):
    """What a source's columns are: the class file's text prompts or its screenshots."""

    PROMPTS = "prompts"
    EXEMPLARS = "exemplars"


@dataclass(frozen=True)
class Source:
    """One evidence source: a channel's relevance to one kind of example column."""

    channel: str
    against: Against

    def __str__(self) -> str:
        return f"{self.channel}:{self.against.value}"


class ColumnLike(Protocol):
    """What :meth:`ExampleColumns.of` reads of a column (``schema.Column`` is one)."""

    @property
    def class_index(self) -> int: ...
    @property
    def is_negative(self) -> bool: ...
    @property
    def image(self) -> object | None: ...


@dataclass(frozen=True)
class ExampleColumns:
    """Per column of a class file: its class, whether it is a negative example, whether it
    is a screenshot exemplar; and how many classes there are."""

    example_class: np.ndarray  # int64 [columns]
    is_negative: np.ndarray  # bool [columns]
    is_image: np.ndarray  # bool [columns]
    n_classes: int
    #: scene group per column, int64 [columns] (``classifier/pins.py`` ``instances``): the
    #: screenshots of one class in one scene (one dialog recorded in several frames of one
    #: session) share it; None: every column is its own
    instance: np.ndarray | None = None

    def __post_init__(self) -> None:
        n = self.example_class.shape
        if self.instance is not None and (self.instance.dtype != np.int64 or self.instance.shape != n):
            raise ValueError(f"instance: expected int64 {tuple(n)}, got {self.instance.dtype} {self.instance.shape}")
        if self.example_class.dtype != np.int64 or self.example_class.ndim != 1:
            raise ValueError(f"example_class: expected int64 [columns], got {self.example_class.dtype} {tuple(n)}")
        for what, t in (("is_negative", self.is_negative), ("is_image", self.is_image)):
            if t.dtype != np.bool_ or t.shape != n:
                raise ValueError(f"{what}: expected bool {tuple(n)}, got {t.dtype} {tuple(t.shape)}")

    @classmethod
    def of(cls, columns: Sequence[ColumnLike], n_classes: int, instance: np.ndarray | None = None) -> ExampleColumns:
        """The columns of a class file (``ClassSpec.columns()``)."""
        return cls(
            np.array([c.class_index for c in columns], dtype=np.int64),
            np.array([c.is_negative for c in columns], dtype=np.bool_),
            np.array([c.image is not None for c in columns], dtype=np.bool_),
            n_classes,
            instance,
        )

    def near_duplicates(self, rows: np.ndarray) -> np.ndarray:
        """bool [rows, columns]: each row's own column and the columns of its group (its
        class's screenshots of the same scene), which a leave-one-out comparison must leave
        out too."""
        own = np.zeros((len(rows), len(self)), dtype=np.bool_)
        own[np.arange(len(rows)), rows] = True
        if self.instance is not None:
            own |= self.instance[None, :] == self.instance[rows][:, None]
        return own

    def __len__(self) -> int:
        return int(self.example_class.shape[0])

    def subset(self, keep: np.ndarray) -> ExampleColumns:
        """The columns where ``keep`` (bool [columns]) is True."""
        inst = None if self.instance is None else self.instance[keep]
        return ExampleColumns(
            self.example_class[keep], self.is_negative[keep], self.is_image[keep], self.n_classes, inst
        )


def sources_of(relevance: Relevance, is_image: np.ndarray) -> dict[Source, np.ndarray]:
    """Split each channel's relevance into its prompt columns and its exemplar columns;
    columns a channel has no opinion on (NaN in every row) belong to no source. Returns
    source -> bool column mask, prompts before exemplars per channel."""
    out: dict[Source, np.ndarray] = {}
    for name, rel in relevance.items():
        has = ~np.isnan(rel).all(0) if rel.shape[0] else np.ones(rel.shape[1], dtype=np.bool_)
        for against, mask in ((Against.PROMPTS, ~is_image), (Against.EXEMPLARS, is_image)):
            cols = has & mask
            if bool(cols.any()):
                out[Source(name, against)] = cols
    return out
