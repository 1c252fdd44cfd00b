"""The HTML report is a jinja2 template with autoescaping: names and messages from the
recording or the class file are shown as text, never run as HTML."""

from __future__ import annotations

from dataclasses import dataclass

from screenstate.batch.report import render_report


@dataclass
class _Result:
    state: str | None
    confidence: float

    def top(self, k):
        return [(self.state or "unknown", self.confidence)]


@dataclass
class _Row:
    path: str
    label: str | None
    result: _Result | None
    error: str | None = None


EVIL = "<img src=x onerror=alert(1)>"


def test_names_and_errors_are_escaped_and_every_frame_is_shown():
    rows = [
        _Row(f"/rec/{EVIL}.png", "login", _Result(EVIL, 0.9)),
        _Row("/rec/b.png", "login", _Result("login", 0.8)),
        _Row("/rec/c.png", "login", None, error=f"cannot decode {EVIL}"),
    ]
    metrics = {
        "accuracy": 1 / 3,
        "n": 3,
        "per_class": {"login": {"precision": 1.0, "recall": 0.33, "f1": 0.5, "support": 3}},
        "confusion": {"login": {"login": 1, EVIL: 1}, EVIL: {"login": 0, EVIL: 0}},
    }
    html = render_report(rows, "flat", metrics, ["login", EVIL])
    assert EVIL not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert html.count("class='tip'") == 3 and "Accuracy 0.333 (3 frames)" in html
    assert "<h2>Errors (2)</h2>" in html and "<h2>Unreadable frames</h2>" in html
    assert "<style>" in html and "body{font-family:system-ui,sans-serif" in html  # our CSS is not escaped
