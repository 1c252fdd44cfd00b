"""Class and detector JSON files (the reference server's format plus our extensions).

The reference (DirectAI simple-data-free-model-server) format is::

    {"classifier_configs": [{"name": "login_page",
                             "examples_to_include": ["a login form"],
                             "examples_to_exclude": ["a sign-up form"]}],
     "augment_examples": true}

Extensions: an example may be ``{"image": "path.png"}`` (an image exemplar, relative to
the JSON file) or ``{"exemplars": "dir/"}`` (every image under a directory), and a class
may set ``min_score`` (below it the class is not reported: "none of the above").

Every rejection raises :class:`~screenstate.errors.SpecError` whose message names the
JSON path, e.g. ``classifier_configs[2].examples_to_include: at least one example is
required``. This module imports no torch, so ``screenstate schema`` stays instant.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, ClassVar, Union

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from screenstate.errors import SpecError
from screenstate.schema_errors import format_validation_error

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif", ".tif", ".tiff")


def natural_key(path: Path) -> list[Any]:
    """Sort key: frame_2 before frame_10."""
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", str(path))]


#: JSON numbers and booleans are taken as written: ``true`` is not 1.0 and ``"0.5"`` is not
#: 0.5 (a coerced ``"min_score": true`` would make every frame "none of the above")
StrictUnit = Annotated[float, Field(strict=True, ge=0.0, le=1.0)]
StrictBool = Annotated[bool, Field(strict=True)]


def list_images(directory: Path) -> list[Path]:
    """Image files under ``directory`` (recursively), in natural order."""
    return sorted(
        (p for p in directory.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES),
        key=natural_key,
    )


class ImageExample(BaseModel):
    """One screenshot used as an example (path relative to the JSON file)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    image: str = Field(min_length=1, description="Path of an image file, relative to the JSON file.")


class ExemplarsExample(BaseModel):
    """Every image under a directory, each used as an example."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    exemplars: str = Field(min_length=1, description="Directory of images, relative to the JSON file.")


def _parse_example(value: Any) -> str | ImageExample | ExemplarsExample:
    if isinstance(value, (ImageExample, ExemplarsExample)):
        return value
    if isinstance(value, str):
        if not value.strip():
            raise ValueError("example text must not be empty")
        return value
    if isinstance(value, dict):
        keys = set(value)
        if keys == {"image"}:
            return ImageExample.model_validate(value)
        if keys == {"exemplars"}:
            return ExemplarsExample.model_validate(value)
        raise ValueError(f"an example object must have exactly one key, 'image' or 'exemplars'; got {sorted(keys)}")
    raise ValueError(
        f'an example is a text string, {{"image": "path.png"}} or {{"exemplars": "dir/"}}; got {type(value).__name__}'
    )


def _dump_example(value: str | ImageExample | ExemplarsExample) -> Any:
    return value if isinstance(value, str) else value.model_dump()


Example = Annotated[
    Union[str, ImageExample, ExemplarsExample],
    PlainValidator(_parse_example, json_schema_input_type=Union[str, ImageExample, ExemplarsExample]),
    PlainSerializer(_dump_example),
]


class _ExamplesConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str = Field(description="Name reported as the prediction / detection class.")
    examples_to_include: list[Example] = Field(
        description='Positive examples: text, {"image": path} or {"exemplars": dir}.'
    )
    examples_to_exclude: list[Example] = Field(default_factory=list, description="Negative examples (same forms).")

    @field_validator("name")
    @classmethod
    def _name_not_empty(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("name must not be empty")
        return v

    @field_validator("examples_to_include")
    @classmethod
    def _has_positive(cls, v: list[Any]) -> list[Any]:
        if not v:
            raise ValueError("at least one example is required")
        return v


#: what a class name may not hold: it names a folder (``exemplars/<name>/``) and a state
_NOT_IN_NAMES = re.compile(r"[/\\\x00-\x1f\x7f]")


def check_class_name(name: str) -> str:
    """A class name is a name, not a path: no ``/`` or ``\\``, no control characters, not
    ``.`` or ``..`` or containing ``..``, no drive prefix (``C:``). Exemplar folders are made
    from it, so this keeps every copy inside the class file's folder.

    >>> check_class_name("login_page")
    'login_page'
    >>> check_class_name("../x")
    Traceback (most recent call last):
    ValueError: class name '../x' is a path; a class name may not contain '/', '\\', '..', a drive prefix (C:) or control characters
    """
    if _NOT_IN_NAMES.search(name) or ".." in name or re.match(r"^[A-Za-z]:", name) or name.strip() in (".", ""):
        raise ValueError(
            f"class name {name!r} is a path; a class name may not contain '/', '\\', '..', a drive prefix (C:) or control characters"
        )
    return name


def exemplar_folder(base_dir: Path, name: str, negative: bool = False) -> Path:
    """``base_dir/exemplars/<name>`` (``exemplars/_negative/<name>`` for negatives), made if
    missing: where exemplars of class ``name`` are copied; a name that is a path is refused."""
    check_class_name(name)
    root = base_dir / "exemplars"
    folder = (root / "_negative" / name) if negative else (root / name)
    if not folder.resolve().is_relative_to(root.resolve()):  # a symlinked class folder pointing out
        raise ValueError(f"exemplar folder {folder} leads outside {root}")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


class ClassConfig(_ExamplesConfig):
    """One state: positive examples, optional negative examples, optional min_score."""

    @field_validator("name")
    @classmethod
    def _name_is_a_name(cls, v: str) -> str:
        return check_class_name(v)

    min_score: StrictUnit | None = Field(
        default=None,
        description="Minimum raw score (calibrated relevance) for this state to be reported; "
        "below it the answer is 'none of the above'.",
    )


class DetectorConfig(_ExamplesConfig):
    """One UI element to detect (reference server format)."""

    detection_threshold: StrictUnit = 0.1


def _unique_names(configs: list[Any], field: str) -> None:
    seen: dict[str, int] = {}
    for i, c in enumerate(configs):
        if c.name in seen:
            raise ValueError(
                f"{field}[{i}].name: duplicate class name {c.name!r} (first used at {field}[{seen[c.name]}])"
            )
        seen[c.name] = i


@dataclass(frozen=True)
class Column:
    """One relevance-matrix column: a text or one image file, with its class and sign."""

    class_index: int
    is_negative: bool
    text: str | None
    image: Path | None
    json_path: str


@dataclass(frozen=True)
class ExampleRef:
    """One example in the flattened order used for relevance-matrix columns."""

    class_index: int
    is_negative: bool
    example: str | ImageExample | ExemplarsExample
    json_path: str


class _SpecBase(BaseModel):
    configs_field: ClassVar[str]  # the list of configs: classifier_configs / detector_configs
    _base_dir: Path | None = PrivateAttr(default=None)
    _source: Path | None = PrivateAttr(default=None)

    @property
    def source(self) -> Path | None:
        """The JSON file this spec was read from (None for a dict); errors name it."""
        return self._source

    @property
    def base_dir(self) -> Path | None:
        """Directory that relative image paths are resolved against (the JSON file's)."""
        return self._base_dir

    def resolve(self, path: str) -> Path:
        """Resolve an example path relative to the JSON file."""
        p = Path(path).expanduser()
        if not p.is_absolute() and self._base_dir is not None:
            p = self._base_dir / p
        return p

    @classmethod
    def from_dict(cls, data: Any, base_dir: str | Path | None = None, check_files: bool = True) -> Any:
        """Validate a parsed JSON object; image paths resolve against ``base_dir``.
        ``check_files=False`` touches no file (the service refuses image examples itself)."""
        try:
            spec = cls.model_validate(data)
        except ValidationError as e:
            raise SpecError(format_validation_error(e, cls.__name__)) from e
        spec._base_dir = Path(base_dir).resolve() if base_dir is not None else None
        if check_files:
            spec._check_files()
        return spec

    @classmethod
    def from_json(cls, path: str | Path) -> Any:
        """Load and validate a JSON file."""
        p = Path(path)
        try:
            text = p.read_text(encoding="utf-8")
        except FileNotFoundError as e:
            raise SpecError(f"{p}: file not found") from e
        except (OSError, UnicodeDecodeError) as e:
            raise SpecError(f"{p}: cannot read: {e}") from e
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise SpecError(f"{p}: invalid JSON at line {e.lineno} column {e.colno}: {e.msg}") from e
        try:
            spec = cls.from_dict(data, base_dir=p.parent)
        except SpecError as e:
            raise SpecError(f"{p}: {e}") from e
        spec._source = p
        return spec

    def to_json(self, path: str | Path | None = None) -> str:
        """Serialise (paths stay as written); write to ``path`` when given."""
        text = self.model_dump_json(indent=2, exclude_none=True) + "\n"
        if path is not None:
            Path(path).write_text(text, encoding="utf-8")
        return text

    def _configs(self) -> list[Any]:
        return list(getattr(self, self.configs_field))

    @model_validator(mode="after")
    def _unique(self) -> Any:
        _unique_names(self._configs(), self.configs_field)
        return self

    @classmethod
    def coerce(cls, spec: Any) -> Any:
        """Accept a spec of this kind, a JSON file path, or a parsed dict."""
        if isinstance(spec, cls):
            return spec
        if isinstance(spec, dict):
            return cls.from_dict(spec)
        return cls.from_json(Path(spec))

    def iter_examples(self) -> Iterator[ExampleRef]:
        """Examples in column order: per class, positives then negatives."""
        field = self.configs_field
        for ci, c in enumerate(self._configs()):
            for neg, key in ((False, "examples_to_include"), (True, "examples_to_exclude")):
                for ei, ex in enumerate(getattr(c, key)):
                    yield ExampleRef(ci, neg, ex, f"{field}[{ci}].{key}[{ei}]")

    def columns(self) -> list[Column]:
        """Examples flattened to relevance-matrix columns; exemplar dirs expand to their images."""
        cols: list[Column] = []
        for ref in self.iter_examples():
            ex = ref.example
            if isinstance(ex, str):
                cols.append(Column(ref.class_index, ref.is_negative, ex, None, ref.json_path))
            elif isinstance(ex, ImageExample):
                cols.append(Column(ref.class_index, ref.is_negative, None, self.resolve(ex.image), ref.json_path))
            else:
                files = list_images(self.resolve(ex.exemplars))
                if not files:
                    raise SpecError(f"{ref.json_path}.exemplars: no images found in {self.resolve(ex.exemplars)}")
                cols.extend(
                    Column(ref.class_index, ref.is_negative, None, f, f"{ref.json_path}.exemplars") for f in files
                )
        return cols

    @property
    def names(self) -> list[str]:
        """Class names in file order."""
        return [c.name for c in self._configs()]

    def _check_files(self) -> None:
        for ref in self.iter_examples():
            ex = ref.example
            if isinstance(ex, ImageExample):
                p = self.resolve(ex.image)
                if not p.is_file():
                    raise SpecError(f"{ref.json_path}.image: image file not found: {p}")
            elif isinstance(ex, ExemplarsExample):
                p = self.resolve(ex.exemplars)
                if not p.is_dir():
                    raise SpecError(f"{ref.json_path}.exemplars: directory not found: {p}")


class Pin(BaseModel):
    """A corrected screenshot: it and its near-duplicates get ``state`` (omitted or null:
    none of the above), whatever the rule says (``classifier/pins.py``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    image: str = Field(min_length=1, description="Path of the screenshot, relative to the JSON file.")
    state: str | None = Field(default=None, description="Its state; omitted or null: none of the above.")


class ClassSpec(_SpecBase):
    """A set of screen states (classifier JSON)."""

    model_config = ConfigDict(extra="forbid", frozen=True, title="screenstate classes")
    classifier_configs: list[ClassConfig] = Field(min_length=1)
    augment_examples: StrictBool = Field(default=True, description="Prompt-ensemble text examples with templates.")
    deployed_id: str | None = Field(default=None, description="Reference-server field; used by `screenstate serve`.")
    pins: list[Pin] = Field(
        default_factory=list, description="Corrected screenshots: each and its near-duplicates get its state."
    )
    configs_field: ClassVar[str] = "classifier_configs"

    @model_validator(mode="after")
    def _pin_states(self) -> Any:
        names = self.names
        for i, pin in enumerate(self.pins):
            if pin.state is not None and pin.state not in names:
                raise ValueError(
                    f"pins[{i}].state: {pin.state!r} is not a class of this file (one of {names}, or null)"
                )
        return self

    def pin_files(self) -> list[tuple[Path, int]]:
        """Each pin's screenshot (resolved) and its class index (-1: none of the above)."""
        names = self.names
        return [(self.resolve(p.image), -1 if p.state is None else names.index(p.state)) for p in self.pins]

    def _check_files(self) -> None:
        super()._check_files()
        for i, (p, _) in enumerate(self.pin_files()):
            if not p.is_file():
                raise SpecError(f"pins[{i}].image: image file not found: {p}")

    def min_scores(self, default: float | None = None) -> list[float | None]:
        """Per-class min_score, falling back to ``default``."""
        return [c.min_score if c.min_score is not None else default for c in self.classifier_configs]


class DetectorSpec(_SpecBase):
    """A set of UI elements to detect (detector JSON, reference format)."""

    model_config = ConfigDict(extra="forbid", frozen=True, title="screenstate detectors")
    detector_configs: list[DetectorConfig] = Field(min_length=1)
    nms_threshold: StrictUnit = 0.4
    class_agnostic_nms: StrictBool = True
    augment_examples: StrictBool = True
    deployed_id: str | None = None
    configs_field: ClassVar[str] = "detector_configs"


def json_schema(kind: str = "classes") -> dict[str, Any]:
    """JSON Schema for class files (``classes``) or detector files (``detectors``)."""
    models: dict[str, type[BaseModel]] = {"classes": ClassSpec, "detectors": DetectorSpec}
    model = models.get(kind)
    if model is None:
        from screenstate.errors import UnknownNameError

        raise UnknownNameError("schema kind", kind, ["classes", "detectors"])
    return model.model_json_schema()
