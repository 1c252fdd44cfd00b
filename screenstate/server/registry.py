"""A bounded, thread-safe LRU of objects built from deployed configs (classifiers,
detectors, state checkers): each is built once per process and config version, and the
least recently used is dropped past ``max_items``, so memory does not grow with the number
of deployed ids a service has ever seen."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class LoadedModels(Generic[T]):
    """``get(deployed_id, config_key, build)``: the object for this id and config, built by
    ``build()`` when missing or when the stored config changed."""

    def __init__(self, max_items: int) -> None:
        if max_items < 1:
            raise ValueError(f"max_items: must be >= 1, got {max_items}")
        self.max_items = max_items
        self._items: OrderedDict[str, tuple[str, T]] = OrderedDict()
        self._lock = threading.Lock()
        self.builds = 0

    def __len__(self) -> int:
        return len(self._items)

    def get(self, deployed_id: str, config_key: str, build: Callable[[], T]) -> T:
        with self._lock:
            hit = self._items.get(deployed_id)
            if hit is not None and hit[0] == config_key:
                self._items.move_to_end(deployed_id)
                return hit[1]
        obj = build()  # outside the lock: building loads examples and may take a while
        with self._lock:
            self.builds += 1
            self._items[deployed_id] = (config_key, obj)
            self._items.move_to_end(deployed_id)
            while len(self._items) > self.max_items:
                self._items.popitem(last=False)
        return obj

    def drop(self, deployed_id: str) -> None:
        with self._lock:
            self._items.pop(deployed_id, None)
