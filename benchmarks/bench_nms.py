"""nms_speedup: the cached-IoU-graph detection rule (classifier/nms.py: one IoU edge list
reused for negative suppression, per-class NMS and class-agnostic NMS) against a naive
pipeline measured in the same run: per class, a fresh IoU matrix to filter boxes by their
neighbours' negative scores, then torchvision.ops.nms.

The table also times ``torchvision_steps``: our negatives step, then
torchvision.ops.batched_nms (per class) and nms (class-agnostic) instead of the fixed
point on the cached graph -- the library alternative for steps 2 and 3, kept out of
classifier/nms.py while it is the slower one."""

from __future__ import annotations

import time

import torch
from run import result
from torchvision.ops import batched_nms, box_iou, nms

from screenstate.classifier.nms import iou_edges, suppress


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


def torchvision_steps(boxes, pos, neg, thr, iou_thr, class_agnostic=False):
    """Step 1 as in suppress (negatives over the cached edge list), steps 2-3 by torchvision."""
    n_cls = pos.shape[1]
    src, dst = torch.from_numpy(iou_edges(boxes.numpy(), iou_thr))
    nbr_neg = torch.full_like(neg, float("-inf"))
    if src.numel():
        nbr_neg = nbr_neg.scatter_reduce(0, src.unsqueeze(1).expand(-1, n_cls), neg[dst], "amax", include_self=True)
    box_i, cls_i = torch.nonzero((pos >= thr.unsqueeze(0)) & (pos >= neg) & (pos >= nbr_neg), as_tuple=True)
    scores = pos[box_i, cls_i]
    kept = batched_nms(boxes[box_i], scores, cls_i, iou_thr)
    if class_agnostic and n_cls > 1 and kept.numel():
        kept = kept[nms(boxes[box_i[kept]], scores[kept], iou_thr)]
    return [box_i[kept][cls_i[kept] == j] for j in range(n_cls)]  # kept is in descending score order


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
        arrays = tuple(t.numpy() for t in (boxes, pos, neg, thr))  # the rules take numpy (the references torch)
        ours = suppress(*arrays, 0.5)
        ref = naive(boxes, pos, neg, thr, 0.5)
        tv = torchvision_steps(boxes, pos, neg, thr, 0.5)
        same = all(a.tolist() == b.tolist() == t.tolist() for a, b, t in zip(ours, ref, tv))
        agn = suppress(*arrays, 0.5, class_agnostic=True)
        tv_agn = torchvision_steps(boxes, pos, neg, thr, 0.5, class_agnostic=True)
        same_agn = all(a.tolist() == t.tolist() for a, t in zip(agn, tv_agn))
        args = (boxes, pos, neg, thr)
        times: dict[str, list[float]] = {"ours": [], "naive": [], "tv": [], "ours_agn": [], "tv_agn": []}
        for _ in range(3):  # alternating, best of three: the machine is shared
            times["ours"].append(bench(lambda a=arrays: suppress(*a, 0.5), reps))
            times["naive"].append(bench(lambda a=args: naive(*a, 0.5), reps))
            times["tv"].append(bench(lambda a=args: torchvision_steps(*a, 0.5), reps))
            times["ours_agn"].append(bench(lambda a=arrays: suppress(*a, 0.5, class_agnostic=True), reps))
            times["tv_agn"].append(bench(lambda a=args: torchvision_steps(*a, 0.5, class_agnostic=True), reps))
        t = {k: min(v) for k, v in times.items()}
        rows.append(
            {
                "boxes x classes": f"{n} x {c}",
                "cached_graph_ms": 1000 * t["ours"],
                "naive_ms": 1000 * t["naive"],
                "speedup": t["naive"] / t["ours"],
                "torchvision_steps_ms": 1000 * t["tv"],
                "graph_vs_torchvision": t["tv"] / t["ours"],
                "agnostic_graph_ms": 1000 * t["ours_agn"],
                "agnostic_torchvision_ms": 1000 * t["tv_agn"],
                "agnostic_graph_vs_torchvision": t["tv_agn"] / t["ours_agn"],
                "same_result": same and same_agn,
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
