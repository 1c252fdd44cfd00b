"""FAISS index over exemplar embeddings, for retrieval-augmented classes.

Exact inner product (``IndexFlatIP``) up to ``APPROX_ABOVE`` vectors, IVF-Flat past it
(``4 * sqrt(n)`` lists trained on a 64k sample, max(32, lists / 16) probed); HNSW (32 links, efSearch 128)
on request. Vectors are unit-norm, so inner product is cosine. faiss-gpu is
used when installed and a GPU is present (``pip install screenstate[gpu]``).

An index is saved next to the class file (``<classes>.index/``) with a manifest of the
model id and each exemplar's content hash, so it is rebuilt only when exemplars or the
model change.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from screenstate.hashing import file_hash

#: switch from exact search to IVF past this many vectors
APPROX_ABOVE = 50_000
IVF_PROBES = 32


def _faiss() -> Any:
    try:
        import faiss
    except ImportError as e:  # pragma: no cover - faiss-cpu is a dependency
        raise ImportError("exemplar retrieval needs FAISS: pip install faiss-cpu (or faiss-gpu)") from e
    return faiss


def build_index(vectors: np.ndarray, kind: str = "auto") -> Any:
    """A FAISS index over float32 [n, d] unit vectors: ``exact``, ``ivf``, ``hnsw`` or ``auto``."""
    faiss = _faiss()
    x = np.ascontiguousarray(vectors, dtype=np.float32)
    n, d = x.shape
    if kind == "auto":
        kind = "ivf" if n > APPROX_ABOVE else "exact"
    if kind == "exact":
        index = faiss.IndexFlatIP(d)
    elif kind == "ivf":
        nlist = max(1, int(4 * np.sqrt(n)))
        index = faiss.IndexIVFFlat(faiss.IndexFlatIP(d), d, nlist, faiss.METRIC_INNER_PRODUCT)
        sample = x[np.random.default_rng(0).choice(n, size=min(n, 64 * nlist, 65_536), replace=False)]
        index.train(sample)
        index.nprobe = min(nlist, max(IVF_PROBES, nlist // 16))
    elif kind == "hnsw":
        index = faiss.IndexHNSWFlat(d, 32, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = 80
        index.hnsw.efSearch = 128
    else:
        from screenstate.errors import UnknownNameError

        raise UnknownNameError("index kind", kind, ["auto", "exact", "ivf", "hnsw"])
    if kind == "exact" and hasattr(faiss, "StandardGpuResources") and faiss.get_num_gpus() > 0:
        index = faiss.index_cpu_to_gpu(faiss.StandardGpuResources(), 0, index)
    index.add(x)
    return index


def search(index: Any, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(scores float32 [q, k], ids int64 [q, k]); ids are -1 where fewer than k exist."""
    q = np.ascontiguousarray(queries, dtype=np.float32)
    return index.search(q, min(k, max(1, index.ntotal)))


@dataclass
class ExemplarIndex:
    """Exemplar vectors of one channel with their column numbers, searchable per class."""

    vectors: np.ndarray  # float32 [n, d]
    columns: list[int]  # relevance-matrix column of each vector
    model_id: str
    manifest: list[dict[str, Any]]
    index: Any = None

    def __post_init__(self) -> None:
        if self.index is None and len(self.vectors):
            self.index = build_index(self.vectors)

    def top(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Best k exemplars per query: (scores [q, k], column numbers [q, k], -1 padded)."""
        scores, ids = search(self.index, queries, k)
        cols = np.where(ids >= 0, np.asarray(self.columns, dtype=np.int64)[np.clip(ids, 0, None)], -1)
        return scores, cols

    # -- persistence -------------------------------------------------------------
    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        np.save(directory / "vectors.npy", self.vectors.astype(np.float32))
        (directory / "manifest.json").write_text(
            json.dumps({"model_id": self.model_id, "columns": self.columns, "exemplars": self.manifest}, indent=1)
        )

    @classmethod
    def load(cls, directory: Path, model_id: str, manifest: list[dict[str, Any]]) -> ExemplarIndex | None:
        """The saved index if it matches ``model_id`` and ``manifest`` exactly, else None."""
        try:
            meta = json.loads((directory / "manifest.json").read_text())
            if meta["model_id"] != model_id or meta["exemplars"] != manifest:
                return None
            vectors = np.load(directory / "vectors.npy")
        except (OSError, ValueError, KeyError):
            return None
        return cls(vectors, list(meta["columns"]), model_id, manifest)


def file_digest(path: Path) -> str:
    return file_hash(path, size=12)
