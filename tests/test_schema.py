from __future__ import annotations

import json

import pytest

from screenstate.errors import SpecError
from screenstate.schema import ClassSpec, DetectorSpec, ImageExample, json_schema

GOOD = {"classifier_configs": [{"name": "a", "examples_to_include": ["x"]}]}


def _cfg(**kw):
    base = {"name": "a", "examples_to_include": ["x"]}
    base.update(kw)
    return base


@pytest.mark.parametrize(
    "data, message",
    [
        ({"classifier_configs": []}, "classifier_configs: at least one item is required"),
        ({}, "classifier_configs: field is required"),
        ({**GOOD, "colour": 1}, "colour: unknown field"),
        ({"classifier_configs": [_cfg(extra=1)]}, "classifier_configs[0].extra: unknown field"),
        ({"classifier_configs": [_cfg(name="  ")]}, "classifier_configs[0].name: name must not be empty"),
        (
            {"classifier_configs": [_cfg(), _cfg(name="b", examples_to_include=[])]},
            "classifier_configs[1].examples_to_include: at least one example is required",
        ),
        (
            {"classifier_configs": [_cfg(examples_to_include=["ok", ""])]},
            "classifier_configs[0].examples_to_include[1]: example text must not be empty",
        ),
        (
            {"classifier_configs": [_cfg(examples_to_exclude=["  "])]},
            "classifier_configs[0].examples_to_exclude[0]: example text must not be empty",
        ),
        ({"classifier_configs": [_cfg(), _cfg()]}, "classifier_configs[1].name: duplicate class name 'a'"),
        (
            {"classifier_configs": [_cfg(examples_to_include=[{"img": "x.png"}])]},
            "classifier_configs[0].examples_to_include[0]: an example object must have exactly one key",
        ),
        (
            {"classifier_configs": [_cfg(examples_to_include=[3])]},
            "classifier_configs[0].examples_to_include[0]: an example is a text string",
        ),
        ({"classifier_configs": [_cfg(min_score=1.5)]}, "classifier_configs[0].min_score"),
        (
            {"classifier_configs": [_cfg(examples_to_include="x")]},
            "classifier_configs[0].examples_to_include: must be a JSON list",
        ),
    ],
)
def test_rejections_name_the_json_path(data, message):
    with pytest.raises(SpecError) as e:
        ClassSpec.from_dict(data)
    assert message in str(e.value)


def test_missing_image_exemplar_names_path(tmp_path):
    data = {"classifier_configs": [_cfg(examples_to_include=["x", {"image": "nope.png"}])]}
    p = tmp_path / "c.json"
    p.write_text(json.dumps(data))
    with pytest.raises(
        SpecError, match=r"classifier_configs\[0\].examples_to_include\[1\].image: image file not found"
    ):
        ClassSpec.from_json(p)


def test_invalid_json_and_missing_file(tmp_path):
    p = tmp_path / "bad.json"
    p.write_text("{not json")
    with pytest.raises(SpecError, match="invalid JSON at line 1"):
        ClassSpec.from_json(p)
    with pytest.raises(SpecError, match="file not found"):
        ClassSpec.from_json(tmp_path / "missing.json")


def test_image_paths_resolve_relative_to_json(tmp_path, data_dir):
    (tmp_path / "ex").mkdir()
    (tmp_path / "ex" / "a.png").write_bytes((data_dir / "login_page.png").read_bytes())
    data = {
        "classifier_configs": [
            _cfg(examples_to_include=["x", {"image": "ex/a.png"}], examples_to_exclude=[{"exemplars": "ex"}])
        ],
        "augment_examples": False,
    }
    p = tmp_path / "c.json"
    p.write_text(json.dumps(data))
    spec = ClassSpec.from_json(p)
    cols = spec.columns()
    assert [c.text for c in cols] == ["x", None, None]
    assert cols[1].image == (tmp_path / "ex" / "a.png").resolve()
    assert cols[2].is_negative and cols[2].image.name == "a.png"
    assert isinstance(spec.classifier_configs[0].examples_to_include[1], ImageExample)
    # round trip keeps relative paths and the reference fields
    again = json.loads(spec.to_json())
    assert again["classifier_configs"][0]["examples_to_include"][1] == {"image": "ex/a.png"}
    assert again["augment_examples"] is False


def test_reference_format_is_accepted_and_min_scores():
    spec = ClassSpec.from_dict(
        {"classifier_configs": [_cfg(min_score=0.6), _cfg(name="b")], "deployed_id": "abc", "augment_examples": True}
    )
    assert spec.names == ["a", "b"]
    assert spec.min_scores(0.5) == [0.6, 0.5]


def test_detector_spec_defaults_and_errors():
    spec = DetectorSpec.from_dict({"detector_configs": [{"name": "button", "examples_to_include": ["Submit"]}]})
    assert spec.nms_threshold == 0.4 and spec.detector_configs[0].detection_threshold == 0.1
    with pytest.raises(SpecError, match=r"detector_configs\[0\].examples_to_include: at least one example"):
        DetectorSpec.from_dict({"detector_configs": [{"name": "b", "examples_to_include": []}]})


def test_json_schema_lists_fields():
    s = json_schema("classes")
    assert "classifier_configs" in s["properties"]
    assert "min_score" in json.dumps(s)
    assert "detector_configs" in json_schema("detectors")["properties"]


@pytest.mark.parametrize(
    "data, message",
    [
        ({"classifier_configs": [_cfg(min_score=True)]}, "classifier_configs[0].min_score: must be a number, got true"),
        (
            {"classifier_configs": [_cfg(min_score="0.5")]},
            'classifier_configs[0].min_score: must be a number, got "0.5"',
        ),
        ({**GOOD, "augment_examples": "yes"}, 'augment_examples: must be true or false, got "yes"'),
        ({**GOOD, "augment_examples": 1}, "augment_examples: must be true or false, got 1"),
    ],
)
def test_numbers_and_booleans_are_not_coerced(data, message):
    """`"min_score": true` once became 1.0 (every frame "none of the above")."""
    with pytest.raises(SpecError) as e:
        ClassSpec.from_dict(data)
    assert message in str(e.value)


@pytest.mark.parametrize(
    "data, field",
    [
        ({"detector_configs": [_cfg(detection_threshold=False)]}, "detector_configs[0].detection_threshold"),
        ({"detector_configs": [_cfg()], "nms_threshold": "0.4"}, "nms_threshold"),
        ({"detector_configs": [_cfg()], "class_agnostic_nms": "false"}, "class_agnostic_nms"),
    ],
)
def test_detector_numbers_and_booleans_are_strict(data, field):
    with pytest.raises(SpecError, match=field.replace("[", r"\[").replace("]", r"\]")):
        DetectorSpec.from_dict(data)


def test_integer_min_score_is_still_a_number():
    assert ClassSpec.from_dict({"classifier_configs": [_cfg(min_score=1)]}).min_scores() == [1.0]


def test_undecodable_exemplar_names_class_file_and_json_path(tmp_path, tiny_clip_encoder):
    from screenstate import ScreenClassifier

    (tmp_path / "not_an_image.png").write_bytes(b"this is text, not a PNG")
    path = tmp_path / "classes.json"
    path.write_text(
        json.dumps(
            {
                "classifier_configs": [
                    {"name": "a", "examples_to_include": ["x"]},
                    {"name": "b", "examples_to_include": ["y", {"image": "not_an_image.png"}]},
                ]
            }
        )
    )
    with pytest.raises(SpecError) as e:
        ScreenClassifier(path, encoder=tiny_clip_encoder, memory_cache=0)
    assert str(path) in str(e.value) and "classifier_configs[1].examples_to_include[1]" in str(e.value)
    assert "not_an_image.png" in str(e.value)


@pytest.mark.parametrize("name", ["../../../x", "/tmp/abs", "a/b", "a\\b", "..", ".", "C:evil", "tab\tname", "x..y"])
def test_class_names_are_names_not_paths(name):
    """A class name becomes a folder (exemplars/<name>/): a path is refused in the schema,
    so the CLI, the service and the review page refuse it the same way."""
    with pytest.raises(SpecError, match=r"classifier_configs\[0\]\.name: class name .* is a path"):
        ClassSpec.from_dict({"classifier_configs": [_cfg(name=name)]})


def test_exemplar_folder_stays_inside(tmp_path):
    from screenstate.schema import exemplar_folder

    assert exemplar_folder(tmp_path, "login page") == tmp_path / "exemplars" / "login page"
    assert exemplar_folder(tmp_path, "a", negative=True) == tmp_path / "exemplars" / "_negative" / "a"
    with pytest.raises(ValueError, match="is a path"):
        exemplar_folder(tmp_path, "../x")
    outside = tmp_path / "outside"
    outside.mkdir()
    (tmp_path / "exemplars" / "linked").symlink_to(outside)  # a class folder that is a link out
    with pytest.raises(ValueError, match="leads outside"):
        exemplar_folder(tmp_path, "linked")
