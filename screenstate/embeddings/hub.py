"""Model-hub helpers shared by every model loader: local lookups that never touch the
network, and a short reachability check before any download is attempted."""

from __future__ import annotations

import os
import socket
from pathlib import Path

HUB_HOST = "huggingface.co"


def hub_reachable(timeout: float = 3.0) -> bool:
    """Whether the model hub answers quickly (never waits longer than ``timeout``)."""
    if os.environ.get("HF_HUB_OFFLINE", "0").lower() in ("1", "true", "yes"):
        return False
    try:
        with socket.create_connection((HUB_HOST, 443), timeout=timeout):
            return True
    except OSError:
        return False


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
