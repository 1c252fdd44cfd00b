"""A sparse matrix of a few entries per row, in numpy: the text channel's idf weights of each
text example's content words (a dense [examples, vocabulary] matrix grows with classes squared).

>>> w = SparseRows.coalesce([0, 0, 1, 0], [2, 0, 1, 2], [1.0, 2.0, 3.0, 0.5], (2, 3))
>>> w.cols.tolist(), w.vals.tolist()  # sorted by (row, column), repeated entries added up
([0, 2, 1], [2.0, 1.5, 3.0])
>>> w.row_sums().tolist(), w.matvec(np.array([1.0, 0.0, 2.0], np.float32)).tolist()
([3.5, 3.0], [5.0, 0.0])
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, eq=False)
class SparseRows:
    """Entries (rows[k], cols[k]) = vals[k], sorted by (row, column), each position once."""

    rows: np.ndarray  # int64 [entries]
    cols: np.ndarray  # int64 [entries]
    vals: np.ndarray  # float32 [entries]
    shape: tuple[int, int]

    @classmethod
    def coalesce(
        cls, rows: Sequence[int], cols: Sequence[int], vals: Sequence[float], shape: tuple[int, int]
    ) -> SparseRows:
        """From COO entries in any order; repeated positions add up."""
        r, c = np.asarray(rows, np.int64), np.asarray(cols, np.int64)
        v = np.asarray(vals, np.float32)
        if not r.size:
            return cls(r, c, v, shape)
        if r.min() < 0 or r.max() >= shape[0] or c.min() < 0 or c.max() >= shape[1]:
            raise ValueError(f"SparseRows: an entry lies outside the shape {shape}")
        key = r * shape[1] + c
        order = np.argsort(key, kind="stable")
        key, v = key[order], v[order]
        first = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
        return cls(key[first] // shape[1], key[first] % shape[1], np.add.reduceat(v, first), shape)

    def row_sums(self) -> np.ndarray:
        """float32 [rows]."""
        out = np.zeros(self.shape[0], np.float32)
        np.add.at(out, self.rows, self.vals)
        return out

    def matvec(self, x: np.ndarray) -> np.ndarray:
        """``self @ x``, float32 [rows]: each row's entries added in column order."""
        out = np.zeros(self.shape[0], np.float32)
        np.add.at(out, self.rows, self.vals * x[self.cols])
        return out

    def row(self, i: int) -> np.ndarray:
        """Row ``i`` dense, float32 [columns]."""
        out = np.zeros(self.shape[1], np.float32)
        at = self.rows == i
        out[self.cols[at]] = self.vals[at]
        return out
