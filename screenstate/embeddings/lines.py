"""OCR lines ranked by their similarity to a phrase or an example: the one ranking.

``TextChannel.matching_lines`` (the lines behind a score, for ``evidence.explain``),
``TextChannel.find_lines`` ("where is X?": ``StateChecker.find`` and ``ask``) both end in
:func:`ranked_lines`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from screenstate.embeddings.ocr import TextLine


@dataclass(frozen=True)
class LineMatch:
    """An on-screen line that supports an example or answers a phrase: its text, pixel box, similarity."""

    text: str
    box: tuple[float, float, float, float]
    similarity: float


#: a line answers "where is X?" from this sentence similarity on (not fitted; checker, ask)
FIND_MIN_SIMILARITY = 0.5


def ranked_lines(
    lines: Sequence[TextLine],
    sims: np.ndarray,
    k: int | None = None,
    floor: float = -math.inf,
    scale: float = 1.0,
    digits: int | None = None,
) -> list[LineMatch]:
    """The one ranking of OCR lines by a similarity per line (float [lines]): best first, at
    most ``k``, those >= ``floor``; boxes times ``scale``; similarities rounded to ``digits``.

    >>> rows = [TextLine((0, 0, 10, 5), "OK", 1.0), TextLine((0, 9, 10, 14), "Cancel", 1.0)]
    >>> [m.text for m in ranked_lines(rows, np.array([0.2, 0.7], np.float32))]
    ['Cancel', 'OK']
    >>> ranked_lines(rows, np.array([0.2, 0.7], np.float32), floor=0.5, scale=2.0)[0].box
    (0.0, 18.0, 20.0, 28.0)
    """
    order = _descending(sims.tolist())[:k]
    out = []
    for i in order:
        sim = float(sims[i])
        if sim >= floor:
            b = lines[i].box
            box = b if scale == 1.0 else (b[0] * scale, b[1] * scale, b[2] * scale, b[3] * scale)
            out.append(LineMatch(lines[i].text, box, round(sim, digits) if digits is not None else sim))
    return out


def _descending(values: list[float]) -> list[int]:  # noqa: C901 - one algorithm, kept whole
    """Indices of ``values`` best first, equal values in the order torch's ``argsort(descending=True)``
    gave them before the rules moved to numpy (libstdc++'s ``std::sort``: introsort on (value,
    index) pairs, NaN first), so the lines shown for a score stay the same lines; checked against
    torch on thousands of tie-heavy inputs. A plain stable order would pick other lines among
    equally similar ones (every line holding an example's word scores exactly 1)."""
    v = values
    a = list(range(len(v)))

    def comp(i: int, j: int) -> bool:  # element i before element j (NaN first, as torch's descending comparator)
        vi, vj = v[i], v[j]
        return (vi != vi and vj == vj) or vi > vj

    def move_median_to_first(result: int, x: int, y: int, z: int) -> None:
        if comp(a[x], a[y]):
            if comp(a[y], a[z]):
                a[result], a[y] = a[y], a[result]
            elif comp(a[x], a[z]):
                a[result], a[z] = a[z], a[result]
            else:
                a[result], a[x] = a[x], a[result]
        elif comp(a[x], a[z]):
            a[result], a[x] = a[x], a[result]
        elif comp(a[y], a[z]):
            a[result], a[z] = a[z], a[result]
        else:
            a[result], a[y] = a[y], a[result]

    def unguarded_partition(first: int, last: int, pivot: int) -> int:
        while True:
            while comp(a[first], a[pivot]):
                first += 1
            last -= 1
            while comp(a[pivot], a[last]):
                last -= 1
            if not first < last:
                return first
            a[first], a[last] = a[last], a[first]
            first += 1

    def heap_sort(first: int, last: int) -> None:  # std::__partial_sort(first, last, last): make_heap + sort_heap
        n = last - first

        def adjust(hole: int, length: int, value: int) -> None:
            top = hole
            child = hole
            while child < (length - 1) // 2:
                child = 2 * (child + 1)
                if comp(a[first + child], a[first + child - 1]):
                    child -= 1
                a[first + hole] = a[first + child]
                hole = child
            if (length & 1) == 0 and child == (length - 2) // 2:
                child = 2 * (child + 1)
                a[first + hole] = a[first + child - 1]
                hole = child - 1
            parent = (hole - 1) // 2
            while hole > top and comp(a[first + parent], value):
                a[first + hole] = a[first + parent]
                hole = parent
                parent = (hole - 1) // 2
            a[first + hole] = value

        if n >= 2:
            parent = (n - 2) // 2
            while True:
                adjust(parent, n, a[first + parent])
                if parent == 0:
                    break
                parent -= 1
        last_ = last
        while last_ - first > 1:
            last_ -= 1
            value = a[last_]
            a[last_] = a[first]
            adjust(0, last_ - first, value)

    def introsort_loop(first: int, last: int, depth: int) -> None:
        while last - first > 16:
            if depth == 0:
                heap_sort(first, last)
                return
            depth -= 1
            mid = first + (last - first) // 2
            move_median_to_first(first, first + 1, mid, last - 1)
            cut = unguarded_partition(first + 1, last, first)
            introsort_loop(cut, last, depth)
            last = cut

    def linear_insert(last: int) -> None:
        val = a[last]
        nxt = last - 1
        while comp(val, a[nxt]):
            a[last] = a[nxt]
            last = nxt
            nxt -= 1
        a[last] = val

    def insertion_sort(first: int, last: int) -> None:
        if first == last:
            return
        for i in range(first + 1, last):
            if comp(a[i], a[first]):
                val = a[i]
                a[first + 1 : i + 1] = a[first:i]
                a[first] = val
            else:
                linear_insert(i)

    n = len(a)
    if n:
        introsort_loop(0, n, 2 * int(math.log2(n)))
        if n > 16:
            insertion_sort(0, 16)
            for i in range(16, n):
                linear_insert(i)
        else:
            insertion_sort(0, n)
    return a
