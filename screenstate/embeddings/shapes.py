"""Shape checks for feature types: errors say what was expected and what came.

>>> import numpy as np
>>> check_shape("clip.views", np.zeros((2, 3)), (None, 3))
>>> check_shape("clip.views", np.zeros((2, 4)), (None, 3))
Traceback (most recent call last):
...
ValueError: clip.views: expected shape (*, 3), got (2, 4)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def check_shape(what: str, array: Any, expected: Sequence[int | None]) -> None:
    """Raise a ValueError naming ``what`` unless ``array.shape`` matches ``expected``
    (``None`` matches any size)."""
    shape = tuple(array.shape)
    if len(shape) != len(expected) or any(e is not None and s != e for s, e in zip(shape, expected)):
        want = ", ".join("*" if e is None else str(e) for e in expected)
        raise ValueError(f"{what}: expected shape ({want}{',' if len(expected) == 1 else ''}), got {shape}")


def check_rows(what: str, n: int, expected: int, of: str) -> None:
    """Raise a ValueError naming ``what`` unless it has ``expected`` rows (one per ``of``)."""
    if n != expected:
        raise ValueError(f"{what}: expected {expected} rows (one per {of}), got {n}")
