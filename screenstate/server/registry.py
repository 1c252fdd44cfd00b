"""A bounded, thread-safe LRU of objects built from deployed configs (classifiers,
detectors, state checkers): each is built once per process and config version, and the
least recently used is dropped past ``max_items``, so memory does not grow with the number
of deployed ids a service has ever seen."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

from screenstate.lru import LRU

T = TypeVar("T")


class LoadedModels(Generic[T]):
    """``get(deployed_id, config_key, build)``: the object for this id and config, built by
    ``build()`` when missing or when the stored config changed."""

    def __init__(self, max_items: int) -> None:
        if max_items < 1:
            raise ValueError(f"max_items: must be >= 1, got {max_items}")
        self.max_items = max_items
        self._items: LRU[str, tuple[str, T]] = LRU(max_items)
        self._lock = threading.Lock()  # for the build counter
        self.builds = 0

    def __len__(self) -> int:
        return len(self._items)

    def get(self, deployed_id: str, config_key: str, build: Callable[[], T]) -> T:
        hit = self._items.get(deployed_id)
        if hit is not None and hit[0] == config_key:
            return hit[1]
        obj = build()  # outside any lock: building loads examples and may take a while
        with self._lock:
            self.builds += 1
        self._items.put(deployed_id, (config_key, obj))
        return obj

    def drop(self, deployed_id: str) -> None:
        self._items.pop(deployed_id)
