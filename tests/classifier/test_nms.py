"""Property tests of the cached-IoU-graph detection rule against torchvision's nms (the
reference: the tests comparing with it need torch and torchvision, from screenstate[clip])."""

from __future__ import annotations

import numpy as np
import pytest

from screenstate.classifier.nms import iou_edges, suppress


def _torch():
    """torch and torchvision.ops, the reference (skipped without the clip extra)."""
    torch = pytest.importorskip("torch")
    ops = pytest.importorskip("torchvision.ops")
    return torch, ops


def random_boxes(n: int, seed: int, spread: float = 200.0) -> np.ndarray:
    g = np.random.default_rng(seed)
    xy = g.random((n, 2), dtype=np.float32) * np.float32(spread)
    wh = g.random((n, 2), dtype=np.float32) * np.float32(40) + np.float32(2)
    return np.concatenate([xy, xy + wh], axis=1)


@pytest.mark.parametrize(
    "seed, n, n_cls, iou", [(0, 1200, 3, 0.5), (1, 1000, 2, 0.3), (2, 300, 5, 0.7), (3, 50, 1, 0.4)]
)
def test_no_negatives_equals_torchvision_nms_per_class(seed, n, n_cls, iou):
    torch, ops = _torch()
    boxes = random_boxes(n, seed)
    pos = np.random.default_rng(100 + seed).random((n, n_cls), dtype=np.float32)
    neg = np.full((n, n_cls), -np.inf, np.float32)
    thr = np.full((n_cls,), 0.2, np.float32)
    got = suppress(boxes, pos, neg, thr, iou)
    for j in range(n_cls):
        idx = np.flatnonzero(pos[:, j] >= np.float32(0.2))
        ref = idx[ops.nms(torch.from_numpy(boxes[idx]), torch.from_numpy(pos[idx, j]), iou).numpy()]
        assert got[j].tolist() == ref.tolist()


@pytest.mark.parametrize("seed", range(3))
def test_one_class_agnostic_changes_nothing(seed):
    boxes = random_boxes(400, seed)
    pos = np.random.default_rng(seed).random((400, 1), dtype=np.float32)
    neg = np.random.default_rng(seed + 9).random((400, 1), dtype=np.float32) * np.float32(0.5)
    thr = np.array([0.3], np.float32)
    a = suppress(boxes, pos, neg, thr, 0.5, class_agnostic=False)
    b = suppress(boxes, pos, neg, thr, 0.5, class_agnostic=True)
    assert a[0].tolist() == b[0].tolist()


def test_disjoint_classes_agnostic_changes_nothing():
    left = random_boxes(300, 4, spread=100)
    right = random_boxes(300, 5, spread=100) + np.array([1000.0, 0, 1000, 0], np.float32)
    boxes = np.concatenate([left, right])
    g = np.random.default_rng(6)
    pos = np.zeros((600, 2), np.float32)
    pos[:300, 0] = g.random(300, dtype=np.float32)
    pos[300:, 1] = g.random(300, dtype=np.float32)
    neg = np.zeros((600, 2), np.float32)
    thr = np.array([0.1, 0.1], np.float32)
    a = suppress(boxes, pos, neg, thr, 0.4, class_agnostic=False)
    b = suppress(boxes, pos, neg, thr, 0.4, class_agnostic=True)
    assert [t.tolist() for t in a] == [t.tolist() for t in b]


@pytest.mark.parametrize("seed", range(5))
def test_negative_beating_positive_never_survives(seed):
    n, c = 500, 3
    boxes = random_boxes(n, seed)
    g = np.random.default_rng(50 + seed)
    pos, neg = g.random((n, c), dtype=np.float32), g.random((n, c), dtype=np.float32)
    got = suppress(boxes, pos, neg, np.zeros(c, np.float32), 0.5)
    edges = iou_edges(boxes, 0.5)
    for j in range(c):
        for b in got[j].tolist():
            assert pos[b, j] >= neg[b, j]
            nbrs = edges[1][edges[0] == b]
            assert all(pos[b, j] >= neg[d, j] for d in nbrs.tolist())


def test_class_agnostic_keeps_best_class_per_box_and_sorted_output():
    boxes = np.array([[0, 0, 10, 10], [0, 0, 10, 9.5], [100, 100, 110, 110.0]], np.float32)
    pos = np.array([[0.9, 0.5], [0.2, 0.8], [0.3, 0.7]], np.float32)
    neg = np.zeros((3, 2), np.float32)
    per_class = suppress(boxes, pos, neg, np.array([0.1, 0.1], np.float32), 0.5)
    assert per_class[1].tolist() == [1, 2]  # sorted by descending score
    agnostic = suppress(boxes, pos, neg, np.array([0.1, 0.1], np.float32), 0.5, class_agnostic=True)
    assert agnostic[0].tolist() == [0] and agnostic[1].tolist() == [2]


def test_shape_errors():
    with pytest.raises(ValueError, match="boxes: expected shape"):
        iou_edges(np.zeros((3, 5), np.float32), 0.5)
    with pytest.raises(ValueError, match="thresholds: expected shape"):
        suppress(np.zeros((2, 4)), np.zeros((2, 2)), np.zeros((2, 2)), np.zeros(3), 0.5)


@pytest.mark.parametrize("seed, n, n_cls, iou", [(0, 400, 3, 0.5), (1, 300, 4, 0.3), (2, 200, 2, 0.7)])
@pytest.mark.parametrize("class_agnostic", [False, True])
def test_with_negatives_equals_torchvision_batched_nms_after_the_negatives_step(seed, n, n_cls, iou, class_agnostic):
    """Steps 2-3 on the cached graph give exactly torchvision's batched_nms (per class) and
    nms (across classes) over the boxes that survive step 1 (benchmarks/bench_nms.py times both)."""
    torch, ops = _torch()
    boxes = random_boxes(n, seed)
    g = np.random.default_rng(200 + seed)
    pos, neg = g.random((n, n_cls), dtype=np.float32), g.random((n, n_cls), dtype=np.float32) * np.float32(0.7)
    thr = np.full((n_cls,), 0.2, np.float32)
    src, dst = iou_edges(boxes, iou)
    nbr_neg = np.full_like(neg, -np.inf)
    for e in range(len(src)):  # the neighbours' strongest negative, one edge at a time
        nbr_neg[src[e]] = np.maximum(nbr_neg[src[e]], neg[dst[e]])
    box_i, cls_i = np.nonzero((pos >= thr) & (pos >= neg) & (pos >= nbr_neg))
    t_boxes, t_scores = torch.from_numpy(boxes[box_i]), torch.from_numpy(pos[box_i, cls_i])
    kept = ops.batched_nms(t_boxes, t_scores, torch.from_numpy(cls_i), iou).numpy()
    if class_agnostic:
        kept = kept[ops.nms(t_boxes[kept], t_scores[kept], iou).numpy()]
    ref = [box_i[kept][cls_i[kept] == j].tolist() for j in range(n_cls)]
    assert [k.tolist() for k in suppress(boxes, pos, neg, thr, iou, class_agnostic=class_agnostic)] == ref
    assert any(ref)  # the case is not vacuous
