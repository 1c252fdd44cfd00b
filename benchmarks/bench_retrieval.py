"""retrieval_scaling: FAISS query time for 10k, 100k and 1M random 512-d unit vectors:
exact (IndexFlatIP) against approximate indexes (IVF-Flat, the default past 50k vectors,
at its default probe count and at 4x that; HNSW up to 100k, where building it on 2 cores
stays under a couple of minutes), with recall@10 against the exact result (same run).
Uniform random vectors are the worst case for approximate search: every query's ten
"nearest" neighbours are barely nearer than the rest. Real exemplar sets are clusters of
near-identical frames, so the same sizes are also measured on clustered random vectors
(clusters of 50 around random centres, members at cosine ~0.8 to their centre, queries
drawn the same way), where the ten nearest neighbours are meaningful."""

from __future__ import annotations

import time

import numpy as np
from run import result


def _unit(n, d, rng):
    x = rng.standard_normal((n, d), dtype=np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x


def _clustered(n, d, rng, centres=None):
    """Unit vectors in clusters of 50 around random centres (cosine ~0.8 to the centre)."""
    if centres is None:
        centres = _unit(max(1, n // 50), d, rng)
    x = centres[rng.integers(0, len(centres), n)] + 0.75 * _unit(n, d, rng)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x.astype(np.float32), centres


def _time_search(index, queries, k=10):
    from screenstate.embeddings.index import search

    search(index, queries[:5], k)
    t = time.perf_counter()
    _, ids = search(index, queries, k)
    return (time.perf_counter() - t) / len(queries), ids


def run(quick: bool) -> dict:
    from screenstate.embeddings.index import build_index

    rng = np.random.default_rng(0)
    sizes = (10_000, 100_000) if quick else (10_000, 100_000, 1_000_000)
    rows = []
    for data, n in [(d, n) for d in ("uniform", "clustered") for n in sizes]:
        if data == "uniform":
            base, queries = _unit(n, 512, rng), _unit(100, 512, rng)
        else:
            base, centres = _clustered(n, 512, rng)
            queries, _ = _clustered(100, 512, rng, centres)
        exact_s, exact_ids = _time_search(build_index(base, "exact"), queries)
        variants = []
        t = time.perf_counter()
        ivf = build_index(base, "ivf")
        ivf_build = time.perf_counter() - t
        variants.append((f"ivf nprobe={ivf.nprobe}", ivf, ivf_build))
        variants.append((f"ivf nprobe={min(ivf.nlist, 4 * ivf.nprobe)}", None, ivf_build))
        if n <= 100_000:
            t = time.perf_counter()
            variants.append(("hnsw efSearch=128", build_index(base, "hnsw"), time.perf_counter() - t))
        for name, idx, build_s in variants:
            if idx is None:
                ivf.nprobe = min(ivf.nlist, 4 * ivf.nprobe)
                idx = ivf
            secs, ids = _time_search(idx, queries)
            recall = float(np.mean([len(set(a) & set(e)) / 10 for a, e in zip(ids, exact_ids)]))
            rows.append(
                {
                    "data": data,
                    "vectors": n,
                    "index": name,
                    "ms_per_query": 1000 * secs,
                    "exact_ms_per_query": 1000 * exact_s,
                    "speedup": exact_s / secs,
                    "recall_at_10": recall,
                    "build_s": build_s,
                }
            )
        del base, ivf
    last = [r for r in rows if r["vectors"] == sizes[-1] and r["data"] == "uniform"][0]
    clustered = [r for r in rows if r["vectors"] == sizes[-1] and r["data"] == "clustered"][0]
    out = result(
        "retrieval_scaling",
        f"ms per query (IVF default, {last['vectors']:,} vectors)",
        last["ms_per_query"],
        "exact IndexFlatIP",
        last["exact_ms_per_query"],
        higher_is_better=False,
        dim=512,
        queries=100,
        k=10,
        recall_at_10_uniform=last["recall_at_10"],
        recall_at_10_clustered=clustered["recall_at_10"],
        clustered_ms_per_query=clustered["ms_per_query"],
        clustered_speedup=clustered["speedup"],
    )
    out["table"] = rows
    out["notes"] = (
        "uniform: random unit vectors and queries (every neighbour is about as far as any other: "
        "the worst case for approximate search); clustered: clusters of 50 at cosine ~0.8 to a random "
        "centre, queries drawn the same way (like frames of one state). IVF is the default past 50k."
    )
    return out
