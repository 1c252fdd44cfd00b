from __future__ import annotations

import pytest
import torch

from screenstate.classifier.two_stage import predict, softmax_scores, two_stage_scores


def brute_force(rel, ex_class, ex_neg, n_classes):
    out = torch.zeros(rel.shape[0], n_classes)
    for v in range(rel.shape[0]):
        for j in range(n_classes):
            idx = [e for e in range(rel.shape[1]) if ex_class[e] == j]
            # argmax over P ∪ N; ties go to the negative (reference: pos must be strictly greater)
            best_pos = max((rel[v, e].item() for e in idx if not ex_neg[e]), default=float("-inf"))
            best_neg = max((rel[v, e].item() for e in idx if ex_neg[e]), default=float("-inf"))
            out[v, j] = best_pos if best_pos > best_neg else 1 - best_neg
    return out


@pytest.mark.parametrize("seed", range(25))
def test_matches_brute_force(seed):
    g = torch.Generator().manual_seed(seed)
    n_img = int(torch.randint(1, 6, (1,), generator=g))
    n_cls = int(torch.randint(1, 6, (1,), generator=g))
    n_ex = n_cls + int(torch.randint(0, 10, (1,), generator=g))
    ex_class = torch.cat([torch.arange(n_cls), torch.randint(0, n_cls, (n_ex - n_cls,), generator=g)])
    ex_neg = torch.cat([torch.zeros(n_cls, dtype=torch.bool), torch.rand(n_ex - n_cls, generator=g) < 0.5])
    rel = torch.rand(n_img, n_ex, generator=g)
    got = two_stage_scores(rel, ex_class, ex_neg, n_cls)
    torch.testing.assert_close(got, brute_force(rel, ex_class, ex_neg, n_cls))


def test_negative_nearest_gives_one_minus_d():
    rel = torch.tensor([[0.60, 0.90, 0.70]])
    got = two_stage_scores(rel, torch.tensor([0, 0, 1]), torch.tensor([False, True, False]), 2)
    torch.testing.assert_close(got, torch.tensor([[0.10, 0.70]]))
    assert int(got.argmax()) == 1


def test_tie_goes_to_negative_like_reference():
    rel = torch.tensor([[0.8, 0.8]])
    got = two_stage_scores(rel, torch.tensor([0, 0]), torch.tensor([False, True]), 1)
    torch.testing.assert_close(got, torch.tensor([[0.2]]))


def test_plain_zero_shot_when_no_negatives():
    rel = torch.rand(4, 3)
    got = two_stage_scores(rel, torch.arange(3), torch.zeros(3, dtype=torch.bool), 3)
    torch.testing.assert_close(got, rel)


def test_batch_equals_one_by_one():
    g = torch.Generator().manual_seed(7)
    rel = torch.rand(9, 8, generator=g)
    ex_class = torch.tensor([0, 1, 2, 0, 1, 2, 2, 0])
    ex_neg = torch.tensor([False, False, False, True, True, False, True, True])
    batch = two_stage_scores(rel, ex_class, ex_neg, 3)
    single = torch.cat([two_stage_scores(rel[i : i + 1], ex_class, ex_neg, 3) for i in range(9)])
    torch.testing.assert_close(batch, single)


@pytest.mark.parametrize(
    "rel, ex_class, ex_neg, n, match",
    [
        (
            torch.rand(3),
            torch.tensor([0, 0, 0]),
            torch.zeros(3, dtype=torch.bool),
            1,
            "expected shape \\[images, examples\\]",
        ),
        (torch.rand(1, 3), torch.tensor([0, 0]), torch.zeros(3, dtype=torch.bool), 1, "example_class: expected shape"),
        (torch.rand(1, 2), torch.tensor([0, 1]), torch.tensor([False, True]), 2, "classes \\[1\\] have no positive"),
        (torch.rand(1, 2), torch.tensor([0, 5]), torch.zeros(2, dtype=torch.bool), 2, "values must be in"),
        (torch.rand(1, 2), torch.tensor([0.0, 1.0]), torch.zeros(2, dtype=torch.bool), 2, "dtype torch.long"),
    ],
)
def test_shape_and_value_errors(rel, ex_class, ex_neg, n, match):
    with pytest.raises(ValueError, match=match):
        two_stage_scores(rel, ex_class, ex_neg, n)


def test_softmax_and_predict_with_min_score():
    raw = torch.tensor([[0.70, 0.60], [0.55, 0.50]])
    s = softmax_scores(raw)
    torch.testing.assert_close(s.sum(1), torch.ones(2))
    torch.testing.assert_close(s[0], torch.softmax(raw[0] / 0.07, 0))
    idx, ok = predict(raw, torch.tensor([0.6, float("nan")]))
    assert idx.tolist() == [0, 0] and ok.tolist() == [True, False]
