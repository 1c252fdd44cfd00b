"""Detection decisions on a cached IoU graph, vectorised.

One IoU edge list per image is computed at the NMS threshold and reused for every step:

1. a box survives for class j if ``pos >= threshold_j``, ``pos >= its own neg`` and
   ``pos >= the max neg of its IoU neighbours`` (a scatter-max over the edge list);
2. per-class greedy NMS over the survivors, on the same graph;
3. optional class-agnostic NMS across classes, again on the same graph.

Greedy NMS is computed as the fixed point of "a box is kept unless a kept neighbour
scores higher", iterated in parallel over all boxes and classes at once: after k rounds
the k best-ranked boxes are final, and in practice a handful of rounds settles every box
(no Python loop over boxes). With no negatives this equals ``torchvision.ops.nms`` per
class.
"""

from __future__ import annotations

import torch


def box_iou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Pairwise IoU [len(a), len(b)] of (x0, y0, x1, y1) boxes: torchvision.ops.box_iou's
    formula, here so the default install needs no torchvision (it comes with screenstate[clip])."""
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    lt = torch.max(a[:, None, :2], b[:, :2])
    rb = torch.min(a[:, None, 2:], b[:, 2:])
    wh = (rb - lt).clamp(min=0)
    inter = wh[..., 0] * wh[..., 1]
    return inter / (area_a[:, None] + area_b - inter)


def iou_edges(boxes: torch.Tensor, iou_threshold: float) -> torch.Tensor:
    """Directed edge list long [2, E] of box pairs (i != j) with IoU > ``iou_threshold``.

    boxes: float [boxes, 4] as (x0, y0, x1, y1).
    """
    if boxes.dim() != 2 or boxes.shape[-1] != 4:
        raise ValueError(f"boxes: expected shape [boxes, 4], got {tuple(boxes.shape)}")
    n = boxes.shape[0]
    if n == 0:
        return torch.zeros(2, 0, dtype=torch.long)
    iou = box_iou(boxes.float(), boxes.float())
    iou.fill_diagonal_(0.0)
    return torch.nonzero(iou > iou_threshold).T.contiguous()


def _greedy_fixed_point(
    scores: torch.Tensor, candidate: torch.Tensor, src: torch.Tensor, dst: torch.Tensor
) -> torch.Tensor:
    """Greedy NMS for every column at once.

    scores, candidate: [nodes, columns]; edges src -> dst mean "dst may suppress src".
    Returns bool [nodes, columns] kept.
    """
    n, c = scores.shape
    if src.numel() == 0:
        return candidate.clone()
    # dst outranks src: higher score, ties broken by lower index (as a stable sort would)
    s_src, s_dst = scores[src], scores[dst]
    outranks = (s_dst > s_src) | ((s_dst == s_src) & (dst < src).unsqueeze(1))
    relevant = outranks & candidate[src] & candidate[dst]  # [E, C]
    keep = candidate.clone()
    index = src.unsqueeze(1).expand(-1, c)
    for _ in range(n + 1):
        hit = (relevant & keep[dst]).to(torch.uint8)
        suppressed = torch.zeros(n, c, dtype=torch.uint8).scatter_reduce(0, index, hit, "amax", include_self=True)
        new = candidate & ~suppressed.bool()
        if torch.equal(new, keep):
            break
        keep = new
    return keep


def suppress(
    boxes: torch.Tensor,
    pos: torch.Tensor,
    neg: torch.Tensor,
    thresholds: torch.Tensor,
    iou_threshold: float,
    class_agnostic: bool = False,
) -> list[torch.Tensor]:
    """Kept box indices per class, each sorted by descending positive score.

    Args:
        boxes: float [boxes, 4] (x0, y0, x1, y1).
        pos: float [boxes, classes], best positive relevance per box and class.
        neg: float [boxes, classes], best negative relevance (-inf or 0 where none).
        thresholds: float [classes], detection threshold per class.
        iou_threshold: boxes with IoU above this are neighbours.
        class_agnostic: also suppress across classes.

    Returns:
        list (one per class) of long tensors of kept box indices.

    Example:
        >>> b = torch.tensor([[0, 0, 10, 10], [1, 1, 10, 10], [50, 50, 60, 60.]])
        >>> suppress(b, torch.tensor([[.9], [.8], [.7]]), torch.zeros(3, 1), torch.tensor([.5]), .5)
        [tensor([0, 2])]
    """
    n = boxes.shape[0]
    if pos.shape != neg.shape or pos.dim() != 2 or pos.shape[0] != n:
        raise ValueError(f"pos and neg: expected shape [{n}, classes], got {tuple(pos.shape)} and {tuple(neg.shape)}")
    n_cls = pos.shape[1]
    if thresholds.shape != (n_cls,):
        raise ValueError(f"thresholds: expected shape ({n_cls},), got {tuple(thresholds.shape)}")
    edges = iou_edges(boxes, iou_threshold)
    src, dst = edges[0], edges[1]
    pos, neg = pos.float(), neg.float()
    # 1. negatives: own, and the strongest among IoU neighbours
    nbr_neg = torch.full_like(neg, float("-inf"))
    if src.numel():
        nbr_neg = nbr_neg.scatter_reduce(0, src.unsqueeze(1).expand(-1, n_cls), neg[dst], "amax", include_self=True)
    survive = (pos >= thresholds.float().unsqueeze(0)) & (pos >= neg) & (pos >= nbr_neg)
    # 2. per-class greedy NMS on the same graph
    keep = _greedy_fixed_point(pos, survive, src, dst)
    # 3. class-agnostic NMS: nodes are (box, class) detections; neighbours share a box or an edge
    if class_agnostic and n_cls > 1 and bool(keep.any()):
        node_box, node_cls = torch.nonzero(keep, as_tuple=True)
        node_score = pos[node_box, node_cls].unsqueeze(1)
        m = node_box.numel()
        node_of = torch.full((n, n_cls), -1, dtype=torch.long)
        node_of[node_box, node_cls] = torch.arange(m)
        # pairs of nodes on the same box or on adjacent boxes
        box_src = torch.cat([src, torch.arange(n)])
        box_dst = torch.cat([dst, torch.arange(n)])
        a = node_of[box_src].unsqueeze(2).expand(-1, n_cls, n_cls)
        b = node_of[box_dst].unsqueeze(1).expand(-1, n_cls, n_cls)
        valid = (a >= 0) & (b >= 0) & (a != b)
        n_src, n_dst = a[valid], b[valid]
        kept_nodes = _greedy_fixed_point(node_score, torch.ones(m, 1, dtype=torch.bool), n_src, n_dst)[:, 0]
        keep = torch.zeros_like(keep)
        keep[node_box[kept_nodes], node_cls[kept_nodes]] = True
    out = []
    for j in range(n_cls):
        idx = torch.nonzero(keep[:, j]).flatten()
        order = torch.argsort(pos[idx, j], descending=True, stable=True)
        out.append(idx[order])
    return out
