"""Draw screenstate's import graph from the source (AST only; nothing is imported).

Nodes are the subpackages (``embeddings``, ``classifier``, ``batch``, ``server``, ``cli``,
``review``) and the top-level modules; ``--expand embeddings`` draws one subpackage module
by module, with what it imports (not its callers). An edge A -> B means some module of A imports one of B: solid when at import
time, dashed when inside a function (a lazy import), dotted when only for type checking.
Grey boxes are the third-party packages that load models or run infrastructure, so it shows
where models live and which layer reaches them.

    python docs/import_graph.py                       # docs/imports.dot + docs/imports.svg
    python docs/import_graph.py --expand embeddings   # docs/imports_embeddings.{dot,svg}
    python docs/import_graph.py --check               # exit 1 if a committed .dot is stale

The SVG needs Graphviz's ``dot`` (Debian: ``apt-get install graphviz``); without it only
the .dot file is written. tests/test_architecture.py checks that the committed
package-level graph (docs/imports.dot) matches the code.
"""

from __future__ import annotations

import argparse
import ast
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "screenstate"
DOCS = ROOT / "docs"

#: third-party packages drawn as nodes (the ones that load models or run the shells)
EXTERNAL = {
    "open_clip": "open_clip",
    "transformers": "transformers",
    "sentence_transformers": "sentence-transformers",
    "rapidocr_onnxruntime": "rapidocr",
    "openvino": "openvino",
    "faiss": "faiss",
    "ray": "ray",
    "av": "PyAV",
    "fastapi": "fastapi",
    "typer": "typer",
}
#: the layers of docs/ARCHITECTURE.md, top (shells) to bottom (foundations); a unit not
#: listed is drawn unclustered
LAYERS = {
    "shells": ["__main__", "cli", "server", "review", "batch"],
    "Python API": ["screenstate", "classify", "checker", "detect", "asking", "exemplars", "suggest", "evidence", "vlm"],
    "decision rules | channels + feature store": ["classifier", "embeddings"],
    "foundations": ["schema", "results", "errors", "hashing", "atomic", "lru"],
}
#: imported by nearly every module; drawn without its edges to keep the picture readable
OMITTED = {"errors"}
#: edges into this layer are drawn light, so the edges between the upper layers stand out
FOUNDATIONS = set(LAYERS["foundations"])
#: edge kinds, strongest first: an edge is drawn with the strongest kind of its imports
KINDS = ("eager", "lazy", "typing")
STYLE = {"eager": "solid", "lazy": "dashed", "typing": "dotted"}


@dataclass(frozen=True)
class Import:
    source: str  # importing module, dotted
    target: str  # imported module or name, dotted
    kind: str  # one of KINDS


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imports_of(path: Path) -> list[Import]:
    """Every import in one module, with whether it runs at import time, lazily or only for typing."""
    name = module_name(path)
    is_pkg = path.name == "__init__.py"
    out: list[Import] = []

    def visit(node: ast.AST, kind: str) -> None:
        for child in ast.iter_child_nodes(node):
            k = kind
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                k = "lazy" if kind == "eager" else kind
            if isinstance(child, ast.If) and _is_type_checking(child.test):
                for sub in child.body:
                    visit_one(sub, "typing")
                for sub in child.orelse:
                    visit_one(sub, kind)
                continue
            visit_one(child, k)

    def visit_one(child: ast.AST, kind: str) -> None:
        if isinstance(child, ast.Import):
            out.extend(Import(name, a.name, kind) for a in child.names)
        elif isinstance(child, ast.ImportFrom):
            if child.level:
                base = name.split(".") if is_pkg else name.split(".")[:-1]
                base = base[: len(base) - (child.level - 1)]
                mod = ".".join(base + ([child.module] if child.module else []))
            else:
                mod = child.module or ""
            out.extend(Import(name, f"{mod}.{a.name}", kind) for a in child.names)
        if not isinstance(child, (ast.Import, ast.ImportFrom)):
            visit(child, kind)

    visit(ast.parse(path.read_text(encoding="utf-8")), "eager")
    return out


def unit(module: str, modules: set[str], expand: str | None) -> str | None:
    """The node a dotted module (or ``module.name``) belongs to, or None if not drawn."""
    while module and module not in modules and module.split(".")[0] == PACKAGE:
        module = module.rpartition(".")[0]  # "screenstate.schema.ClassSpec" -> "screenstate.schema"
    parts = module.split(".")
    if parts[0] != PACKAGE:
        top = next((e for e in EXTERNAL if module == e or module.startswith(e + ".")), None)
        return f"ext:{top}" if top else None
    if len(parts) == 1:
        return PACKAGE
    if expand and parts[1] == expand and len(parts) > 2:
        return f"{expand}/{parts[2]}"
    return parts[1]


def graph(expand: str | None = None) -> dict[tuple[str, str], str]:
    """Edges (from, to) -> kind between units."""
    paths = sorted(p for p in (ROOT / PACKAGE).rglob("*.py") if "__pycache__" not in p.parts)
    modules = {module_name(p) for p in paths}
    edges: dict[tuple[str, str], str] = {}
    for p in paths:
        for imp in imports_of(p):
            a, b = unit(imp.source, modules, expand), unit(imp.target, modules, expand)
            if a is None or b is None or a == b or a.startswith("ext:") or {a, b} & OMITTED:
                continue
            if expand and not a.startswith(f"{expand}/"):
                continue  # an expanded package is drawn with what it imports, not its callers
            old = edges.get((a, b))
            if old is None or KINDS.index(imp.kind) < KINDS.index(old):
                edges[(a, b)] = imp.kind
    return edges


def _node(u: str) -> str:
    if u.startswith("ext:"):
        return f'  "{u}" [label="{EXTERNAL[u[4:]]}", shape=box, style="rounded,filled", fillcolor="#e8e8e8", fontcolor="#555555"];'
    label = {PACKAGE: "screenstate\\n(public API)", "__main__": "python -m screenstate"}.get(u, u)
    if "/" in u:
        label = u.split("/", 1)[1] + ".py"
    shape = "folder" if u in {"embeddings", "classifier", "batch", "server", "cli", "review"} else "box"
    return f'  "{u}" [label="{label}", shape={shape}];'


def to_dot(edges: dict[tuple[str, str], str], expand: str | None = None) -> str:
    """Graphviz source, deterministic (sorted) so a committed copy can be compared."""
    units = sorted({u for e in edges for u in e})
    title = f"screenstate.{expand}: module imports" if expand else "screenstate: package imports"
    lines = [
        "// generated by docs/import_graph.py from the source; do not edit",
        "digraph imports {",
        f'  label="{title}  (solid: at import time, dashed: lazy, dotted: typing only; '
        f'errors.py, imported by nearly everything, left out)";',
        '  labelloc=t; rankdir=TB; newrank=true; nodesep=0.25; ranksep=0.7; fontname="Helvetica";',
        '  node [fontname="Helvetica", fontsize=11]; edge [color="#4a6fa5", arrowsize=0.6];',
    ]
    if not expand:
        drawn = set(units)
        for i, (layer, members) in enumerate(LAYERS.items()):
            inside = [m for m in members if m in drawn]
            if inside:
                lines.append(f'  subgraph cluster_{i} {{ label="{layer}"; style=dashed; color="#bbbbbb";')
                lines += ["  " + _node(m) for m in inside]
                if layer not in ("Python API", "shells"):
                    lines.append("    {rank=same; " + " ".join(f'"{m}";' for m in inside) + "}")
                lines.append("  }")
                drawn -= set(inside)
        lines += [_node(u) for u in sorted(drawn)]
    else:
        lines += [_node(u) for u in units]
    for (a, b), k in sorted(edges.items()):
        light = ', color="#c8c8c8"' if b in FOUNDATIONS or b.startswith("ext:") else ""
        lines.append(f'  "{a}" -> "{b}" [style={STYLE[k]}{light}];')
    lines.append("}")
    return "\n".join(lines) + "\n"


def outputs(expand: str | None) -> Path:
    return DOCS / (f"imports_{expand}.dot" if expand else "imports.dot")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--expand", help="draw this subpackage module by module (e.g. embeddings)")
    ap.add_argument("--check", action="store_true", help="only compare with the committed .dot files")
    args = ap.parse_args(argv)
    targets = [args.expand] if args.expand else [None, "embeddings"]
    stale = []
    for expand in targets:
        dot_path, text = outputs(expand), to_dot(graph(expand), expand)
        if args.check:
            if not dot_path.exists() or dot_path.read_text() != text:
                stale.append(dot_path.relative_to(ROOT).as_posix())
            continue
        dot_path.write_text(text)
        if shutil.which("dot"):
            svg = dot_path.with_suffix(".svg")
            subprocess.run(["dot", "-Tsvg", str(dot_path), "-o", str(svg)], check=True)
            print(f"wrote {dot_path.relative_to(ROOT)} and {svg.relative_to(ROOT)}")
        else:
            print(f"wrote {dot_path.relative_to(ROOT)} (no SVG: Graphviz's `dot` is not installed)")
    if stale:
        print(f"stale import graph(s): {stale}; run `python docs/import_graph.py` and commit the result")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
