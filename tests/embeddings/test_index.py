"""Exemplar retrieval: FAISS equals brute force; identical exemplars win or suppress."""

from __future__ import annotations

import json

import numpy as np
import pytest

from screenstate import ClassSpec, ScreenClassifier
from screenstate.embeddings.index import ExemplarIndex, build_index, search


def _unit(n, d, seed):
    x = np.random.default_rng(seed).standard_normal((n, d)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_exact_faiss_equals_brute_force_top_k():
    base, queries = _unit(3000, 64, 0), _unit(20, 64, 1)
    scores, ids = search(build_index(base, "exact"), queries, 10)
    brute = np.argsort(-(queries @ base.T), axis=1)[:, :10]
    assert (ids == brute).all()
    np.testing.assert_allclose(scores, np.take_along_axis(queries @ base.T, brute, 1), rtol=1e-5, atol=1e-5)


def test_hnsw_recall_is_high():
    base, queries = _unit(5000, 32, 2), _unit(50, 32, 3)
    _, approx = search(build_index(base, "hnsw"), queries, 10)
    exact = np.argsort(-(queries @ base.T), axis=1)[:, :10]
    recall = np.mean([len(set(a) & set(e)) / 10 for a, e in zip(approx, exact)])
    assert recall >= 0.95


def test_index_round_trip_and_manifest_check(tmp_path):
    vecs = _unit(10, 8, 4)
    idx = ExemplarIndex(vecs, list(range(10, 20)), "m1", [{"path": "a", "hash": "h"}])
    idx.save(tmp_path)
    again = ExemplarIndex.load(tmp_path, "m1", [{"path": "a", "hash": "h"}])
    assert again is not None and again.columns == idx.columns
    assert ExemplarIndex.load(tmp_path, "m2", [{"path": "a", "hash": "h"}]) is None  # model changed
    assert ExemplarIndex.load(tmp_path, "m1", [{"path": "a", "hash": "x"}]) is None  # exemplar changed
    _, cols = again.top(vecs[3:4], 1)
    assert cols[0, 0] == 13


def _spec(tmp_path, data_dir, negatives=False):
    for n in ("login_page", "error_dialog", "file_chooser"):
        (tmp_path / f"{n}.png").write_bytes((data_dir / f"{n}.png").read_bytes())
    spec = {
        "classifier_configs": [
            {
                "name": "login",
                "examples_to_include": ["a web page", {"image": "login_page.png"}],
                "examples_to_exclude": [{"image": "error_dialog.png"}] if negatives else [],
            },
            {"name": "error", "examples_to_include": ["a popup", {"image": "error_dialog.png"}]},
            {"name": "files", "examples_to_include": [{"image": "file_chooser.png"}]},
        ]
    }
    (tmp_path / "c.json").write_text(json.dumps(spec))
    return ClassSpec.from_json(tmp_path / "c.json")


@pytest.mark.parametrize("encoder_fixture", ["tiny_clip_encoder", "text_encoder"])
def test_identical_exemplar_wins_its_class(encoder_fixture, request, tmp_path, data_dir):
    clf = ScreenClassifier(_spec(tmp_path, data_dir), encoder=request.getfixturevalue(encoder_fixture))
    for name, cls in (("login_page", "login"), ("error_dialog", "error"), ("file_chooser", "files")):
        res = clf.classify(data_dir / f"{name}.png")
        assert res.pred == cls and res.raw_scores[cls] == pytest.approx(1.0, abs=1e-3)


@pytest.mark.parametrize("encoder_fixture", ["tiny_clip_encoder", "text_encoder"])
def test_identical_negative_exemplar_suppresses_class(encoder_fixture, request, tmp_path, data_dir):
    clf = ScreenClassifier(_spec(tmp_path, data_dir, negatives=True), encoder=request.getfixturevalue(encoder_fixture))
    res = clf.classify(data_dir / "error_dialog.png")
    assert res.raw_scores["login"] == pytest.approx(0.0, abs=1e-3)  # 1 - d of the identical negative
    assert res.pred == "error"


def test_text_retrieval_matches_full_comparison(text_encoder, tmp_path, data_dir):
    """More exemplars than RETRIEVE_PER_GROUP: the retrieved subset decides like the full set."""
    from screenstate.embeddings import retrieval as T

    ex_dir = tmp_path / "many"
    ex_dir.mkdir()
    src = data_dir / "login_page.png"
    from PIL import Image

    for i in range(T.RETRIEVE_PER_GROUP + 3):  # near-copies of the login screen, cropped differently
        im = Image.open(src).convert("RGB")
        im.crop((0, 0, im.size[0] - 40 * i, im.size[1])).save(ex_dir / f"l{i}.png")
    spec = {
        "classifier_configs": [
            {"name": "login", "examples_to_include": [{"exemplars": "many"}]},
            {"name": "files", "examples_to_include": ["a file chooser"]},
        ]
    }
    (tmp_path / "c.json").write_text(json.dumps(spec))
    clf = ScreenClassifier(ClassSpec.from_json(tmp_path / "c.json"), encoder=text_encoder)
    res = clf.classify(src)
    assert res.pred == "login" and res.raw_scores["login"] == pytest.approx(1.0, abs=1e-3)


def test_ivf_recall_is_high_on_clustered_vectors():
    """Exemplar sets are clusters of near-identical frames; IVF finds their neighbours."""
    rng = np.random.default_rng(5)
    centers = _unit(200, 32, 6)
    base = centers[rng.integers(0, 200, 20000)] + 0.05 * rng.standard_normal((20000, 32)).astype(np.float32)
    base /= np.linalg.norm(base, axis=1, keepdims=True)
    queries = base[:50] + 0.01 * rng.standard_normal((50, 32)).astype(np.float32)
    _, approx = search(build_index(base, "ivf"), queries, 10)
    exact = np.argsort(-(queries @ base.T), axis=1)[:, :10]
    assert np.mean([len(set(a) & set(e)) / 10 for a, e in zip(approx, exact)]) >= 0.9
