"""Property tests of the cached-IoU-graph detection rule against torchvision's nms."""

from __future__ import annotations

import pytest
import torch
from torchvision.ops import nms

from screenstate.classifier.nms import iou_edges, suppress


def random_boxes(n: int, seed: int, spread: float = 200.0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    xy = torch.rand(n, 2, generator=g) * spread
    wh = torch.rand(n, 2, generator=g) * 40 + 2
    return torch.cat([xy, xy + wh], dim=1)


@pytest.mark.parametrize(
    "seed, n, n_cls, iou", [(0, 1200, 3, 0.5), (1, 1000, 2, 0.3), (2, 300, 5, 0.7), (3, 50, 1, 0.4)]
)
def test_no_negatives_equals_torchvision_nms_per_class(seed, n, n_cls, iou):
    boxes = random_boxes(n, seed)
    g = torch.Generator().manual_seed(100 + seed)
    pos = torch.rand(n, n_cls, generator=g)
    neg = torch.full((n, n_cls), float("-inf"))
    thr = torch.full((n_cls,), 0.2)
    got = suppress(boxes, pos, neg, thr, iou)
    for j in range(n_cls):
        m = pos[:, j] >= 0.2
        idx = torch.nonzero(m).flatten()
        ref = idx[nms(boxes[idx], pos[idx, j], iou)]
        assert got[j].tolist() == ref.tolist()


@pytest.mark.parametrize("seed", range(3))
def test_one_class_agnostic_changes_nothing(seed):
    boxes = random_boxes(400, seed)
    pos = torch.rand(400, 1, generator=torch.Generator().manual_seed(seed))
    neg = torch.rand(400, 1, generator=torch.Generator().manual_seed(seed + 9)) * 0.5
    thr = torch.tensor([0.3])
    a = suppress(boxes, pos, neg, thr, 0.5, class_agnostic=False)
    b = suppress(boxes, pos, neg, thr, 0.5, class_agnostic=True)
    assert a[0].tolist() == b[0].tolist()


def test_disjoint_classes_agnostic_changes_nothing():
    left = random_boxes(300, 4, spread=100)
    right = random_boxes(300, 5, spread=100) + torch.tensor([1000.0, 0, 1000, 0])
    boxes = torch.cat([left, right])
    g = torch.Generator().manual_seed(6)
    pos = torch.zeros(600, 2)
    pos[:300, 0] = torch.rand(300, generator=g)
    pos[300:, 1] = torch.rand(300, generator=g)
    neg = torch.zeros(600, 2)
    thr = torch.tensor([0.1, 0.1])
    a = suppress(boxes, pos, neg, thr, 0.4, class_agnostic=False)
    b = suppress(boxes, pos, neg, thr, 0.4, class_agnostic=True)
    assert [t.tolist() for t in a] == [t.tolist() for t in b]


@pytest.mark.parametrize("seed", range(5))
def test_negative_beating_positive_never_survives(seed):
    n, c = 500, 3
    boxes = random_boxes(n, seed)
    g = torch.Generator().manual_seed(50 + seed)
    pos, neg = torch.rand(n, c, generator=g), torch.rand(n, c, generator=g)
    got = suppress(boxes, pos, neg, torch.zeros(c), 0.5)
    edges = iou_edges(boxes, 0.5)
    for j in range(c):
        for b in got[j].tolist():
            assert pos[b, j] >= neg[b, j]
            nbrs = edges[1][edges[0] == b]
            assert all(pos[b, j] >= neg[d, j] for d in nbrs.tolist())


def test_class_agnostic_keeps_best_class_per_box_and_sorted_output():
    boxes = torch.tensor([[0, 0, 10, 10], [0, 0, 10, 9.5], [100, 100, 110, 110.0]])
    pos = torch.tensor([[0.9, 0.5], [0.2, 0.8], [0.3, 0.7]])
    neg = torch.zeros(3, 2)
    per_class = suppress(boxes, pos, neg, torch.tensor([0.1, 0.1]), 0.5)
    assert per_class[1].tolist() == [1, 2]  # sorted by descending score
    agnostic = suppress(boxes, pos, neg, torch.tensor([0.1, 0.1]), 0.5, class_agnostic=True)
    assert agnostic[0].tolist() == [0] and agnostic[1].tolist() == [2]


def test_shape_errors():
    with pytest.raises(ValueError, match="boxes: expected shape"):
        iou_edges(torch.zeros(3, 5), 0.5)
    with pytest.raises(ValueError, match="thresholds: expected shape"):
        suppress(torch.zeros(2, 4), torch.zeros(2, 2), torch.zeros(2, 2), torch.zeros(3), 0.5)


@pytest.mark.parametrize("seed, n, n_cls, iou", [(0, 400, 3, 0.5), (1, 300, 4, 0.3), (2, 200, 2, 0.7)])
@pytest.mark.parametrize("class_agnostic", [False, True])
def test_with_negatives_equals_torchvision_batched_nms_after_the_negatives_step(seed, n, n_cls, iou, class_agnostic):
    """Steps 2-3 on the cached graph give exactly torchvision's batched_nms (per class) and
    nms (across classes) over the boxes that survive step 1 (benchmarks/bench_nms.py times both)."""
    from torchvision.ops import batched_nms

    boxes = random_boxes(n, seed)
    g = torch.Generator().manual_seed(200 + seed)
    pos, neg = torch.rand(n, n_cls, generator=g), torch.rand(n, n_cls, generator=g) * 0.7
    thr = torch.full((n_cls,), 0.2)
    src, dst = iou_edges(boxes, iou)
    nbr_neg = torch.full_like(neg, float("-inf")).scatter_reduce(
        0, src.unsqueeze(1).expand(-1, n_cls), neg[dst], "amax", include_self=True
    )
    box_i, cls_i = torch.nonzero((pos >= thr) & (pos >= neg) & (pos >= nbr_neg), as_tuple=True)
    scores = pos[box_i, cls_i]
    kept = batched_nms(boxes[box_i], scores, cls_i, iou)
    if class_agnostic:
        kept = kept[nms(boxes[box_i[kept]], scores[kept], iou)]
    ref = [box_i[kept][cls_i[kept] == j].tolist() for j in range(n_cls)]
    assert [k.tolist() for k in suppress(boxes, pos, neg, thr, iou, class_agnostic=class_agnostic)] == ref
    assert any(ref)  # the case is not vacuous
