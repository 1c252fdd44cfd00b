"""The README's suggest -> label -> classify walkthrough, run as written on the bundled
example recording (every ``screenstate`` line of the block under "From a recording to a
class file", through the real CLI in-process; ``review`` only opened, not served). The class
file it ends with must classify its own recording: every named frame right, and the
desktop frames (``unknown`` in labels.csv) with no state."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest
from typer.testing import CliRunner

from screenstate.cli import app

ROOT = Path(__file__).resolve().parents[1]
SECTION = "## From a recording to a class file"


def walkthrough_commands() -> list[list[str]]:
    """The ``screenstate ...`` commands of the section's bash block, continuation lines
    joined and trailing comments dropped."""
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"```bash\n(.*?)```", readme[readme.index(SECTION) :], re.S)
    assert block, f"README: no bash block under {SECTION!r}"
    text = block.group(1).replace("\\\n", " ")
    return [shlex.split(line, comments=True)[1:] for line in text.splitlines() if line.startswith("screenstate ")]


@pytest.fixture(scope="module")
def walked(tmp_path_factory):
    """Run the walkthrough in a fresh folder (``examples/`` linked in, read-only to us);
    returns {command name: output} and the folder."""
    work = tmp_path_factory.mktemp("walkthrough")
    (work / "examples").symlink_to(ROOT / "examples", target_is_directory=True)
    before = sorted(p.name for p in (ROOT / "examples" / "recording").iterdir())
    runner, outputs = CliRunner(), {}
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(work)
        for argv in walkthrough_commands():
            if argv[0] == "review":  # a server: its page is tested in tests/review
                continue
            res = runner.invoke(app, argv)
            assert res.exit_code == 0, f"screenstate {shlex.join(argv)}\n{res.output}"
            outputs[argv[0]] = outputs.get(argv[0], "") + res.output
    assert sorted(p.name for p in (ROOT / "examples" / "recording").iterdir()) == before  # nothing written there
    return outputs, work


def test_walkthrough_runs_as_written_and_names_every_state(walked):
    outputs, work = walked
    assert "13 frames -> 7 suggested states" in outputs["suggest"]
    assert (work / "my_states.json").is_file() and (work / "out.csv").is_file()
    # the class file classifies its own recording: every frame of a named state right
    assert "named states 11/11" in outputs["classify-directory"], outputs["classify-directory"]
    assert "accuracy vs labels: 13/13" in outputs["classify-directory"]  # as the README shows


def test_walkthrough_leaves_the_desktop_frames_without_a_state(walked):
    outputs, work = walked
    assert "none of the above 2/2" in outputs["classify-directory"]
    # by the min_score `label --min-scores` proposed and wrote, one per named class
    configs = json.loads((work / "my_states.json").read_text())["classifier_configs"]
    assert len(configs) == 10 and all(0 < c["min_score"] < 1 for c in configs)
    assert "min_score written for 10 of 10 classes" in outputs["label"]
