"""nms_speedup: the cached-IoU-graph detection rule (classifier/nms.py: one IoU edge list
reused for negative suppression, per-class NMS and class-agnostic NMS) against a naive
pipeline measured in the same run: per class, a fresh IoU matrix to filter boxes by their
neighbours' negative scores, then torchvision.ops.nms."""

from __future__ import annotations

import time

import torch
from run import result
from torchvision.ops import box_iou, nms

from screenstate.classifier.nms import suppress


def naive(boxes, pos, neg, thr, iou_thr):
    out = []
    for j in range(pos.shape[1]):
        iou = box_iou(boxes, boxes)
        iou.fill_diagonal_(0)
        adj = iou > iou_thr
        nbr_neg = torch.where(adj, neg[:, j].unsqueeze(0).expand(len(boxes), -1), torch.tensor(float("-inf"))).amax(1)
        ok = (pos[:, j] >= thr[j]) & (pos[:, j] >= neg[:, j]) & (pos[:, j] >= nbr_neg)
        idx = torch.nonzero(ok).flatten()
        out.append(idx[nms(boxes[idx], pos[idx, j], iou_thr)])
    return out


def case(n, c, seed=0):
    g = torch.Generator().manual_seed(seed)
    xy = torch.rand(n, 2, generator=g) * 1000
    wh = torch.rand(n, 2, generator=g) * 120 + 10
    boxes = torch.cat([xy, xy + wh], 1)
    return boxes, torch.rand(n, c, generator=g), torch.rand(n, c, generator=g) * 0.6, torch.full((c,), 0.3)


def bench(fn, reps):
    fn()
    t = time.perf_counter()
    for _ in range(reps):
        fn()
    return (time.perf_counter() - t) / reps


def run(quick: bool) -> dict:
    reps = 5 if quick else 20
    rows = []
    for n, c in ((300, 50), (1000, 10)):
        boxes, pos, neg, thr = case(n, c)
        ours = suppress(boxes, pos, neg, thr, 0.5)
        ref = naive(boxes, pos, neg, thr, 0.5)
        same = all(a.tolist() == b.tolist() for a, b in zip(ours, ref))
        t_ours = bench(lambda a=(boxes, pos, neg, thr): suppress(*a, 0.5), reps)
        t_naive = bench(lambda a=(boxes, pos, neg, thr): naive(*a, 0.5), reps)
        rows.append(
            {
                "boxes x classes": f"{n} x {c}",
                "cached_graph_ms": 1000 * t_ours,
                "naive_ms": 1000 * t_naive,
                "speedup": t_naive / t_ours,
                "same_result": same,
            }
        )
    worst = min(rows, key=lambda r: r["speedup"])
    out = result(
        "nms_speedup",
        "ms (cached graph, worst case)",
        worst["cached_graph_ms"],
        "naive per-class pipeline",
        worst["naive_ms"],
        higher_is_better=False,
        reps=reps,
        iou_threshold=0.5,
    )
    out["table"] = rows
    return out
