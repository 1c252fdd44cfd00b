"""The default VLM's architecture at its real size with random weights, built offline.

The builder lives in the library (``screenstate/vlm_random.py``: SmolVLM-256M-Instruct's
published hyperparameters, and a tiny variant for tests); this module keeps the name the
benchmarks use.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def smolvlm_256m_random(
    workdir: Path, max_new_tokens: int, precision: str = "auto", runtime: str = "torch"
) -> tuple[Any, int]:
    """(screenstate VLM wrapping the random real-size model, parameter count). Generation
    always runs exactly ``max_new_tokens`` steps (no early end token), so runs compare."""
    from screenstate.vlm_random import smolvlm_random

    return smolvlm_random(workdir, "256m", max_new_tokens, precision, runtime)
