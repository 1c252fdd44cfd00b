"""Model-hub helpers shared by every model loader: local lookups that never touch the
network, and a short reachability check before any download is attempted.

Both go through ``huggingface_hub``, so its own settings apply: ``HF_HUB_OFFLINE``,
``HF_ENDPOINT`` (a mirror), ``HF_HOME``/``HF_HUB_CACHE`` and the usual proxy variables."""

from __future__ import annotations

from pathlib import Path

#: open_clip's own default cache directory for weights fetched by URL (OpenAI checkpoints)
OPEN_CLIP_URL_CACHE = "~/.cache/clip"


def hub_reachable(timeout: float = 3.0) -> bool:
    """Whether the model hub (``huggingface_hub``'s endpoint, through its HTTP session) answers
    quickly; False at once in offline mode. Never waits longer than ``timeout``."""
    from huggingface_hub import constants
    from huggingface_hub.utils import get_session

    if constants.is_offline_mode():
        return False
    try:
        get_session().head(constants.ENDPOINT, timeout=timeout)
    except Exception:  # noqa: BLE001 - offline mode, DNS, refused, proxy or TLS failure: not reachable
        return False
    return True


def local_snapshot(model: str) -> Path | None:
    """A local directory for a model: the path itself, or a complete hub-cache snapshot."""
    p = Path(model).expanduser()
    if (p / "config.json").is_file():
        return p
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(model, local_files_only=True))
    except Exception:  # noqa: BLE001 - not cached (or not a repo id)
        return None


def model_source(model: str, allow_download: bool, missing: str) -> str:
    """Where to load ``model`` from: a local directory when there is one, else the hub id
    if downloads are allowed and the hub answers; otherwise ModelNotAvailableError with
    ``missing`` (which says what to do) -- fast, never a retry loop."""
    from screenstate.errors import ModelNotAvailableError

    local = local_snapshot(model)
    if local is not None:
        return str(local)
    if not allow_download or not hub_reachable():
        raise ModelNotAvailableError(missing)
    return model


def clip_weights_on_disk() -> bool:
    """Whether any CLIP checkpoint could be on disk: a hub-cache repo named like a CLIP model
    or holding ``open_clip_*`` files, or open_clip's URL download cache. A cheap guard (a few
    directory listings) before the precise lookup, which needs open_clip (seconds to import)."""
    from huggingface_hub import constants

    hub = Path(constants.HF_HUB_CACHE)
    repos = list(hub.glob("models--*")) if hub.is_dir() else []
    if any("clip" in r.name.lower() for r in repos) or any(hub.glob("models--*/snapshots/*/open_clip_*")):
        return True
    url_cache = Path(OPEN_CLIP_URL_CACHE).expanduser()
    return url_cache.is_dir() and any(url_cache.iterdir())
