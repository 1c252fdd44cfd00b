"""One-line notices shown once per machine: the first time at WARNING, afterwards at INFO
(so ``--verbose`` shows them every time). A marker file per notice under the cache root's
``notices/`` remembers that it was shown; where it cannot be written (a read-only cache),
the notice is shown once per process instead.

>>> import logging, tempfile
>>> from screenstate.embeddings.cache import set_cache_root
>>> scratch = tempfile.TemporaryDirectory()
>>> set_cache_root(scratch.name)
>>> notice_once("demo", "first run on this machine")
True
>>> notice_once("demo", "first run on this machine")
False
>>> set_cache_root(None); scratch.cleanup()
"""

from __future__ import annotations

import logging
import re
import threading

log = logging.getLogger("screenstate")
_lock = threading.Lock()
_shown: set[str] = set()


def notice_once(key: str, message: str, *args: object) -> bool:
    """Log ``message % args`` at WARNING the first time ``key`` is noticed on this machine,
    at INFO afterwards; returns whether it was the first time."""
    from screenstate.embeddings.cache import default_cache_dir

    if not log.isEnabledFor(logging.WARNING):  # --quiet: not shown, so not marked as shown
        return False
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", key)[:120]
    marker = default_cache_dir() / "notices" / name
    with _lock:
        first = name not in _shown and not marker.exists()
        _shown.add(name)
        if first:
            try:
                marker.parent.mkdir(parents=True, exist_ok=True)
                marker.write_text(message % args if args else message)
            except OSError:
                pass  # shown once per process then
    log.log(logging.WARNING if first else logging.INFO, message, *args)
    return first
