"""The ``owl`` region source: OWL-ViT / OWLv2 patch boxes scored against text examples.

Each image patch predicts a box and an embedding; the model's class head maps
(patch, query) to a logit with its own per-patch shift and scale, and
``sigmoid(logit)`` is the relevance used by the detector (the reference server's
convention). Only the ``top_k`` patches by best relevance are kept as regions.

Weights: a local directory, the Hugging Face cache, or (explicitly asked for, hub
reachable) a download; otherwise a fast :class:`ModelNotAvailableError`. Tests build a
tiny model from an ``OwlViTConfig`` and pass it in, with open_clip's bundled CLIP BPE
tokenizer (the same vocabulary OWL-ViT uses).
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
import torch
from PIL import Image

from screenstate.embeddings.defaults import DEFAULT_OWL_MODEL
from screenstate.embeddings.hub import local_snapshot, model_source
from screenstate.embeddings.regions import Regions
from screenstate.errors import ModelNotAvailableError
from screenstate.extras import require
from screenstate.schema import Column


def owl_available(model: str = DEFAULT_OWL_MODEL) -> bool:
    """True when OWL weights are on disk (never touches the network)."""
    return local_snapshot(model) is not None


class OwlRegions:
    """OWL-ViT / OWLv2 patches as detector regions."""

    name = "owl"

    def __init__(
        self,
        model: str = DEFAULT_OWL_MODEL,
        device: str = "auto",
        top_k: int = 200,
        model_obj: Any = None,
        tokenizer: Any = None,
        allow_download: bool = True,
    ) -> None:
        from screenstate.embeddings.clip import resolve_device

        self.model_name = model
        self.device = resolve_device(device)
        self.top_k = top_k
        self._lock = threading.Lock()
        if model_obj is not None:
            self.model = model_obj.eval().to(self.device)
            self.tokenizer = tokenizer
        else:
            self.model, self.tokenizer = self._load(model, allow_download)
        self.image_size = int(self.model.config.vision_config.image_size)
        self.max_text_len = int(self.model.config.text_config.max_position_embeddings)
        self.calls = 0

    @staticmethod
    def _load(model: str, allow_download: bool) -> tuple[Any, Any]:
        from transformers import AutoModelForZeroShotObjectDetection, AutoProcessor

        source = model_source(
            model,
            allow_download,
            f"OWL weights {model!r} are not available offline and the model hub is unreachable. "
            "Fix: run `screenstate models pull --owl` on a connected machine, pass a local directory, "
            "or use regions='text' (no download needed).",
        )
        try:
            proc = AutoProcessor.from_pretrained(source)
            net = AutoModelForZeroShotObjectDetection.from_pretrained(source)
        except OSError as e:
            raise ModelNotAvailableError(f"cannot load OWL model from {source}: {e}") from e
        return net.eval(), proc.tokenizer

    def _tokenize(self, texts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        if self.tokenizer is None:
            from open_clip.tokenizer import SimpleTokenizer

            ids = SimpleTokenizer(context_length=self.max_text_len)(texts)
        else:
            ids = self.tokenizer(
                texts, padding="max_length", truncation=True, max_length=self.max_text_len, return_tensors="pt"
            )["input_ids"]
        return ids.to(self.device), (ids != 0).long().to(self.device)

    def _pixels(self, img: Image.Image) -> tuple[torch.Tensor, int]:
        """Pad to a square (bottom/right, gray) and resize: float [1, 3, S, S]; returns the padded side."""
        w, h = img.size
        side = max(w, h)
        canvas = Image.new("RGB", (side, side), (128, 128, 128))
        canvas.paste(img, (0, 0))
        small = canvas.resize((self.image_size, self.image_size), Image.Resampling.BILINEAR)
        x = torch.from_numpy(np.asarray(small, dtype=np.float32) / 255.0).permute(2, 0, 1)
        c = require("open_clip.constants", "clip", "The owl region source")  # OWL-ViT/OWLv2 normalise as CLIP
        x = (x - torch.tensor(c.OPENAI_DATASET_MEAN).view(3, 1, 1)) / torch.tensor(c.OPENAI_DATASET_STD).view(3, 1, 1)
        return x.unsqueeze(0).to(self.device), side

    @torch.inference_mode()
    def regions(self, img: Image.Image, columns: list[Column]) -> Regions:
        texts = [c.text if c.text is not None else "" for c in columns]
        ids, mask = self._tokenize(texts or [""])
        pixels, side = self._pixels(img)
        with self._lock:
            out = self.model(input_ids=ids, pixel_values=pixels, attention_mask=mask)
            self.calls += 1
        rel = torch.sigmoid(out.logits[0].float()).cpu()  # [patches, queries]
        if not texts:
            rel = rel[:, :0]
        is_text = torch.tensor([c.text is not None for c in columns], dtype=torch.bool)
        rel[:, ~is_text] = 0.0
        boxes = out.pred_boxes[0].float().cpu()  # cx, cy, w, h in [0, 1] of the padded square
        xyxy = (
            torch.stack(
                [
                    boxes[:, 0] - boxes[:, 2] / 2,
                    boxes[:, 1] - boxes[:, 3] / 2,
                    boxes[:, 0] + boxes[:, 2] / 2,
                    boxes[:, 1] + boxes[:, 3] / 2,
                ],
                dim=1,
            ).clamp(0, 1)
            * side
        )
        # boxes reaching into the padding are cut at the image border
        limits = torch.tensor([img.size[0], img.size[1], img.size[0], img.size[1]], dtype=xyxy.dtype)
        xyxy = torch.minimum(xyxy, limits)
        if rel.shape[1] and rel.shape[0] > self.top_k:
            top = rel.max(dim=1).values.topk(self.top_k).indices
            rel, xyxy = rel[top], xyxy[top]
        # numpy for the decision rules (classifier/nms.py), which take no torch
        return Regions(xyxy.numpy(), ["" for _ in range(xyxy.shape[0])], rel.numpy(), self.name)
