"""Legacy OpenAdapt: a ``BaseReplayStrategy`` mixin that waits for the recorded state.

    from openadapt.strategies.naive import NaiveReplayStrategy
    from screenstate.integrations.openadapt_legacy import WaitForRecordedState

    class CheckedReplay(WaitForRecordedState, NaiveReplayStrategy):
        pass

    strategy = CheckedReplay(recording)
    strategy.wait_for_states(StateChecker("states.json"), states_before)   # or from the recording
    strategy.run()

Before handing out action *i*, ``get_next_action_event`` waits until the screen is in
``states_before[i]``, the state the recording had before that action (the ``state_before``
column of a recording's actions table, or :func:`states_before_actions` on the action
screenshots); ``None`` means no check. The wait starts with the screenshot the strategy was
given and then grabs new ones (legacy OpenAdapt's ``Screenshot.take_screenshot()`` unless a
``grab`` is passed). A state that does not arrive raises :class:`StateTimeoutError` naming
what was on screen, and the action is not played. OpenAdapt is imported only for that
default ``grab``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from screenstate.checker import StateChecker
from screenstate.embeddings.images import ImageInput


def _image(screenshot: Any) -> Any:
    """A legacy ``Screenshot`` model's PIL image (or the input when it is an image already)."""
    return getattr(screenshot, "image", screenshot)


def _take_screenshot() -> Any:
    from openadapt.models import Screenshot  # legacy OpenAdapt, only for this default

    return Screenshot.take_screenshot().image


def states_before_actions(checker: StateChecker, screenshots: Sequence[Any]) -> list[str | None]:
    """The state before each action from its recorded screenshot (``None``: none of the above)."""
    checker.reset()
    return [checker.which(_image(s)).state for s in screenshots]


class WaitForRecordedState:
    """Mix in before a ``BaseReplayStrategy`` (see the module docstring)."""

    state_checker: StateChecker | None = None
    states_before: Sequence[str | None] = ()
    state_timeout: float = 10.0
    state_interval: float = 0.2
    state_grab: Callable[[], ImageInput] | None = None
    _state_step: int = 0

    def wait_for_states(
        self,
        checker: StateChecker,
        states_before: Sequence[str | None] | None = None,
        grab: Callable[[], ImageInput] | None = None,
        timeout: float = 10.0,
        interval: float = 0.2,
    ) -> None:
        """Turn the checks on; without ``states_before`` they come from the recording's
        action screenshots (``self.recording.action_events[i].screenshot``)."""
        if states_before is None:
            events = getattr(getattr(self, "recording", None), "action_events", None) or []
            states_before = states_before_actions(checker, [e.screenshot for e in events])
        self.state_checker, self.states_before = checker, list(states_before)
        self.state_grab, self.state_timeout, self.state_interval = grab, timeout, interval
        self._state_step = 0

    def _frames(self, first: Any) -> Iterator[ImageInput]:
        yield _image(first)
        grab = self.state_grab or _take_screenshot
        while True:
            if self.state_interval > 0:
                time.sleep(self.state_interval)
            yield grab()

    def get_next_action_event(self, screenshot: Any, window_event: Any) -> Any:
        """Wait for the recorded state before action i, then the wrapped strategy's action."""
        i = self._state_step
        expected = self.states_before[i] if i < len(self.states_before) else None
        if self.state_checker is not None and expected is not None:
            self.state_checker.wait_for(expected, self._frames(screenshot), timeout=self.state_timeout)
        self._state_step = i + 1
        return super().get_next_action_event(screenshot, window_event)  # type: ignore[misc]  # a mixin: the strategy base class is only known at runtime
