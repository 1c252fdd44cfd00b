"""The ``clip`` channel: open_clip image and text embeddings of whole screens.

Relevance of a text example t to a screen v is the reference server's ``(1 + cos) / 2``
with prompt ensembling (template embeddings averaged, then renormalised). With
``views="tiles"`` the relevance is pooled over views as
``0.5 * global + 0.5 * max(tiles)``: the global view keeps layout, the best tile keeps
small text and small dialogs.

Image exemplars are compared image-to-image on the global view, with ``(1 + cos) / 2``
rescaled (see :func:`image_relevance`) because two screenshots are always far more alike
to CLIP than a screenshot and a sentence.

Weights come from a local checkpoint path, the Hugging Face / open_clip cache, or (only
for an explicit ``encoder="clip"``, and only when the hub answers within seconds) a
download. ``pretrained="random"`` builds the architecture with random weights (tests and
speed benchmarks).

``precision="auto"`` on CPU measures torch fp32 against torch bf16 (where the CPU has
native bf16) and OpenVINO fp32 / bf16 (where installed), for the image tower on a batch of
8 images at the model's input size and for the text tower on a batch of prompts, the first
time a model is loaded, and keeps a candidate only if it is faster and every embedding
keeps a cosine of at least ``CLIP_AGREEMENT`` with fp32's (``clip_runtime.py``; the choices
are cached per machine). On GPU ``auto`` is fp16.
"""

from __future__ import annotations

import dataclasses
import functools
import io
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from screenstate.embeddings import clip_runtime
from screenstate.embeddings.base import Channel, floor_relevance
from screenstate.embeddings.calibrate import CalibrationKey, Choice, isa_class, record_use, thread_budget
from screenstate.embeddings.clip_features import ClipExamples, ClipFeatures, ClipOptions
from screenstate.embeddings.clip_runtime import CLIP_AGREEMENT, DTYPES, min_cosine  # noqa: F401 - public names
from screenstate.embeddings.clip_weights import (  # noqa: F401 - public names
    cached_clip_weights,
    clip_available,
    missing_weights_message,
)
from screenstate.embeddings.hub import hub_reachable
from screenstate.embeddings.images import ViewMode, load_image, make_views, parse_view_mode
from screenstate.embeddings.registry import ChannelKind, Runtime, register_channel
from screenstate.embeddings.templates import get_templates
from screenstate.errors import ModelNotAvailableError
from screenstate.extras import require
from screenstate.hashing import digest
from screenstate.lru import LRU
from screenstate.schema import Column

CALIBRATION_BATCH = 8


def resolve_device(device: str = "auto") -> torch.device:
    """``auto`` -> CUDA when present, else CPU."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def cpu_supports_bf16() -> bool:
    """True when the CPU has native bf16 matrix instructions (AVX512-BF16 or AMX); whether
    they are faster than fp32 is measured (``precision="auto"``), not assumed."""
    return isa_class() in ("amx", "avx512_bf16")


def resolve_dtype(precision: str, device: torch.device) -> torch.dtype:
    """``auto``: fp16 on GPU, bf16 on CPUs that support it, else fp32 (without measuring;
    :class:`ClipChannel` measures instead, see the module docstring)."""
    if precision == "auto":
        if device.type == "cuda":
            return torch.float16
        return torch.bfloat16 if cpu_supports_bf16() else torch.float32
    if precision not in DTYPES:
        from screenstate.errors import UnknownNameError

        raise UnknownNameError("precision", precision, ["auto", *DTYPES])
    return DTYPES[precision]


def register_model_config(model: str) -> str:
    """Accept an open_clip architecture name, or a path to an open_clip model-config JSON
    (registered under its file stem, e.g. a tiny architecture for tests)."""
    if model.endswith(".json"):
        p = Path(model).expanduser()
        if not p.is_file():
            raise ModelNotAvailableError(f"CLIP model config {p} not found")
        import open_clip

        open_clip.add_model_config(p)
        return p.stem
    return model


class ClipChannel(Channel[ClipFeatures, ClipExamples]):
    """open_clip embeddings of whole screens (see module docstring for the calibration)."""

    name = "clip"

    def __init__(self, options: ClipOptions | None = None) -> None:
        self.options = o = options or ClipOptions()
        self.view_mode: ViewMode = parse_view_mode(o.views)
        self.templates = get_templates(o.templates)
        self.device = resolve_device(o.device)
        self.dtype = resolve_dtype(o.precision, self.device)
        self.calibrate = o.precision == "auto" and self.device.type == "cpu"
        if self.calibrate:
            self.dtype = torch.float32  # until measured in _load
        name = {v: k for k, v in DTYPES.items()}[self.dtype]
        threads = thread_budget() if self.device.type == "cpu" else 0
        self.precision_choice = Choice(name, threads, "explicit" if o.precision != "auto" else "fixed")
        self._lock = threading.Lock()
        #: prompt-ensembled text embeddings by :meth:`text_key` (the feature store persists them)
        self.text_embeddings: LRU[str, torch.Tensor] = LRU(4096)
        self._model: Any = None
        self._tokenizer: Any = None
        #: OpenVINO towers where calibration chose them (None: torch); see clip_runtime.py
        self._ov_image: Callable[[torch.Tensor], torch.Tensor] | None = None
        self._ov_text: Callable[[torch.Tensor], torch.Tensor] | None = None
        self.text_choice: Choice | None = None
        self.image_size = 224
        constants = require("open_clip.constants", "clip", "The clip channel")  # screenstate[clip]
        self.mean = torch.tensor(constants.OPENAI_DATASET_MEAN)  # until the model's own preprocess_cfg says otherwise
        self.std = torch.tensor(constants.OPENAI_DATASET_STD)
        self._load()

    @property
    def model_id(self) -> str:
        o = self.options
        tiles = f"x{o.tile_rows}" if self.view_mode is ViewMode.tiles else ""
        return (
            f"clip:{Path(o.model).name}:{Path(o.pretrained).name}:{self.view_mode.value}{tiles}:{self._runtime_tag()}"
        )

    def _runtime_tag(self, text: bool = False) -> str:
        """The dtype, or the OpenVINO precision where OpenVINO runs the tower (cache keys)."""
        ov = self._ov_text if text else self._ov_image
        choice = self.text_choice if text else self.precision_choice
        return choice.precision if ov is not None and choice is not None else str(self.dtype)[6:]

    # -- loading -----------------------------------------------------------------
    def _load(self) -> None:
        import open_clip

        o = self.options
        model_name = register_model_config(o.model)
        if model_name not in open_clip.list_models() and not model_name.startswith("hf-hub:"):
            from screenstate.errors import UnknownNameError

            raise UnknownNameError(
                "CLIP model", o.model, [*open_clip.list_models(), "hf-hub:<repo>", "/path/to/config.json"]
            )
        pretrained: str | None
        if o.pretrained == "random":
            pretrained = None
        else:
            local = cached_clip_weights(model_name, o.pretrained) if not model_name.startswith("hf-hub:") else None
            if local is not None:
                pretrained = str(local)
            elif not o.allow_download or not hub_reachable():
                raise ModelNotAvailableError(missing_weights_message(o.model, o.pretrained))
            else:
                pretrained = o.pretrained
        try:
            # random weights are seeded so every process builds the same model
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(0)
                model = open_clip.create_model(model_name, pretrained=pretrained, device=self.device)
        except RuntimeError as e:
            raise ModelNotAvailableError(f"cannot load CLIP {o.model} from {pretrained}: {e}") from e
        model.eval()
        self._tokenizer = open_clip.get_tokenizer(model_name)
        cfg = getattr(model.visual, "preprocess_cfg", {}) or {}
        size = cfg.get("size", getattr(model.visual, "image_size", 224))
        self.image_size = int(size[0] if isinstance(size, (tuple, list)) else size)
        if "mean" in cfg:
            self.mean, self.std = torch.tensor(cfg["mean"]), torch.tensor(cfg["std"])
        if self.calibrate:
            model = self._calibrated(model, model_name)
        self._model = model.to(self.dtype)
        record_use(f"clip:{model_name}", self.precision_choice)

    def _calibrated(self, model: Any, model_name: str) -> Any:
        """Measure each tower's runtime on this CPU (``clip_runtime.py``, cached per machine);
        the torch model in the image choice's dtype (fp32 where OpenVINO runs it)."""
        threads = thread_budget()
        options = clip_runtime.candidates(cpu_supports_bf16())
        if options == ("fp32",):
            self.precision_choice = Choice("fp32", threads, "fixed")
            return model
        gen = torch.Generator().manual_seed(0)
        batch = torch.randn(
            min(CALIBRATION_BATCH, self.options.batch_size), 3, self.image_size, self.image_size, generator=gen
        )
        o, runtime = self.options, f"torch {torch.__version__}"
        if any(c.startswith("ov-") for c in options):
            import openvino as ov

            runtime += f", openvino {ov.__version__}"
        name = f"clip:{model_name}:{Path(o.pretrained).name}"
        models, export_key = {"fp32": model}, clip_runtime.model_key(name, model)
        img = clip_runtime.choose_tower(
            model,
            "image",
            batch,
            CalibrationKey(f"{name}:{self.image_size}px:b{batch.shape[0]}", runtime, threads),
            options,
            models,
            export_key,
        )
        self.precision_choice, self._ov_image = img.choice, img.run
        self.dtype = DTYPES.get(img.runtime, torch.float32)
        if clip_runtime.text_convertible(model) and any(c.startswith("ov-") for c in options):
            tokens = self._tokenizer([t.format(w) for t in self.templates for w in ("login page", "error dialog")])
            tokens = tokens[:, : int((tokens != 0).sum(1).max())]
            txt = clip_runtime.choose_tower(
                model,
                "text",
                tokens,
                CalibrationKey(f"{name}:text:b{tokens.shape[0]}", runtime, threads),
                ("fp32", *(c for c in options if c.startswith("ov-"))),
                models,
                export_key,
            )
            self.text_choice, self._ov_text = txt.choice, txt.run
        return models.get(img.runtime, model)

    # -- images ------------------------------------------------------------------
    def preparer(self) -> Callable[[Image.Image], np.ndarray]:
        """uint8 [views, S, S, 3] per image."""
        return functools.partial(
            make_views, size=self.image_size, mode=self.view_mode, tile_rows=self.options.tile_rows
        )

    @torch.inference_mode()
    def _encode_pixels(self, pixels: torch.Tensor) -> torch.Tensor:
        """uint8 [n, S, S, 3] -> unit-norm float32 [n, D]."""
        out = []
        bs = self.options.batch_size
        mean = self.mean.view(1, 3, 1, 1).to(self.device)
        std = self.std.view(1, 3, 1, 1).to(self.device)
        for i in range(0, pixels.shape[0], bs):
            x = pixels[i : i + bs].to(self.device).permute(0, 3, 1, 2).float().div_(255.0)
            x = (x - mean) / std
            f = self._ov_image(x) if self._ov_image is not None else self._model.encode_image(x.to(self.dtype))
            out.append(torch.nn.functional.normalize(f.float(), dim=-1).cpu())
        return torch.cat(out)

    def encode(self, prepared: list[np.ndarray]) -> list[ClipFeatures]:
        """One float32 [views, D] tensor per image."""
        if not prepared:
            return []
        counts = [p.shape[0] for p in prepared]
        flat = torch.from_numpy(np.concatenate(prepared))
        with self._lock:
            feats = self._encode_pixels(flat)
        return [ClipFeatures(v) for v in torch.split(feats, counts)]

    # -- examples ----------------------------------------------------------------
    @torch.inference_mode()
    def encode_texts(self, texts: list[str], augment: bool = True) -> torch.Tensor:
        """Prompt-ensembled text embeddings, float32 [len(texts), D], LRU-cached."""
        templates = self.templates if augment else ("{}",)
        key_of = {t: self.text_key(t, augment) for t in texts}
        with self._lock:
            missing = list(dict.fromkeys(t for t in texts if key_of[t] not in self.text_embeddings))
            found: dict[str, torch.Tensor] = {}
            if missing:
                prompts = [tpl.format(t) for t in missing for tpl in templates]
                tokens = self._tokenizer(prompts).to(self.device)
                feats = []
                for i in range(0, tokens.shape[0], 256):
                    feats.append(self._encode_tokens(tokens[i : i + 256]).float())
                f = torch.nn.functional.normalize(torch.cat(feats), dim=-1)
                f = f.view(len(missing), len(templates), -1).mean(1)
                f = torch.nn.functional.normalize(f, dim=-1).cpu()
                for t, v in zip(missing, f):
                    self.text_embeddings.put(key_of[t], v)
                    found[t] = v
            # just encoded ones from ``found``: a long list may push them out of the LRU
            return torch.stack([found[t] if t in found else self.text_embeddings.require(key_of[t]) for t in texts])

    @property
    def text_model_id(self) -> str:
        """What text embeddings depend on (their cache key beside :meth:`text_key`)."""
        o = self.options
        return f"clip-text:{Path(o.model).name}:{Path(o.pretrained).name}:{self._runtime_tag(text=True)}"

    def text_key(self, text: str, augment: bool) -> str:
        """Cache key of one example text's embedding (the text and the prompt templates)."""
        tpl = "|".join(self.templates if augment else ("{}",))
        return digest(f"{tpl}\0{text}")

    def _encode_tokens(self, tokens: torch.Tensor) -> torch.Tensor:
        """encode_text on tokens trimmed to the longest prompt: with a causal mask the
        padding after the end token cannot change the pooled embedding, and prompts are
        far shorter than the 77-token context, so this is several times faster."""
        m = self._model
        if not clip_runtime.text_convertible(m):
            return m.encode_text(tokens)  # custom text towers: the library's own path
        length = int((tokens != 0).sum(1).max())
        x = tokens[:, :length]
        if self._ov_text is not None:
            return self._ov_text(x)
        cast = m.transformer.get_cast_dtype()
        h = m.token_embedding(x).to(cast) + m.positional_embedding[:length].to(cast)
        h = m.transformer(h, attn_mask=m.attn_mask[:length, :length])
        h = m.ln_final(h)
        h = h[torch.arange(h.shape[0]), x.argmax(dim=-1)]
        proj = m.text_projection
        return proj(h) if isinstance(proj, torch.nn.Linear) else h @ proj

    def encode_examples(
        self, columns: list[Column], augment: bool = True, image_features: Sequence[ClipFeatures] | None = None
    ) -> ClipExamples:
        texts = [c.text for c in columns if c.text is not None]
        text_feats = self.encode_texts(texts, augment) if texts else None
        images = [c.image for c in columns if c.image is not None]
        if image_features is None and images:
            image_features = self.encode([self.prepare(load_image(p)) for p in images])
        img_feats = torch.stack([f.views[0] for f in image_features]) if image_features else None
        is_text = torch.tensor([c.text is not None for c in columns], dtype=torch.bool)
        return ClipExamples(is_text, text_feats, img_feats)

    def relevance(self, features: Sequence[ClipFeatures], examples: ClipExamples) -> np.ndarray:
        """float32 [images, columns] as numpy: the rules take no torch (whatever the towers' precision)."""
        is_text = examples.is_text
        out = torch.zeros(len(features), is_text.shape[0])
        if not features:
            return out.numpy()
        globals_ = torch.stack([f.views[0] for f in features])  # [n, D] global (or only) view
        if examples.text is not None:
            if self.view_mode is ViewMode.tiles:
                # the tile grid follows each screen's aspect ratio, so view counts differ
                for i, f in enumerate(features):
                    rel = (1.0 + f.views @ examples.text.T) / 2.0  # [V, E]
                    out[i, is_text] = 0.5 * rel[0] + 0.5 * rel[1:].amax(dim=0) if rel.shape[0] > 1 else rel[0]
            else:
                out[:, is_text] = (1.0 + globals_ @ examples.text.T) / 2.0
        if examples.image is not None:
            out[:, ~is_text] = image_relevance(globals_ @ examples.image.T)
        return out.clamp_(0.0, 1.0).numpy()

    def exemplar_vectors(self, examples: ClipExamples) -> np.ndarray:
        return examples.image.numpy() if examples.image is not None else np.zeros((0, 1), np.float32)

    # -- cache -------------------------------------------------------------------
    def dumps(self, feature: ClipFeatures) -> bytes:
        return _tensor_bytes(feature.views)

    def loads(self, data: bytes) -> ClipFeatures:
        return ClipFeatures(_tensor_from_bytes(data))

    def dumps_text(self, embedding: torch.Tensor) -> bytes:
        """One example text's embedding as bytes (the store keeps them on disk)."""
        return _tensor_bytes(embedding)

    def loads_text(self, data: bytes) -> torch.Tensor:
        return _tensor_from_bytes(data)


def _tensor_bytes(t: torch.Tensor) -> bytes:
    """float16 .npy bytes of an embedding tensor (image views, or a text embedding)."""
    buf = io.BytesIO()
    np.save(buf, t.numpy().astype(np.float16), allow_pickle=False)
    return buf.getvalue()


def _tensor_from_bytes(data: bytes) -> torch.Tensor:
    return torch.from_numpy(np.load(io.BytesIO(data), allow_pickle=False).astype(np.float32))


#: image-to-image cosine of unrelated screenshots for CLIP ViT-B, relevance 0.5 (docs/CONSTANTS.md)
IMAGE_COS_FLOOR = 0.5


def image_relevance(cos: torch.Tensor) -> torch.Tensor:
    """Calibrate image-to-image cosine to [0, 1]: 0.5 at the typical unrelated-screen
    similarity (``IMAGE_COS_FLOOR``), 1.0 for identical screens, linear in between."""
    return floor_relevance(cos, IMAGE_COS_FLOOR).clamp(0.0, 1.0)


def _build(options: ClipOptions, runtime: Runtime) -> ClipChannel:
    return ClipChannel(dataclasses.replace(options, device=runtime.device, precision=runtime.precision))


#: the ``clip`` channel in the registry (``features.get(CLIP)`` is a ``ClipFeatures | None``)
CLIP = register_channel(
    ChannelKind("clip", ClipChannel, ClipFeatures, ClipExamples, (np.ndarray,), ClipOptions, _build)
)
