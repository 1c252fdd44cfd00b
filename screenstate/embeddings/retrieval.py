"""Screen-to-screen exemplar retrieval for the ``text`` channel.

Comparing a screen with every screenshot exemplar line by line is quadratic in lines and
linear in exemplars. Per (class, sign) group of exemplars, a FAISS index
(:class:`~screenstate.embeddings.index.ExemplarIndex`) over their page embeddings picks the
``RETRIEVE_PER_GROUP`` nearest; only those get the full (line-overlap) comparison, the
others get the group's lowest computed similarity, so they never win the max.

Each exemplar line also carries an idf weight over classes: a line (normalised text)
shown by exemplars of many classes (a desktop background, an "OK" button) says little
about any one class.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

import numpy as np

from screenstate.embeddings.index import ExemplarIndex
from screenstate.embeddings.textnorm import ClassIdf, line_key
from screenstate.schema import Column


class _Line(Protocol):
    @property
    def text(self) -> str: ...


class ReadScreen(Protocol):
    """What retrieval reads of a screen's text features (``text.TextFeatures`` is one)."""

    @property
    def lines(self) -> Sequence[_Line]: ...
    @property
    def page_emb(self) -> np.ndarray: ...


S = TypeVar("S", bound=ReadScreen)

#: exemplars compared in full per (class, sign) group; the rest are ranked by page embedding
RETRIEVE_PER_GROUP = 5


@dataclass(frozen=True)
class ExemplarRetrieval:
    """Exemplar groups (positions among the image columns) with their index (None for
    groups small enough to compare in full) and one idf weight per exemplar line."""

    groups: tuple[tuple[tuple[int, ...], ExemplarIndex | None], ...]
    line_weights: tuple[np.ndarray, ...]  # per exemplar, float32 [its lines]

    @classmethod
    def build(cls, image_cols: list[Column], feats: Sequence[ReadScreen], model_id: str) -> ExemplarRetrieval:
        if len(image_cols) != len(feats):
            raise ValueError(f"ExemplarRetrieval: expected {len(image_cols)} exemplar features, got {len(feats)}")
        by_group: dict[tuple[int, bool], list[int]] = {}
        for pos, c in enumerate(image_cols):
            by_group.setdefault((c.class_index, c.is_negative), []).append(pos)
        groups = []
        for members in by_group.values():
            index = None
            if len(members) > RETRIEVE_PER_GROUP:
                vecs = np.stack([feats[m].page_emb for m in members])
                index = ExemplarIndex(vecs, members, model_id, [])
            groups.append((tuple(members), index))
        keys = [[line_key(ln.text) for ln in f.lines] for f in feats]
        docs: dict[int, list[str]] = {}
        for c, ks in zip(image_cols, keys):
            docs.setdefault(c.class_index, []).extend(ks)
        idf = ClassIdf.of(docs)
        weights = tuple(np.array([idf(k) for k in ks], dtype=np.float32) for ks in keys)
        return cls(tuple(groups), weights)

    def similarities(
        self,
        f: S,
        exemplars: Sequence[S],
        full: Callable[[S, S, np.ndarray], float],
    ) -> np.ndarray:
        """Similarity of screen ``f`` to each exemplar, float [exemplars]; ``full`` is the
        channel's line-overlap comparison (screen, exemplar, exemplar line weights)."""
        sims = np.zeros(len(exemplars), np.float32)
        for members, index in self.groups:
            if index is None:
                chosen: list[int] | tuple[int, ...] = members
            else:
                _, cols = index.top(f.page_emb[None, :], RETRIEVE_PER_GROUP)
                chosen = [int(c) for c in cols[0] if c >= 0]
            vals = {m: full(f, exemplars[m], self.line_weights[m]) for m in chosen}
            floor = min(vals.values()) if vals else 0.0
            for m in members:
                sims[m] = vals.get(m, floor)
        return sims
