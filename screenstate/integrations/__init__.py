"""Replay integrations: thin adapters over :class:`~screenstate.StateChecker` for record &
replay frameworks, with no runtime dependency on them (their types are imported only
when one of their objects is built).

- :mod:`screenstate.integrations.openadapt_flow`: a state verifier for openadapt-flow's
  ``Replayer(state_verifier=...)`` and a screen-evidence effect verifier for its
  ``openadapt_flow.effect_verifiers`` entry-point group. Waiting for a state with an
  openadapt-flow backend needs no adapter: ``checker.wait_for(state, grab=backend.screenshot)``
  (``Backend.screenshot()`` returns PNG bytes, which the checker reads as they are).
- :mod:`screenstate.integrations.openadapt_legacy`: a mixin for legacy OpenAdapt's
  ``BaseReplayStrategy`` that waits, before each action, for the state the recording had
  before that action.
"""
