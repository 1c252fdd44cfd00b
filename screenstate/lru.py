"""One bounded, thread-safe least-recently-used map for every in-memory cache
(features of recent screens, text embeddings, loaded models of a service).

>>> lru = LRU[str, int](2)
>>> lru.put("a", 1); lru.put("b", 2); lru.get("a")
1
>>> lru.put("c", 3)               # "b" was used least recently: it goes
>>> lru.get("b") is None, len(lru)
(True, 2)
>>> small = LRU[str, bytes](100, max_bytes=10)   # also bounded by the size of its values
>>> small.put("a", b"12345678"); small.put("b", b"1234"); list(small._items)
['b']
"""

from __future__ import annotations

import dataclasses
import sys
import threading
from collections import OrderedDict
from collections.abc import Hashable
from typing import Any, Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


def nbytes(obj: Any) -> int:
    """Roughly how many bytes ``obj`` holds: arrays and tensors by their data, dataclasses,
    containers and objects by their parts (what a byte-bounded cache charges for it)."""
    if isinstance(obj, (bytes, bytearray, str)):
        return len(obj)
    n = getattr(obj, "nbytes", None)
    if isinstance(n, int):  # numpy arrays
        return n
    if hasattr(obj, "element_size") and hasattr(obj, "nelement"):  # torch tensors
        return int(obj.element_size() * obj.nelement())
    if isinstance(obj, (list, tuple, set, frozenset)):
        return 8 * len(obj) + sum(nbytes(x) for x in obj)
    if isinstance(obj, dict):
        return 16 * len(obj) + sum(nbytes(k) + nbytes(v) for k, v in obj.items())
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return 16 + sum(nbytes(getattr(obj, f.name)) for f in dataclasses.fields(obj))
    slots = [s for c in type(obj).__mro__ for s in getattr(c, "__slots__", ()) if isinstance(s, str)]
    if slots and not isinstance(obj, type):  # e.g. ScreenFeatures: its per-channel values in a slot
        return 16 + sum(nbytes(getattr(obj, s, None)) for s in slots if s not in ("__dict__", "__weakref__"))
    if hasattr(obj, "__dict__") and not isinstance(obj, type):
        return 16 + sum(nbytes(v) for v in vars(obj).values())
    return sys.getsizeof(obj)


class LRU(Generic[K, V]):
    """At most ``max_items`` entries (0 keeps nothing) and, with ``max_bytes``, at most that
    many bytes of values (:func:`nbytes`); ``get`` and ``put`` make an entry the most
    recently used. ``hits``/``misses`` count ``get`` calls."""

    def __init__(self, max_items: int, max_bytes: int | None = None) -> None:
        if max_items < 0:
            raise ValueError(f"max_items: must be >= 0, got {max_items}")
        self.max_items = max_items
        self.max_bytes = max_bytes
        self._items: OrderedDict[K, V] = OrderedDict()
        self._sizes: dict[K, int] = {}
        self.bytes = 0
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
        size = nbytes(value) if self.max_bytes is not None else 0
        if self.max_bytes is not None and size > self.max_bytes:
            return  # larger than the whole cache: not kept
        with self._lock:
            self.bytes += size - self._sizes.get(key, 0)
            self._items[key] = value
            self._sizes[key] = size
            self._items.move_to_end(key)
            while len(self._items) > self.max_items or (self.max_bytes is not None and self.bytes > self.max_bytes):
                old, _ = self._items.popitem(last=False)
                self.bytes -= self._sizes.pop(old, 0)

    def pop(self, key: K) -> V | None:
        with self._lock:
            self.bytes -= self._sizes.pop(key, 0)
            return self._items.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._sizes.clear()
            self.bytes = 0
