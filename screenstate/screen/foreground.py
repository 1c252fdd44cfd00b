"""Find the foreground window of a desktop screenshot from pixels alone.

The state of an application is its topmost window: a dialog in front of an editor or a
terminal. A window that nothing covers shows its whole outline (four straight edges meeting
at the corners); a window behind it has its outline cut where the front window covers
it, and its edges end on the front window's border. So:

1. straight horizontal and vertical edges at least ``min_edge`` pixels long
   (brightness steps between neighbouring rows / columns);
2. complete rectangles: a top and a bottom edge with the same ends, joined by a left
   and a right edge; those inside another complete rectangle are parts of a window,
   unless they float in it (``windows.FLOAT_MARGIN`` free on every side: a dialog over a
   large editor, ``screen/windows.py``);
3. of the outermost rectangles and the floating ones, the one on whose border most other
   edges end (at least two: a partly covered outline crosses the covering border twice;
   a floating one lies on its window, so it counts one more than that window) is in front.

Returns None when no window covers another: a browser page (its cards are complete
rectangles too, but cover nothing), a lone dialog on a bare desktop (the whole screen
then says the same), or several windows equally plausible. Callers then use the whole
screen.

    >>> from PIL import ImageDraw
    >>> img = Image.new("RGB", (800, 600), "#3b5b7b")
    >>> draw = ImageDraw.Draw(img)
    >>> draw.rectangle((40, 40, 600, 500), fill="white", outline="black")      # an editor
    >>> draw.rectangle((300, 250, 700, 400), fill="#e8e8e8", outline="black")  # a dialog over it
    >>> box = find_foreground(img)
    >>> box.x0, box.y0, box.x1, box.y1
    (301, 251, 700, 400)
    >>> find_foreground(Image.new("RGB", (800, 600), "white")) is None  # nothing covers anything
    True
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from screenstate.screen.windows import FLOAT_MARGIN, Box, floats_in

#: brightness step (0-255) that counts as an edge between neighbouring pixels
EDGE_STEP = 12
#: slack in pixels when matching edge ends and corners
SLACK = 3
#: an outline partly covered by a rectangle crosses its border at least twice
MIN_CUT_ENDS = 2


def _runs(mask: np.ndarray, min_len: int) -> list[tuple[int, int, int]]:
    """(row, start, end) of runs of True at least ``min_len`` long in each row of ``mask``."""
    padded = np.zeros((mask.shape[0], mask.shape[1] + 2), dtype=np.int8)
    padded[:, 1:-1] = mask
    d = np.diff(padded, axis=1)
    rows_s, starts = np.nonzero(d == 1)
    rows_e, ends = np.nonzero(d == -1)
    keep = ends - starts >= min_len  # starts and ends pair up in row-major order
    return list(zip(rows_s[keep].tolist(), starts[keep].tolist(), ends[keep].tolist()))


def _edges(gray: np.ndarray, min_h: int, min_v: int) -> tuple[list[tuple[int, int, int]], list[tuple[int, int, int]]]:
    """Long horizontal edges (y, x0, x1) and vertical edges (x, y0, y1)."""
    horiz = np.abs(np.diff(gray, axis=0)) >= EDGE_STEP  # between row y and y+1
    vert = np.abs(np.diff(gray, axis=1)) >= EDGE_STEP  # between column x and x+1
    h = [(y + 1, x0, x1) for y, x0, x1 in _runs(horiz, min_h)]
    v = [(x + 1, y0, y1) for x, y0, y1 in _runs(vert.T, min_v)]
    return h, v


def _covered(v_at: dict[int, list[tuple[int, int]]], x: int, y0: int, y1: int) -> bool:
    """A vertical edge near column ``x`` spans ``y0..y1`` (within the slack)."""
    for xx in range(x - SLACK, x + SLACK + 1):
        for a, b in v_at.get(xx, ()):
            if a <= y0 + SLACK and b >= y1 - SLACK:
                return True
    return False


def _rectangles(h: list[tuple[int, int, int]], v: list[tuple[int, int, int]], min_side: int) -> list[Box]:
    v_at: dict[int, list[tuple[int, int]]] = {}
    for x, y0, y1 in v:
        v_at.setdefault(x, []).append((y0, y1))
    by_ends: dict[tuple[int, int], list[tuple[int, int, int]]] = {}
    for seg in h:
        by_ends.setdefault((seg[1] // 8, seg[2] // 8), []).append(seg)
    out = set()
    for (a, b), segs in by_ends.items():
        near = [s for da in (-1, 0, 1) for db in (-1, 0, 1) for s in by_ends.get((a + da, b + db), ())]
        for top in segs:
            for bot in near:
                if bot[0] - top[0] < min_side or abs(bot[1] - top[1]) > SLACK or abs(bot[2] - top[2]) > SLACK:
                    continue
                x0, x1 = min(top[1], bot[1]), max(top[2], bot[2])
                if _covered(v_at, x0, top[0], bot[0]) and _covered(v_at, x1, top[0], bot[0]):
                    out.add(Box(x0, top[0], x1, bot[0]))
    return sorted(out, key=lambda r: -r.area)


def _ends_on_border(box: Box, h: list[tuple[int, int, int]], v: list[tuple[int, int, int]]) -> int:
    """Edges outside ``box`` that stop at its border: outlines of what it covers. An edge in
    line with the box's own top/bottom (left/right) edge continues it, as the cells of a
    table or a list on a web page do, and is not counted: a covered outline meets the
    border in a T, away from its corners, and does not go on inside the box (a grid line
    crossing a table does)."""
    inside_h = {y for y, x0, x1 in h if box.x0 - SLACK <= x0 and x1 <= box.x1 + SLACK}
    inside_v = {x for x, y0, y1 in v if box.y0 - SLACK <= y0 and y1 <= box.y1 + SLACK}

    def through(at: int, inside: set[int]) -> bool:  # the same line goes on inside the box
        return any(abs(at - i) <= SLACK for i in inside)

    n = 0
    for y, x0, x1 in h:
        if box.y0 + SLACK < y < box.y1 - SLACK and not (box.x0 - SLACK <= x0 and x1 <= box.x1 + SLACK):
            n += int((abs(x1 - box.x0) <= SLACK or abs(x0 - box.x1) <= SLACK) and not through(y, inside_h))
    for x, y0, y1 in v:
        if box.x0 + SLACK < x < box.x1 - SLACK and not (box.y0 - SLACK <= y0 and y1 <= box.y1 + SLACK):
            n += int((abs(y1 - box.y0) <= SLACK or abs(y0 - box.y1) <= SLACK) and not through(x, inside_v))
    return n


def find_foreground(image: Image.Image, max_side: int = 1280) -> Box | None:
    """The topmost window's box in ``image`` pixels, or None (see the module docstring).

    Works on a copy downscaled to ``max_side`` (box corners are scaled back). A window is
    at least 1/12 of the screen's shorter side on each side and at most 90 % of its area.
    """
    scale = min(1.0, max_side / max(image.size))
    small = image if scale == 1.0 else image.resize((round(image.width * scale), round(image.height * scale)))
    gray = np.asarray(small.convert("L"), dtype=np.int16)
    hgt, wid = gray.shape
    min_side = max(24, min(wid, hgt) // 12)
    h, v = _edges(gray, min_h=min_side, min_v=min_side // 2)
    rects = [r for r in _rectangles(h, v, min_side) if r.area <= 0.9 * wid * hgt and r.x1 - r.x0 >= min_side]
    outer: list[Box] = []
    for r in rects:  # largest first: a rectangle inside a kept one is part of that window
        if not any(o.contains(r, SLACK) for o in outer):
            outer.append(r)
    votes = [_ends_on_border(r, h, v) for r in outer]
    floating: list[tuple[Box, int]] = []
    for r in rects:  # ... unless it floats in it: a window lying on that window
        parent = next(
            (
                k
                for k, o in enumerate(outer)
                if o != r and o.contains(r, SLACK) and floats_in((r.x0, r.y0, r.x1, r.y1), (o.x0, o.y0, o.x1, o.y1))
            ),
            None,
        )
        if parent is not None and not any(f.contains(r, SLACK) for f, _ in floating):
            floating.append((r, max(_ends_on_border(r, h, v), votes[parent] + 1, MIN_CUT_ENDS)))
    outer += [r for r, _ in floating]
    votes += [n for _, n in floating]
    top = max(votes, default=0)
    if top < MIN_CUT_ENDS or votes.count(top) > 1:
        return None
    best = outer[votes.index(top)]
    inv = 1.0 / scale
    return Box(
        int(best.x0 * inv),
        int(best.y0 * inv),
        min(image.width, int(best.x1 * inv)),
        min(image.height, int(best.y1 * inv)),
    )


def front_mask(boxes: list[tuple[float, float, float, float]], window: Box | None) -> tuple[bool, ...]:
    """Per OCR line box: whether its centre lies in the foreground ``window``. Empty when
    there is no window, or when it holds no line or every line (then nothing is behind it
    and the whole screen is the foreground)."""
    if window is None:
        return ()
    mask = tuple(window.contains_point((b[0] + b[2]) / 2, (b[1] + b[3]) / 2) for b in boxes)
    return mask if any(mask) and not all(mask) else ()


#: what the foreground marks in stored text features depend on (part of the text channel's
#: feature version): the finder's constants and code
FEATURE_SETTINGS = (EDGE_STEP, SLACK, MIN_CUT_ENDS, FLOAT_MARGIN)
FEATURE_CODE = (_runs, _edges, _covered, _rectangles, _ends_on_border, floats_in, find_foreground, front_mask)
