"""CSV for the review page: a recording's ``labels.csv`` in, label and segment exports out."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from screenstate.batch.metrics import read_labels_csv


def seconds(v: float | None) -> str:
    """A time in seconds with millisecond precision; empty when unknown.

    >>> seconds(1.23456), seconds(None)
    ('1.235', '')
    """
    return "" if v is None else f"{v:.3f}"


def csv_text(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """``header`` and ``rows`` as CSV text with ``\\n`` line ends.

    >>> csv_text(["a", "b"], [[1, "x,y"]])
    'a,b\\n1,"x,y"\\n'
    """
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue()


def read_truth(root: Path) -> dict[str, str]:
    """``ROOT/labels.csv`` (columns ``frame,state``) as {file name: state}; empty when absent."""
    return read_labels_csv(root)
