"""docs/CONSTANTS.md names every fitted constant with its value and the benchmark that chose
it; each row must be the code's value (the table cannot go stale)."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

TABLE = Path(__file__).resolve().parents[1] / "docs" / "CONSTANTS.md"
ROW = re.compile(r"^\| `([\w.]+)` \| ([^|]+) \| ([^|]+) \|")


def _rows() -> list[tuple[str, str, str]]:
    rows = [m.groups() for line in TABLE.read_text().splitlines() if (m := ROW.match(line))]
    return [(name, value.strip(), bench.strip()) for name, value, bench in rows]


def test_the_table_lists_the_fitted_constants():
    names = {r[0] for r in _rows()}
    assert {"embeddings.text.WORD_PRIOR", "classifier.fewshot.NEGATIVE_PROMPTS", "embeddings.visual.FLOOR"} <= names


@pytest.mark.parametrize(("name", "value", "chosen_by"), _rows())
def test_each_row_is_the_value_in_the_code(name, value, chosen_by):
    module, attr = name.rsplit(".", 1)
    got = getattr(importlib.import_module(f"screenstate.{module}"), attr)
    assert repr(got) == value, f"docs/CONSTANTS.md says {name} = {value}, the code has {got!r}"
    assert chosen_by, f"{name}: name the benchmark that chose it (or say it is not fitted)"
