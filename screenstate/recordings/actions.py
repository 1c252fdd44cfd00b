"""The user's actions in a recording, merged from raw input events as the recorder merges them.

OpenAdapt captures store raw rows (``move``, ``click`` with ``mouse_pressed`` true/false,
``scroll``, key ``press``/``release``); openadapt-capture's ``CaptureSession.actions()``
merges them (``processing.process_events``): key sequences until every key is released
become typed text, or a shortcut (modifiers + one trigger key); consecutive scrolls add up;
a press and release of one button within the drag distance is a click, two within the
double-click interval and distance a double click; a press, moves and a release farther
than the drag distance is a drag. Moves are dropped from the result. A merged action
keeps the ``before`` screenshot of its first event and the ``after`` screenshot of its
last. This module is the same rule, over plain rows (openadapt-capture is not a
dependency); ``tests/recordings`` checks it against upstream's own result.

    >>> raw = [RawEvent(1, 10.0, "click", x=5, y=5, button="left", pressed=True, before=1, after=3),
    ...        RawEvent(2, 10.1, "click", x=5, y=5, button="left", pressed=False, before=1, after=4)]
    >>> [(a.kind, a.screenshot_source_ordinal, a.after_screenshot_source_ordinal) for a in merge_actions(raw)]
    [('click', 1, 4)]
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

#: the kinds of :class:`Action` (``mouse down``/``mouse up``: a press or release with no partner)
ACTION_KINDS = ("click", "double click", "drag", "scroll", "typed text", "key", "mouse down", "mouse up")
_MODIFIERS = {
    "alt": "alt", "alt_gr": "alt", "alt_l": "alt", "alt_r": "alt", "cmd": "meta", "cmd_l": "meta",
    "cmd_r": "meta", "command": "meta", "control": "ctrl", "ctrl": "ctrl", "ctrl_l": "ctrl",
    "ctrl_r": "ctrl", "meta": "meta", "shift": "shift", "shift_l": "shift", "shift_r": "shift",
}  # fmt: skip
_MODIFIER_ORDER = {"ctrl": 0, "alt": 1, "shift": 2, "meta": 3}
DRAG_DISTANCE = 10.0


@dataclass(frozen=True)
class RawEvent:
    """One raw input row: ``name`` is ``move``/``click``/``scroll``/``press``/``release``;
    ``before``/``after`` are the source ordinals of the screenshots the recorder bound to it."""

    ordinal: int | None
    time: float
    name: str
    x: float | None = None
    y: float | None = None
    dx: float | None = None
    dy: float | None = None
    button: str | None = None
    pressed: bool | None = None
    key: str | None = None  # canonical key name / char / vk, lower-cased
    char: str | None = None  # key_char or canonical_key_char
    before: int | None = None
    after: int | None = None
    before_time: float | None = None
    after_time: float | None = None


@dataclass(frozen=True)
class Action:
    """One user action: ``time`` (Unix seconds where known, else seconds from the start),
    ``kind`` (one of :data:`ACTION_KINDS`), where (``x``, ``y``; ``dx``, ``dy`` for drags
    and scrolls), what (``text``, ``keys``), and the screenshots it is bound to: source
    ordinals for captures, frame keys (``before_key``/``after_key``) for every recording."""

    index: int
    time: float
    kind: str
    x: float | None = None
    y: float | None = None
    dx: float | None = None
    dy: float | None = None
    button: str | None = None
    text: str | None = None
    keys: tuple[str, ...] = ()
    screenshot_source_ordinal: int | None = None
    after_screenshot_source_ordinal: int | None = None
    before_key: str | None = None
    after_key: str | None = None


def _dist(a: RawEvent, b: RawEvent) -> float:
    return math.hypot((b.x or 0.0) - (a.x or 0.0), (b.y or 0.0) - (a.y or 0.0))


def _merged(
    kind: str,
    events: Sequence[RawEvent | Action],
    *,
    x: float | None = None,
    y: float | None = None,
    dx: float | None = None,
    dy: float | None = None,
    button: str | None = None,
    text: str | None = None,
    keys: tuple[str, ...] = (),
) -> Action:
    """One action of ``kind`` spanning ``events`` (raw events only): the screenshots before
    the first and after the last."""
    raw = [e for e in events if isinstance(e, RawEvent)]
    assert len(raw) == len(events), "only raw events merge into an action"
    return Action(
        0, raw[0].time, kind, x, y, dx, dy, button, text, keys,
        screenshot_source_ordinal=raw[0].before, after_screenshot_source_ordinal=raw[-1].after,
    )  # fmt: skip


def _keyboard(buf: list[RawEvent]) -> Action:
    downs = [e for e in buf if e.name == "press"]
    mods = sorted(
        {_MODIFIERS[e.key or ""] for e in downs if (e.key or "") in _MODIFIERS}, key=lambda m: _MODIFIER_ORDER[m]
    )
    triggers = [e for e in downs if (e.key or "") not in _MODIFIERS]
    shortcut = bool(mods) and len(triggers) == 1 and not (mods == ["shift"] and bool(triggers[0].char))
    if shortcut and triggers[0].key:
        return _merged("key", buf, keys=(*mods, triggers[0].key))
    text = "".join(e.char for e in downs if e.char and (e.key or "") not in _MODIFIERS)
    keys: list[str] = []
    for e in downs:
        if e.key and e.key not in keys:
            keys.append(e.key)
    return _merged("typed text" if text else "key", buf, text=text, keys=tuple(keys))


def _merge_keys_and_scrolls(events: list[RawEvent]) -> list[RawEvent | Action]:
    out: list[RawEvent | Action] = []
    keys: list[RawEvent] = []
    pressed: set[str] = set()
    scrolls: list[RawEvent] = []

    def flush_scrolls() -> None:
        if scrolls:
            s = scrolls[0]
            dx, dy = sum(e.dx or 0.0 for e in scrolls), sum(e.dy or 0.0 for e in scrolls)
            out.append(_merged("scroll", list(scrolls), x=s.x, y=s.y, dx=dx, dy=dy))
            scrolls.clear()

    for e in events:
        if e.name in ("press", "release"):
            flush_scrolls()
            (pressed.add if e.name == "press" else pressed.discard)(e.key or "")
            keys.append(e)
            if e.name == "release" and not pressed:
                out.append(_keyboard(keys))
                keys.clear()
            continue
        if keys:
            out.append(_keyboard(keys))
            keys.clear()
            pressed.clear()
        if e.name == "scroll":
            scrolls.append(e)
        else:
            flush_scrolls()
            out.append(e)
    if keys:
        out.append(_keyboard(keys))
    flush_scrolls()
    return out


def _merge_clicks(items: list[RawEvent | Action], interval: float, distance: float) -> list[RawEvent | Action]:
    downs: list[int] = []
    up_of: dict[int, int] = {}
    next_down: dict[int, int] = {}
    prev: int | None = None
    for i, e in enumerate(items):
        if not isinstance(e, RawEvent) or e.name != "click":
            continue
        if e.pressed:
            downs.append(i)
            if prev is not None:
                p = items[prev]
                assert isinstance(p, RawEvent)
                if (
                    e.time - p.time <= interval
                    and abs((e.x or 0) - (p.x or 0)) <= distance
                    and abs((e.y or 0) - (p.y or 0)) <= distance
                    and e.button == p.button
                ):
                    next_down[prev] = i
            prev = i
        else:
            for d in reversed(downs):
                down = items[d]
                assert isinstance(down, RawEvent)
                if down.button == e.button and d not in up_of:
                    if _dist(down, e) <= DRAG_DISTANCE:
                        up_of[d] = i
                    break
    out: list[RawEvent | Action] = []
    skip: set[int] = set()
    for i, e in enumerate(items):
        if i in skip:
            continue
        if isinstance(e, RawEvent) and e.name == "click" and e.pressed and i in up_of:
            nd = next_down.get(i)
            if nd is not None and nd in up_of:
                group = [e, items[up_of[i]], items[nd], items[up_of[nd]]]
                skip.update((up_of[i], nd, up_of[nd]))
                out.append(_merged("double click", group, x=e.x, y=e.y, button=e.button))
                continue
            out.append(_merged("click", [e, items[up_of[i]]], x=e.x, y=e.y, button=e.button))
            skip.add(up_of[i])
            continue
        out.append(e)
    return out


def _detect_drags(items: list[RawEvent | Action]) -> list[RawEvent | Action]:
    out: list[RawEvent | Action] = []
    down: RawEvent | None = None
    moves: list[RawEvent] = []

    def flush() -> None:
        nonlocal down
        if down is not None:
            out.append(down)
            out.extend(moves)
        down = None
        moves.clear()

    for e in items:
        if isinstance(e, RawEvent) and e.name == "click" and e.pressed:
            flush()  # upstream drops the previous down's state here; it stays an unmatched press
            down = e
        elif isinstance(e, RawEvent) and e.name == "move" and down is not None:
            moves.append(e)
        elif isinstance(e, RawEvent) and e.name == "click" and not e.pressed and down is not None:
            if down.button == e.button and _dist(down, e) >= DRAG_DISTANCE and moves:
                dx, dy = (e.x or 0.0) - (down.x or 0.0), (e.y or 0.0) - (down.y or 0.0)
                out.append(_merged("drag", [down, *moves, e], x=down.x, y=down.y, dx=dx, dy=dy, button=down.button))
            else:
                out.extend([down, *moves, e])
            down = None
            moves.clear()
        else:
            flush()
            out.append(e)
    flush()
    return out


def merge_actions(events: list[RawEvent], interval: float = 0.5, distance: float = 5.0) -> list[Action]:
    """Merged actions of ``events`` (in recording order), moves left out; see the module docstring.
    ``interval``/``distance``: the double-click limits the capture recorded."""
    kept: list[RawEvent] = []
    last_move: RawEvent | None = None
    for e in events:
        if e.name in ("press", "release") and not (e.key or e.char):
            continue  # no key identity at all (upstream drops these too)
        if e.name == "move":
            if last_move is not None and (last_move.x, last_move.y) == (e.x, e.y):
                continue  # a move to where the pointer already was
            last_move = e
        kept.append(e)
    items = _detect_drags(_merge_clicks(_merge_keys_and_scrolls(kept), interval, distance))
    out: list[Action] = []
    for it in items:
        if isinstance(it, RawEvent):
            if it.name != "click":
                continue  # moves
            it = _merged("mouse down" if it.pressed else "mouse up", [it], x=it.x, y=it.y, button=it.button)
        out.append(replace(it, index=len(out)))
    return out
