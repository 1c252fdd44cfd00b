"""evidence.explain names, for every class, the example whose relevance decided that
class's two-stage raw score, so the page's "why" always agrees with the scores."""

from __future__ import annotations

import pytest


def test_evidence_reproduces_every_raw_score(review_session):
    from screenstate.evidence import explain

    clf = review_session.clf
    for f in review_session.frames:
        ev = explain(clf, review_session.features[f.content_hash], clf.names)
        assert [e.class_name for e in ev] == clf.names
        for e in ev:
            assert e.raw_score == pytest.approx(f.result.raw_scores[e.class_name], abs=1e-5)
            col = clf.columns[e.column]
            assert clf.names[col.class_index] == e.class_name and col.is_negative == e.negative
            assert e.example_text == col.text and e.json_path == col.json_path


def test_evidence_for_an_image_exemplar_and_unknown_class(review_session):
    from screenstate.errors import UnknownNameError
    from screenstate.evidence import explain

    review_session.label(2, "login_page")  # frame 2 becomes its own exemplar
    f = review_session.frames[2]
    (ev,) = explain(review_session.clf, review_session.features[f.content_hash], ["login_page"])
    assert ev.example_image is not None and ev.example_image.name == "frame_002.png"
    assert ev.relevance == pytest.approx(1.0, abs=1e-3)  # a screen is identical to itself
    assert ev.lines and all(ln.similarity == pytest.approx(1.0, abs=1e-2) for ln in ev.lines)
    with pytest.raises(UnknownNameError, match="valid choices"):
        explain(review_session.clf, review_session.features[f.content_hash], ["nope"])
