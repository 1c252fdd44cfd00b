from __future__ import annotations

import numpy as np
import pytest

from screenstate.classifier.two_stage import class_max, predict, softmax_scores, two_stage_scores


def brute_force(rel, ex_class, ex_neg, n_classes):
    out = np.zeros((rel.shape[0], n_classes), np.float32)
    for v in range(rel.shape[0]):
        for j in range(n_classes):
            idx = [e for e in range(rel.shape[1]) if ex_class[e] == j]
            # argmax over P ∪ N; ties go to the negative (reference: pos must be strictly greater)
            best_pos = max((rel[v, e] for e in idx if not ex_neg[e]), default=np.float32(-np.inf))
            best_neg = max((rel[v, e] for e in idx if ex_neg[e]), default=np.float32(-np.inf))
            out[v, j] = best_pos if best_pos > best_neg else np.float32(1) - best_neg
    return out


@pytest.mark.parametrize("seed", range(25))
def test_matches_brute_force(seed):
    g = np.random.default_rng(seed)
    n_img = int(g.integers(1, 6))
    n_cls = int(g.integers(1, 6))
    n_ex = n_cls + int(g.integers(0, 10))
    ex_class = np.concatenate([np.arange(n_cls), g.integers(0, n_cls, n_ex - n_cls)])
    ex_neg = np.concatenate([np.zeros(n_cls, dtype=bool), g.random(n_ex - n_cls) < 0.5])
    rel = g.random((n_img, n_ex), dtype=np.float32)
    got = two_stage_scores(rel, ex_class, ex_neg, n_cls)
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, brute_force(rel, ex_class, ex_neg, n_cls))


def test_class_max_is_a_scatter_max_with_empty_classes_at_minus_inf():
    g = np.random.default_rng(3)
    values = g.random((4, 9), dtype=np.float32)
    cls = np.array([2, 0, 2, 4, 0, 0, 2, 4, 4])
    got = class_max(values, cls, 6)
    for j in range(6):
        want = values[:, cls == j].max(1) if (cls == j).any() else np.full(4, -np.inf, np.float32)
        np.testing.assert_array_equal(got[:, j], want)


def test_negative_nearest_gives_one_minus_d():
    rel = np.array([[0.60, 0.90, 0.70]], np.float32)
    got = two_stage_scores(rel, np.array([0, 0, 1]), np.array([False, True, False]), 2)
    np.testing.assert_allclose(got, [[0.10, 0.70]], atol=1e-6)
    assert int(got.argmax()) == 1


def test_tie_goes_to_negative_like_reference():
    rel = np.array([[0.8, 0.8]], np.float32)
    got = two_stage_scores(rel, np.array([0, 0]), np.array([False, True]), 1)
    np.testing.assert_allclose(got, [[0.2]], atol=1e-6)


def test_plain_zero_shot_when_no_negatives():
    rel = np.random.default_rng(1).random((4, 3), dtype=np.float32)
    got = two_stage_scores(rel, np.arange(3), np.zeros(3, dtype=bool), 3)
    np.testing.assert_array_equal(got, rel)


def test_batch_equals_one_by_one():
    rel = np.random.default_rng(7).random((9, 8), dtype=np.float32)
    ex_class = np.array([0, 1, 2, 0, 1, 2, 2, 0])
    ex_neg = np.array([False, False, False, True, True, False, True, True])
    batch = two_stage_scores(rel, ex_class, ex_neg, 3)
    single = np.concatenate([two_stage_scores(rel[i : i + 1], ex_class, ex_neg, 3) for i in range(9)])
    np.testing.assert_array_equal(batch, single)


_R = np.random.default_rng(0).random


@pytest.mark.parametrize(
    "rel, ex_class, ex_neg, n, match",
    [
        (_R(3), np.array([0, 0, 0]), np.zeros(3, dtype=bool), 1, "expected shape \\[images, examples\\]"),
        (_R((1, 3)), np.array([0, 0]), np.zeros(3, dtype=bool), 1, "example_class: expected shape"),
        (_R((1, 2)), np.array([0, 1]), np.array([False, True]), 2, "classes \\[1\\] have no positive"),
        (_R((1, 2)), np.array([0, 5]), np.zeros(2, dtype=bool), 2, "values must be in"),
        (_R((1, 2)), np.array([0.0, 1.0]), np.zeros(2, dtype=bool), 2, "dtype int64"),
    ],
)
def test_shape_and_value_errors(rel, ex_class, ex_neg, n, match):
    with pytest.raises(ValueError, match=match):
        two_stage_scores(rel, ex_class, ex_neg, n)


def test_softmax_and_predict_with_min_score():
    raw = np.array([[0.70, 0.60], [0.55, 0.50]], np.float32)
    s = softmax_scores(raw)
    assert s.dtype == np.float32
    np.testing.assert_allclose(s.sum(1), np.ones(2), rtol=1e-6)
    e = np.exp(raw[0].astype(np.float64) / 0.07)
    np.testing.assert_allclose(s[0], e / e.sum(), rtol=1e-5)
    idx, ok = predict(raw, np.array([0.6, np.nan], np.float32))
    assert idx.tolist() == [0, 0] and ok.tolist() == [True, False]
