"""One bounded, thread-safe least-recently-used map for every in-memory cache
(features of recent screens, text embeddings, loaded models of a service).

>>> lru = LRU[str, int](2)
>>> lru.put("a", 1); lru.put("b", 2); lru.get("a")
1
>>> lru.put("c", 3)               # "b" was used least recently: it goes
>>> lru.get("b") is None, len(lru)
(True, 2)
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class LRU(Generic[K, V]):
    """At most ``max_items`` entries (0 keeps nothing); ``get`` and ``put`` make an entry
    the most recently used. ``hits``/``misses`` count ``get`` calls."""

    def __init__(self, max_items: int) -> None:
        if max_items < 0:
            raise ValueError(f"max_items: must be >= 0, got {max_items}")
        self.max_items = max_items
        self._items: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: object) -> bool:
        return key in self._items

    def require(self, key: K) -> V:
        """The value of ``key`` (counted as :meth:`get` does); KeyError when it is not held."""
        got = self.get(key)
        if got is None:
            raise KeyError(key)
        return got

    def get(self, key: K) -> V | None:
        with self._lock:
            if key not in self._items:
                self.misses += 1
                return None
            self._items.move_to_end(key)
            self.hits += 1
            return self._items[key]

    def put(self, key: K, value: V) -> None:
        if self.max_items == 0:
            return
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.max_items:
                self._items.popitem(last=False)

    def pop(self, key: K) -> V | None:
        with self._lock:
            return self._items.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
