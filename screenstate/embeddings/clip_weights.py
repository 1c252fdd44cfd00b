"""Where the CLIP channel's weights are, answered without torch and without the network:
``encoder="auto"`` asks :func:`clip_available` on every start, and the offline default
(no CLIP weights) must not pay for importing torch (a second) to hear "no"."""

from __future__ import annotations

from pathlib import Path

from screenstate.embeddings.defaults import DEFAULT_CLIP_MODEL, DEFAULT_CLIP_PRETRAINED
from screenstate.embeddings.hub import OPEN_CLIP_URL_CACHE, clip_weights_on_disk
from screenstate.extras import installed


def cached_clip_weights(model: str, pretrained: str) -> Path | None:
    """A local file holding the weights, without touching the network (None if absent)."""
    p = Path(pretrained).expanduser()
    if p.is_file():
        return p
    import open_clip

    cfg = open_clip.get_pretrained_cfg(model, pretrained)
    if not cfg:
        return None
    hub = (cfg.get("hf_hub") or "").strip("/")
    if hub:
        from huggingface_hub import try_to_load_from_cache

        parts = hub.split("/")
        repo, fname = "/".join(parts[:2]), "/".join(parts[2:])
        names = [fname] if fname else ["open_clip_model.safetensors", "open_clip_pytorch_model.bin"]
        for name in names:
            hit = try_to_load_from_cache(repo, name)
            if isinstance(hit, str) and Path(hit).is_file():
                return Path(hit)
    url = cfg.get("url") or ""
    if url:
        # where open_clip's download_pretrained_from_url puts URL weights (it ignores XDG_CACHE_HOME)
        cand = Path(OPEN_CLIP_URL_CACHE).expanduser() / Path(url).name
        if cand.is_file():
            return cand
    return None


def clip_available(model: str = DEFAULT_CLIP_MODEL, pretrained: str = DEFAULT_CLIP_PRETRAINED) -> bool:
    """True when CLIP can be built without the network (cached, local or random weights)."""
    if pretrained == "random":
        return installed("open_clip")
    if not installed("open_clip") or not (Path(pretrained).expanduser().is_file() or clip_weights_on_disk()):
        return False  # decided without importing open_clip (seconds)
    try:
        return cached_clip_weights(model, pretrained) is not None
    except Exception:  # noqa: BLE001 - any lookup failure means "not available offline"
        return False


def missing_weights_message(model: str, pretrained: str) -> str:
    return (
        f"CLIP weights {model}/{pretrained} are not available offline and the model hub is "
        f"unreachable. Fix: run `screenstate models pull --clip-model {model} --clip-pretrained "
        f"{pretrained}` on a connected machine and copy its cache, or pass a local checkpoint "
        "with --clip-pretrained /path/to/open_clip_model.safetensors, or use --encoder text "
        "(no download needed)."
    )
