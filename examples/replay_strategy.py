"""A minimal record-and-replay strategy that waits for screen states between actions.

No automation framework is needed: plug in your own ``grab`` (take a screenshot) and
``act`` (click / type) callables. Run it against the bundled recording, which plays the
role of a live screen:

    python examples/replay_strategy.py

Each step says which state must be on screen before acting, and which state the action
should lead to. ``StateChecker.wait_for`` polls screenshots until the state arrives (or
raises a StateTimeoutError that says what was on screen instead).

The second part replays a recorded session the way legacy OpenAdapt does: a strategy hands
out the recorded actions one by one (``get_next_action_event``), and the
``WaitForRecordedState`` mixin (``screenstate.integrations.openadapt_legacy``) first waits
for the state the recording had before each action. The recording's frames, served in
order, are the screen; ``RecordedActions`` stands in for OpenAdapt's ``BaseReplayStrategy``
(same method), so OpenAdapt need not be installed.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from screenstate import StateChecker
from screenstate.errors import StateTimeoutError
from screenstate.integrations.openadapt_legacy import WaitForRecordedState


@dataclass(frozen=True)
class Step:
    """One recorded action and the states around it."""

    name: str
    before: str  # state that must be on screen before acting
    action: Callable[[], None]
    after: str | None = None  # state the action should lead to


class ReplayStrategy:
    """Replays steps, checking the screen state before and after each action."""

    def __init__(self, checker: StateChecker, grab: Callable[[], Any], timeout: float = 10.0, interval: float = 0.2):
        self.checker, self.grab, self.timeout, self.interval = checker, grab, timeout, interval
        self.log: list[str] = []

    def run(self, steps: list[Step]) -> bool:
        for step in steps:
            try:
                got = self.checker.wait_for(step.before, self.grab, timeout=self.timeout, interval=self.interval)
            except StateTimeoutError as e:
                self.log.append(f"{step.name}: precondition failed: {e}")
                return False
            self.log.append(f"{step.name}: {step.before} after {got.frames_seen} frame(s), {got.elapsed * 1000:.0f} ms")
            step.action()
            if step.after:
                try:
                    self.checker.wait_for(step.after, self.grab, timeout=self.timeout, interval=self.interval)
                except StateTimeoutError as e:
                    self.log.append(f"{step.name}: action did not reach {step.after}: {e}")
                    return False
        return True


class RecordedActions:
    """Hands out a recording's actions in order: legacy OpenAdapt's ``BaseReplayStrategy``
    interface (``get_next_action_event(screenshot, window_event)``)."""

    def __init__(self, recording: Any) -> None:
        self.recording, self.played = recording, 0

    def get_next_action_event(self, screenshot: Any, window_event: Any) -> Any:
        event = self.recording.action_events[self.played]
        self.played += 1
        return event


class CheckedReplay(WaitForRecordedState, RecordedActions):
    """Waits for the recorded state before every action, then plays it."""


def replay_recording(checker: StateChecker, frames: list[Path], action_at: list[int]) -> list[str]:
    """Replay actions taken on ``frames[i]`` for i in ``action_at``, with ``frames`` served
    in order as the live screen; returns a log line per action."""
    recording = SimpleNamespace(
        action_events=[SimpleNamespace(name=f"action {n}", screenshot=frames[i]) for n, i in enumerate(action_at)]
    )
    screen: Iterator[Path] = iter(frames)
    strategy = CheckedReplay(recording)
    strategy.wait_for_states(checker, grab=lambda: next(screen), timeout=60, interval=0)
    log = []
    for expected in list(strategy.states_before):
        event = strategy.get_next_action_event(next(screen), None)
        log.append(f"{event.name}: screen in {expected or 'any state'} -> played")
    return log


def main() -> int:
    root = Path(__file__).resolve().parent
    frames = iter(sorted((root / "recording").glob("*.png")))

    def grab() -> Path:  # stands in for a real screenshot function
        return next(frames)

    checker = StateChecker(root.parent / "configs" / "demo_states.json")
    steps = [
        Step("pick a file", before="file_chooser", action=lambda: None, after="error_dialog"),
        Step("dismiss the error", before="error_dialog", action=lambda: None),
        Step("log in", before="login_page", action=lambda: None, after="dashboard"),
    ]
    strategy = ReplayStrategy(checker, grab, timeout=60, interval=0)
    ok = strategy.run(steps)
    print("\n".join(strategy.log))
    print("replay", "succeeded" if ok else "failed")
    frames = sorted((root / "recording").glob("*.png"))
    print(
        "\n".join(replay_recording(StateChecker(root.parent / "configs" / "demo_states.json"), frames, [2, 4, 8, 11]))
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
