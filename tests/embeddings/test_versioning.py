"""Feature versions are derived from settings and code: a real change is a new cache key,
a cosmetic one (docstring, comment) or another interpreter hash seed is not."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys

import pytest

from screenstate.embeddings.textnorm import SETTINGS, NormSettings
from screenstate.embeddings.versioning import feature_digest


def _respace_a(text: str) -> str:
    """One docstring."""
    return text.upper()  # a comment


def _respace_b(text: str) -> str:
    """Another docstring, same code."""
    return text.upper()


def _respace_c(text: str) -> str:
    return text.lower()


@pytest.mark.parametrize(
    "other, same",
    [
        (dataclasses.replace(SETTINGS, min_mean_piece=2.5), False),
        (dataclasses.replace(SETTINGS, short_words=SETTINGS.short_words | {"zz"}), False),
        (NormSettings(), True),
    ],
)
def test_settings_change_the_digest(other, same):
    assert (feature_digest(other) == feature_digest(SETTINGS)) is same


def test_code_changes_the_digest_but_docstrings_and_comments_do_not():
    assert feature_digest(SETTINGS, code=[_respace_a]) == feature_digest(SETTINGS, code=[_respace_b])
    assert feature_digest(SETTINGS, code=[_respace_a]) != feature_digest(SETTINGS, code=[_respace_c])


def test_digest_does_not_depend_on_the_hash_seed():
    """Settings hold frozensets, whose order follows the per-process string hash seed."""
    code = (
        "from screenstate.embeddings.textnorm import SETTINGS, FEATURE_CODE;"
        "from screenstate.embeddings.versioning import feature_digest;"
        "print(feature_digest(SETTINGS, code=FEATURE_CODE))"
    )
    out = {
        subprocess.run(
            [sys.executable, "-c", code],
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in ("1", "2", "3")
    }
    assert len(out) == 1


def test_text_model_id_carries_the_derived_version(text_encoder):
    from screenstate.embeddings.text import FEATURE_VERSION

    assert text_encoder.channels[0].model_id.startswith(f"text:v{FEATURE_VERSION}:")
