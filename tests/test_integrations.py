"""Replay integrations: openadapt-flow's state verifier and effect-verifier plugin, legacy
OpenAdapt's replay-strategy mixin, and the example replaying a recorded session. The
openadapt-flow effect tests build openadapt-flow's own types and run where it is installed
(tested with openadapt-flow 2.4.0); the rest need no OpenAdapt."""

from __future__ import annotations

import importlib.util
import io
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import tomllib
from PIL import Image

from screenstate import StateChecker
from screenstate.errors import StateTimeoutError, UnknownNameError
from screenstate.integrations.openadapt_flow import ScreenStateEffectVerifier, StateVerifier, effect_verifier_factory
from screenstate.integrations.openadapt_legacy import WaitForRecordedState

NAMES = ("login_page", "error_dialog", "file_chooser")
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def classes(tmp_path_factory, data_dir):
    import json

    d = tmp_path_factory.mktemp("states")
    cfgs = []
    for n in NAMES:
        (d / f"{n}.png").write_bytes((data_dir / f"{n}.png").read_bytes())
        cfgs.append({"name": n, "examples_to_include": [{"image": f"{n}.png"}]})
    (d / "states.json").write_text(json.dumps({"classifier_configs": cfgs}))
    return d / "states.json"


@pytest.fixture(scope="module")
def checker(classes):
    return StateChecker(classes, encoder="visual")


def _png(data_dir, name: str) -> bytes:
    buf = io.BytesIO()
    Image.open(data_dir / f"{name}.png").save(buf, format="PNG")
    return buf.getvalue()


def test_state_verifier_maps_expected_states_to_classes(checker, data_dir):
    v = StateVerifier(checker, {"the sign-in form is shown": "login_page"})
    assert v.MAY_EGRESS is False
    assert v.holds(_png(data_dir, "login_page"), "the sign-in form is shown")
    assert v.holds(_png(data_dir, "error_dialog"), "error_dialog")  # a class name maps to itself
    assert not v.holds(_png(data_dir, "error_dialog"), "the sign-in form is shown")
    with pytest.raises(UnknownNameError, match="map it to a class"):
        v.holds(_png(data_dir, "login_page"), "the text 'Saved' is visible on the screen")
    with pytest.raises(UnknownNameError):
        StateVerifier(checker, {"x": "no_such_class"})


def test_wait_for_takes_png_bytes_from_a_backend(checker, data_dir):
    shots = iter([_png(data_dir, "login_page"), _png(data_dir, "file_chooser")])
    backend = SimpleNamespace(screenshot=lambda: next(shots))
    got = checker.wait_for("file_chooser", grab=backend.screenshot, timeout=30, interval=0)
    assert got.frames_seen == 2


def test_the_effect_verifier_is_an_entry_point_of_openadapt_flow():
    eps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["entry-points"]
    target = eps["openadapt_flow.effect_verifiers"]["screenstate"]
    module, attr = target.split(":")
    assert getattr(importlib.import_module(module), attr) is effect_verifier_factory
    with pytest.raises(ValueError, match="options.classes"):
        effect_verifier_factory(SimpleNamespace(options={}))


def test_effect_verifier_is_screen_evidence_never_proof_of_a_save(checker, data_dir):
    pytest.importorskip("openadapt_flow")
    from openadapt_flow.runtime.effects.adapter import validate_verifier_adapter
    from openadapt_flow.runtime.effects.effect import Effect, EffectKind, Verdict
    from openadapt_flow.verification import VerificationTier

    shots = iter([_png(data_dir, "login_page"), _png(data_dir, "error_dialog")])
    v = ScreenStateEffectVerifier(checker, timeout=30, interval=0)
    assert not v.test_connection().ok and v.capture_pre_state().reachable is False
    v.bind_backend(SimpleNamespace(screenshot=lambda: next(shots)))
    validate_verifier_adapter(v)  # openadapt-flow's own plugin check
    assert v.verification_tier is VerificationTier.IMMEDIATE_SCREEN and v.independent_system_of_record is False
    before = v.capture_pre_state()
    assert before.reachable and before.records[0]["state"] == "login_page"
    ok = v.verify(Effect(kind=EffectKind.FIELD_EQUALS, field="screen_state", value="error_dialog"), before)
    assert ok.verdict is Verdict.CONFIRMED and ok.assurance == "screen_readback"
    save = v.verify(Effect(kind=EffectKind.RECORD_WRITTEN, match={"id": "42"}), before)
    assert save.verdict is Verdict.INDETERMINATE and "never proof of a save" in save.reason
    stuck = ScreenStateEffectVerifier(checker, grab=lambda: _png(data_dir, "login_page"), timeout=0.2, interval=0.05)
    no = stuck.verify(Effect(kind=EffectKind.FIELD_EQUALS, field="screen_state", value="file_chooser"), before)
    assert no.verdict is Verdict.REFUTED and "last seen: login_page" in no.reason


class _Actions:
    """Legacy OpenAdapt's BaseReplayStrategy interface: recorded actions in order."""

    def __init__(self, recording):
        self.recording, self.played = recording, 0

    def get_next_action_event(self, screenshot, window_event):
        self.played += 1
        return self.recording.action_events[self.played - 1]


class _Checked(WaitForRecordedState, _Actions):
    pass


def test_mixin_waits_for_the_recorded_state_before_each_action(checker, data_dir):
    frames = {n: Image.open(data_dir / f"{n}.png") for n in NAMES}
    recording = SimpleNamespace(action_events=[SimpleNamespace(screenshot=frames[n]) for n in NAMES])
    strategy = _Checked(recording)
    screen = iter([frames["error_dialog"], frames["login_page"], frames["error_dialog"]])
    strategy.wait_for_states(checker, grab=lambda: next(screen), timeout=30, interval=0)
    assert list(strategy.states_before) == list(NAMES)  # from the recording's action screenshots
    strategy.get_next_action_event(frames["file_chooser"], None)  # waits: file_chooser -> error -> login_page
    assert strategy.played == 1 and next(screen) is frames["error_dialog"]
    late = _Checked(recording)
    late.wait_for_states(checker, ["file_chooser"], grab=lambda: frames["login_page"], timeout=0.2, interval=0.05)
    with pytest.raises(StateTimeoutError, match="last seen: login_page"):
        late.get_next_action_event(frames["login_page"], None)
    assert late.played == 0  # the action was not played


def test_example_replays_a_recorded_session(checker, data_dir):
    path = ROOT / "examples" / "replay_strategy.py"
    spec = importlib.util.spec_from_file_location("replay_strategy_example", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules["replay_strategy_example"] = mod
    spec.loader.exec_module(mod)
    frames = [data_dir / f"{n}.png" for n in ("login_page", "login_page", "error_dialog", "file_chooser")]
    log = mod.replay_recording(checker, frames, [0, 2, 3])
    assert log == [
        "action 0: screen in login_page -> played",
        "action 1: screen in error_dialog -> played",
        "action 2: screen in file_chooser -> played",
    ]
