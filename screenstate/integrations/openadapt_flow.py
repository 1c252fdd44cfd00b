"""openadapt-flow adapters: a state verifier and a screen-evidence effect verifier.

    from screenstate import StateChecker
    from screenstate.integrations.openadapt_flow import StateVerifier

    checker = StateChecker("states.json")
    checker.wait_for("save_dialog", grab=backend.screenshot)          # PNG bytes, as they are
    Replayer(..., state_verifier=StateVerifier(checker, {"the invoice is saved": "saved_dialog"}))

``StateVerifier.holds(frame_png, expected_state)`` answers with the class file's state for
the expected state (mapped through ``states``; an unmapped name must be a class name). It
runs on this machine (``MAY_EGRESS = False``). An expected state that maps to no class
raises: openadapt-flow treats any exception as "does not hold" and halts, which is the
answer a check we cannot make must give.

:class:`ScreenStateEffectVerifier` is registered under openadapt-flow's
``openadapt_flow.effect_verifiers`` entry point as kind ``screenstate``. It declares itself
what it is: screen evidence (``VerificationTier.IMMEDIATE_SCREEN``,
``independent_system_of_record = False``, ``assurance="screen_readback"``). It confirms a
``field_equals`` effect on field ``screen_state`` when the screen reaches that state, and
never confirms a save: a ``record_written`` (or any other) effect is INDETERMINATE, because
a screen can show "saved" while nothing was written. openadapt-flow is imported only when
a verifier builds its verdicts (tested against openadapt-flow 2.4.0).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from screenstate.checker import StateChecker
from screenstate.errors import StateTimeoutError, UnknownNameError

#: ``effects.kind`` of the effect verifier (the entry point's name)
KIND = "screenstate"
#: the effect field a screen state is checked against
FIELD = "screen_state"


def _checker(checker: StateChecker | str | Path | Mapping[str, Any]) -> StateChecker:
    if isinstance(checker, StateChecker):
        return checker
    return StateChecker(dict(checker) if isinstance(checker, Mapping) else checker)


class StateVerifier:
    """``holds(frame_png, expected_state)`` for ``openadapt_flow.Replayer(state_verifier=...)``."""

    #: runs locally: no frame leaves the machine
    MAY_EGRESS = False

    def __init__(
        self, checker: StateChecker | str | Path | Mapping[str, Any], states: Mapping[str, str] | None = None
    ) -> None:
        """``checker``: a StateChecker or a class file; ``states``: expected-state text ->
        class name (names of the class file map to themselves)."""
        self.checker = _checker(checker)
        self.states = dict(states or {})
        for name in self.states.values():
            if name not in self.checker.names:
                raise UnknownNameError("state", name, self.checker.names)

    def class_for(self, expected_state: str) -> str:
        """The class an expected state stands for."""
        name = self.states.get(expected_state, expected_state)
        if name not in self.checker.names:
            raise UnknownNameError(
                "expected state (map it to a class with states=)", expected_state, self.checker.names
            )
        return name

    def holds(self, frame_png: bytes, expected_state: str) -> bool:
        """Whether the frame shows the expected state (above its min_score)."""
        return self.checker.is_state(frame_png, self.class_for(expected_state))


class ScreenStateEffectVerifier:
    """An openadapt-flow effect verifier that reads the screen state: screen evidence,
    never proof of a save (see the module docstring)."""

    substrate = "screen:screenstate"
    #: a screen read-back shares the surface the replay drove: not the system of record
    independent_system_of_record = False
    MAY_EGRESS = False

    def __init__(
        self,
        checker: StateChecker | str | Path | Mapping[str, Any],
        grab: Callable[[], Any] | None = None,
        timeout: float = 5.0,
        interval: float = 0.2,
    ) -> None:
        """``grab``: takes a screenshot (``backend.screenshot``; or :meth:`bind_backend`)."""
        self.checker = _checker(checker)
        self.grab, self.timeout, self.interval = grab, timeout, interval

    @property
    def verification_tier(self) -> Any:
        """``VerificationTier.IMMEDIATE_SCREEN``: the acting screen shows it."""
        from openadapt_flow.verification import VerificationTier

        return VerificationTier.IMMEDIATE_SCREEN

    def bind_backend(self, backend: Any) -> None:
        """Read the screen of an openadapt-flow backend (``backend.screenshot()``, PNG bytes)."""
        self.grab = backend.screenshot

    def _state(self) -> dict[str, Any] | None:
        if self.grab is None:
            return None
        r = self.checker.which(self.grab())
        return {"state": r.state, "best": r.best, "raw_score": round(r.raw_score, 4)}

    def test_connection(self, context: Any = None) -> Any:
        from openadapt_flow.runtime.effects.adapter import ConnectionProbe

        ok = self.grab is not None
        why = "screen readable" if ok else "no screen bound: call bind_backend(backend) or pass grab="
        return ConnectionProbe(ok=ok, substrate=self.substrate, reason=why)

    def capture_pre_state(self, context: Any = None) -> Any:
        """The screen's state now (a screen observation, not a system-of-record read)."""
        from openadapt_flow.runtime.effects.effect import EffectState

        seen = self._state()
        detail = {"same_surface": True, "evidence": "screen state (screenstate)"}
        return EffectState(
            substrate=self.substrate, reachable=seen is not None, records=[seen] if seen else [], detail=detail
        )

    def capture_post_state(self, context: Any = None) -> Any:
        return self.capture_pre_state(context)

    def expected_state(self, expected: Any, params: Mapping[str, object] | None = None) -> str | None:
        """The class a ``field_equals`` effect on ``screen_state`` expects (literal or run param)."""
        kind = getattr(expected.kind, "value", expected.kind)
        if kind != "field_equals" or expected.field != FIELD or expected.value is None:
            return None
        value = expected.value
        if getattr(value, "param", None):
            got = (params or {}).get(value.param)
            return None if got is None else str(got)
        return str(getattr(value, "literal", value))

    def verify(self, expected: Any, before: Any, context: Any = None) -> Any:
        from openadapt_flow.runtime.effects.effect import EffectVerdict, Verdict

        def verdict(v: Any, reason: str, **kw: Any) -> Any:
            return EffectVerdict(
                verdict=v,
                kind=expected.kind,
                substrate=self.substrate,
                reason=reason,
                assurance="screen_readback",
                **kw,
            )

        state = self.expected_state(expected, context if isinstance(context, Mapping) else None)
        if state is None:
            return verdict(
                Verdict.INDETERMINATE,
                f"screen evidence only checks a field_equals effect on {FIELD!r}; it is never proof of a save",
            )
        if state not in self.checker.names:
            return verdict(
                Verdict.INDETERMINATE, f"{state!r} is not a state of the class file ({', '.join(self.checker.names)})"
            )
        if self.grab is None:
            return verdict(Verdict.INDETERMINATE, "no screen bound (bind_backend)", unavailable=True)
        try:
            got = self.checker.wait_for(state, self.grab, timeout=self.timeout, interval=self.interval)
        except StateTimeoutError as e:
            return verdict(Verdict.REFUTED, f"the screen did not reach {state!r}: {e}", expected_value=state)
        return verdict(
            Verdict.CONFIRMED,
            f"the screen shows {state!r} (screen evidence, not a system-of-record read)",
            observed_value=got.result.state,
            expected_value=state,
        )


def effect_verifier_factory(cfg: Any, params: Mapping[str, object] | None = None) -> ScreenStateEffectVerifier:
    """The ``openadapt_flow.effect_verifiers`` factory: ``effects.options`` gives
    ``classes`` (the class file, required), ``timeout`` and ``interval`` (seconds)."""
    options = dict(getattr(cfg, "options", None) or {})
    if not options.get("classes"):
        raise ValueError("effects.options.classes: the screenstate effect verifier needs a class file (a JSON path)")
    return ScreenStateEffectVerifier(
        str(options["classes"]),
        timeout=float(options.get("timeout", 5.0)),
        interval=float(options.get("interval", 0.2)),
    )
