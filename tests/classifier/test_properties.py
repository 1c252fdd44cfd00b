"""Property tests (hypothesis) for the decision rules: what holds for every input, not just
the table rows in test_two_stage.py / test_nms.py.

One property one might expect does NOT hold, by design: under the reference server's
``1 - d`` convention a new negative example can *raise* a class's score (best positive 0.3,
a negative at 0.35 becomes the nearest example: 1 - 0.35 = 0.65).
``test_a_negative_can_raise_a_score_under_the_reference_convention`` pins that down.
"""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from screenstate.classifier.fusion import fuse
from screenstate.classifier.nms import box_iou, suppress
from screenstate.classifier.two_stage import two_stage_scores

unit = st.floats(0.0, 1.0, allow_nan=False, width=32)
SETTINGS = settings(max_examples=60, deadline=None)


@st.composite
def problems(draw, max_images=4, max_classes=4, max_examples=8):
    """(relevance [images, examples], example_class, example_is_negative, n_classes), every
    class with at least one positive."""
    n_cls = draw(st.integers(1, max_classes))
    n_img = draw(st.integers(1, max_images))
    extra = draw(st.integers(0, max_examples))
    classes = list(range(n_cls)) + draw(st.lists(st.integers(0, n_cls - 1), min_size=extra, max_size=extra))
    negative = [False] * n_cls + draw(st.lists(st.booleans(), min_size=extra, max_size=extra))
    rel = draw(st.lists(st.lists(unit, min_size=len(classes), max_size=len(classes)), min_size=n_img, max_size=n_img))
    return np.array(rel, np.float32), np.array(classes, np.int64), np.array(negative, bool), n_cls


@SETTINGS
@given(problems())
def test_raw_scores_are_in_unit_interval(p):
    raw = two_stage_scores(*p)
    assert raw.shape == (p[0].shape[0], p[3]) and bool(((raw >= 0) & (raw <= 1)).all())


@SETTINGS
@given(problems(), st.randoms(use_true_random=False))
def test_example_and_image_order_do_not_matter(p, rnd):
    rel, cls, neg, n = p
    cols = list(range(rel.shape[1]))
    rows = list(range(rel.shape[0]))
    rnd.shuffle(cols)
    rnd.shuffle(rows)
    base = two_stage_scores(rel, cls, neg, n)
    shuffled = two_stage_scores(rel[rows][:, cols], cls[cols], neg[cols], n)
    np.testing.assert_array_equal(shuffled, base[rows])


@SETTINGS
@given(problems(), st.data())
def test_an_example_that_is_not_nearest_changes_nothing(p, data):
    """A new example (positive or negative) less relevant than its class's nearest example
    leaves every score as it was; other classes never move."""
    rel, cls, neg, n = p
    j = data.draw(st.integers(0, n - 1))
    is_neg = data.draw(st.booleans())
    nearest = rel[:, cls == j].max(axis=1)  # per image
    frac = data.draw(st.floats(0.0, 1.0))
    col = (nearest * np.float32(frac))[:, None]  # at most as relevant as the nearest
    base = two_stage_scores(rel, cls, neg, n)
    more = two_stage_scores(
        np.concatenate([rel, col], 1), np.concatenate([cls, [j]]), np.concatenate([neg, [is_neg]]), n
    )
    others = [k for k in range(n) if k != j]
    np.testing.assert_array_equal(more[:, others], base[:, others])
    # a tie with the best positive goes to the negative (reference rule): only strictly less is inert
    inert = col[:, 0] < nearest if is_neg else np.ones_like(nearest, dtype=bool)
    np.testing.assert_array_equal(more[inert], base[inert])


def test_a_negative_can_raise_a_score_under_the_reference_convention():
    rel = np.array([[0.3, 0.1]], np.float32)
    cls, neg = np.array([0, 0]), np.array([False, True])
    before = two_stage_scores(rel, cls, neg, 1)
    after = two_stage_scores(
        np.array([[0.3, 0.1, 0.35]], np.float32), np.array([0, 0, 0]), np.array([False, True, True]), 1
    )
    assert before.item() == np.float32(0.3) and abs(after.item() - 0.65) < 1e-6


@st.composite
def channel_sets(draw):
    shape = (draw(st.integers(1, 3)), draw(st.integers(1, 4)))
    n_ch = draw(st.integers(1, 4))
    maybe = st.one_of(unit, st.just(float("nan")))
    mats = {
        f"c{k}": np.array(
            draw(st.lists(st.lists(maybe, min_size=shape[1], max_size=shape[1]), min_size=shape[0], max_size=shape[0])),
            np.float32,
        )
        for k in range(n_ch)
    }
    weights = {k: draw(st.floats(0.05, 5.0)) for k in mats}
    return mats, weights


@SETTINGS
@given(channel_sets())
def test_fuse_is_a_weighted_mean_between_the_channels_and_order_free(cw):
    mats, weights = cw
    out = fuse(mats, weights)
    stack = np.stack(list(mats.values()))
    lo = np.where(np.isnan(stack), np.inf, stack).min(0)
    hi = np.where(np.isnan(stack), -np.inf, stack).max(0)
    seen = ~np.isnan(stack).all(0)
    assert bool(((out >= lo - 1e-6) & (out <= hi + 1e-6))[seen].all())
    assert bool((out[~seen] == 0).all())  # no channel saw it: no evidence
    reordered = fuse(dict(reversed(list(mats.items()))), weights)
    assert out.dtype == np.float32 and np.allclose(out, reordered, atol=1e-6)
    same = fuse({k: np.nan_to_num(next(iter(mats.values())), nan=0.5) for k in mats}, weights)
    assert np.allclose(same, np.nan_to_num(next(iter(mats.values())), nan=0.5), atol=1e-6)


@st.composite
def detections(draw):
    n = draw(st.integers(1, 12))
    n_cls = draw(st.integers(1, 3))
    xy = np.array(draw(st.lists(st.tuples(st.integers(0, 60), st.integers(0, 60)), min_size=n, max_size=n)))
    wh = np.array(draw(st.lists(st.tuples(st.integers(4, 40), st.integers(4, 40)), min_size=n, max_size=n)))
    boxes = np.concatenate([xy, xy + wh], 1).astype(np.float32)
    # distinct scores: greedy NMS is then independent of box order
    pos = np.random.default_rng(draw(st.integers(0, 10**6))).permutation(n * n_cls)
    pos = ((pos + 1) / (n * n_cls + 1)).astype(np.float32)
    neg = np.array(draw(st.lists(unit, min_size=n * n_cls, max_size=n * n_cls)), np.float32)
    neg = neg * np.float32(draw(st.sampled_from([0.0, 0.5])))
    iou = draw(st.sampled_from([0.3, 0.5, 0.7]))
    return boxes, pos.reshape(n, n_cls), neg.reshape(n, n_cls), np.full((n_cls,), 0.2, np.float32), iou


@SETTINGS
@given(detections(), st.booleans())
def test_kept_boxes_pass_their_rule_and_do_not_overlap(d, agnostic):
    boxes, pos, neg, thr, iou = d
    kept = suppress(boxes, pos, neg, thr, iou, class_agnostic=agnostic)
    all_kept = []
    for j, idx in enumerate(kept):
        assert bool((pos[idx, j] >= thr[j]).all() and (pos[idx, j] >= neg[idx, j]).all())
        np.testing.assert_array_equal(pos[idx, j], np.sort(pos[idx, j])[::-1])
        if len(idx) > 1:
            ov = box_iou(boxes[idx], boxes[idx])
            np.fill_diagonal(ov, 0)
            assert bool((ov <= iou).all())
        all_kept += idx.tolist()
    if agnostic:
        assert len(all_kept) == len(set(all_kept))  # a box is one class at most
        if len(all_kept) > 1:
            k = np.array(all_kept)
            ov = box_iou(boxes[k], boxes[k])
            np.fill_diagonal(ov, 0)
            assert bool((ov <= iou).all())


@SETTINGS
@given(detections(), st.booleans(), st.randoms(use_true_random=False))
def test_box_order_does_not_matter(d, agnostic, rnd):
    boxes, pos, neg, thr, iou = d
    order = list(range(boxes.shape[0]))
    rnd.shuffle(order)
    base = suppress(boxes, pos, neg, thr, iou, class_agnostic=agnostic)
    shuffled = suppress(boxes[order], pos[order], neg[order], thr, iou, class_agnostic=agnostic)
    assert [np.array(order)[s].tolist() for s in shuffled] == [b.tolist() for b in base]
