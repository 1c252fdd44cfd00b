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

import numpy as np

from screenstate.classifier.two_stage import class_max


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise IoU [len(a), len(b)] of (x0, y0, x1, y1) boxes: torchvision.ops.box_iou's
    formula, here so the default install needs neither torch nor torchvision."""
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    lt = np.maximum(a[:, None, :2], b[:, :2])
    rb = np.minimum(a[:, None, 2:], b[:, 2:])
    wh = np.clip(rb - lt, 0, None)
    inter = wh[..., 0] * wh[..., 1]
    with np.errstate(invalid="ignore", divide="ignore"):
        return inter / (area_a[:, None] + area_b - inter)


def iou_edges(boxes: np.ndarray, iou_threshold: float) -> np.ndarray:
    """Directed edge list int64 [2, E] of box pairs (i != j) with IoU > ``iou_threshold``.

    boxes: float [boxes, 4] as (x0, y0, x1, y1).
    """
    if boxes.ndim != 2 or boxes.shape[-1] != 4:
        raise ValueError(f"boxes: expected shape [boxes, 4], got {tuple(boxes.shape)}")
    n = boxes.shape[0]
    if n == 0:
        return np.zeros((2, 0), dtype=np.int64)
    b = boxes.astype(np.float32)
    iou = box_iou(b, b)
    np.fill_diagonal(iou, 0.0)
    return np.stack(np.nonzero(iou > iou_threshold)).astype(np.int64)


def _scatter_any(n: int, src: np.ndarray, hit: np.ndarray) -> np.ndarray:
    """bool [n, columns]: per node, whether any edge from it has ``hit`` (bool [E, columns])."""
    out = np.zeros((n, hit.shape[1]), dtype=np.bool_)
    edge, col = np.nonzero(hit)
    out[src[edge], col] = True  # repeated indices all write True: a scatter-any
    return out


def _greedy_fixed_point(scores: np.ndarray, candidate: np.ndarray, src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Greedy NMS for every column at once.

    scores, candidate: [nodes, columns]; edges src -> dst mean "dst may suppress src".
    Returns bool [nodes, columns] kept.
    """
    n, _ = scores.shape
    if src.size == 0:
        return candidate.copy()
    # dst outranks src: higher score, ties broken by lower index (as a stable sort would)
    s_src, s_dst = scores[src], scores[dst]
    outranks = (s_dst > s_src) | ((s_dst == s_src) & (dst < src)[:, None])
    relevant = outranks & candidate[src] & candidate[dst]  # [E, C]
    keep = candidate.copy()
    for _ in range(n + 1):
        suppressed = _scatter_any(n, src, relevant & keep[dst])
        new = candidate & ~suppressed
        if np.array_equal(new, keep):
            break
        keep = new
    return keep


def suppress(
    boxes: np.ndarray,
    pos: np.ndarray,
    neg: np.ndarray,
    thresholds: np.ndarray,
    iou_threshold: float,
    class_agnostic: bool = False,
) -> list[np.ndarray]:
    """Kept box indices per class, each sorted by descending positive score.

    Args:
        boxes: float [boxes, 4] (x0, y0, x1, y1).
        pos: float [boxes, classes], best positive relevance per box and class.
        neg: float [boxes, classes], best negative relevance (-inf or 0 where none).
        thresholds: float [classes], detection threshold per class.
        iou_threshold: boxes with IoU above this are neighbours.
        class_agnostic: also suppress across classes.

    Returns:
        list (one per class) of int64 arrays of kept box indices.

    Example:
        >>> b = np.array([[0, 0, 10, 10], [1, 1, 10, 10], [50, 50, 60, 60.]], np.float32)
        >>> suppress(b, np.array([[.9], [.8], [.7]]), np.zeros((3, 1)), np.array([.5]), .5)
        [array([0, 2])]
    """
    n = boxes.shape[0]
    if pos.shape != neg.shape or pos.ndim != 2 or pos.shape[0] != n:
        raise ValueError(f"pos and neg: expected shape [{n}, classes], got {tuple(pos.shape)} and {tuple(neg.shape)}")
    n_cls = pos.shape[1]
    if thresholds.shape != (n_cls,):
        raise ValueError(f"thresholds: expected shape ({n_cls},), got {tuple(thresholds.shape)}")
    edges = iou_edges(boxes, iou_threshold)
    src, dst = edges[0], edges[1]
    pos, neg = pos.astype(np.float32), neg.astype(np.float32)
    # 1. negatives: own, and the strongest among IoU neighbours (a scatter-max over the edges)
    nbr_neg = class_max(neg[dst].T, src, n).T  # per box, the max over its IoU neighbours
    survive = (pos >= thresholds.astype(np.float32)[None, :]) & (pos >= neg) & (pos >= nbr_neg)
    # 2. per-class greedy NMS on the same graph
    keep = _greedy_fixed_point(pos, survive, src, dst)
    # 3. class-agnostic NMS: nodes are (box, class) detections; neighbours share a box or an edge
    if class_agnostic and n_cls > 1 and bool(keep.any()):
        node_box, node_cls = np.nonzero(keep)
        node_score = pos[node_box, node_cls][:, None]
        m = node_box.size
        node_of = np.full((n, n_cls), -1, dtype=np.int64)
        node_of[node_box, node_cls] = np.arange(m)
        # pairs of nodes on the same box or on adjacent boxes
        box_src = np.concatenate([src, np.arange(n)])
        box_dst = np.concatenate([dst, np.arange(n)])
        a = np.broadcast_to(node_of[box_src][:, :, None], (box_src.size, n_cls, n_cls))
        b = np.broadcast_to(node_of[box_dst][:, None, :], (box_dst.size, n_cls, n_cls))
        valid = (a >= 0) & (b >= 0) & (a != b)
        n_src, n_dst = a[valid], b[valid]
        kept_nodes = _greedy_fixed_point(node_score, np.ones((m, 1), dtype=np.bool_), n_src, n_dst)[:, 0]
        keep = np.zeros_like(keep)
        keep[node_box[kept_nodes], node_cls[kept_nodes]] = True
    out = []
    for j in range(n_cls):
        idx = np.flatnonzero(keep[:, j])
        order = np.argsort(-pos[idx, j], kind="stable")
        out.append(idx[order].astype(np.int64))
    return out
