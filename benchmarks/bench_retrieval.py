"""retrieval_scaling: FAISS query time for 10k, 100k and 1M random 512-d unit vectors,
exact (IndexFlatIP) against approximate (HNSW, used past 50k vectors), and recall@10 of
the approximate index against the exact one (same run)."""

from __future__ import annotations

import time

import numpy as np
from run import result


def _unit(n, d, rng):
    x = rng.standard_normal((n, d), dtype=np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x


def run(quick: bool) -> dict:
    from screenstate.embeddings.index import build_index, search

    rng = np.random.default_rng(0)
    sizes = (10_000, 100_000) if quick else (10_000, 100_000, 1_000_000)
    queries = _unit(100, 512, rng)
    rows = []
    for n in sizes:
        base = _unit(n, 512, rng)
        exact = build_index(base, "exact")
        t0 = time.perf_counter()
        approx = build_index(base, "ivf")
        build_s = time.perf_counter() - t0
        timings = {}
        for name, idx in (("exact", exact), ("ivf", approx)):
            search(idx, queries[:5], 10)
            t = time.perf_counter()
            _, ids = search(idx, queries, 10)
            timings[name] = ((time.perf_counter() - t) / len(queries), ids)
        recall = float(np.mean([len(set(a) & set(e)) / 10 for a, e in zip(timings["ivf"][1], timings["exact"][1])]))
        rows.append(
            {
                "vectors": n,
                "exact_ms_per_query": 1000 * timings["exact"][0],
                "ivf_ms_per_query": 1000 * timings["ivf"][0],
                "ivf_recall_at_10": recall,
                "ivf_build_s": build_s,
            }
        )
        del base, exact, approx
    last = rows[-1]
    out = result(
        "retrieval_scaling",
        f"ms per query (IVF, {last['vectors']:,} vectors)",
        last["ivf_ms_per_query"],
        "exact IndexFlatIP",
        last["exact_ms_per_query"],
        higher_is_better=False,
        dim=512,
        queries=100,
        k=10,
    )
    out["table"] = rows
    return out
