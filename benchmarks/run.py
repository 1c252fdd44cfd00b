"""Benchmark runner.

    python benchmarks/run.py --list
    python benchmarks/run.py NAME [--quick]     # writes benchmarks/results/NAME.json
    python benchmarks/run.py --markdown         # regenerates BENCHMARKS.md from results/
    python benchmarks/run.py --all              # every benchmark, the eval report, then BENCHMARKS.md

Each result: {"name", "unit", "value", "baseline_name", "baseline_value", "speedup",
"params", "machine", "command", "commit", "date"}; ``commit`` is the git commit of the
measured code (``-dirty`` with uncommitted changes); precision-dependent results say their
precision in ``params`` and ``machine.cpu_flags`` lists the CPU features behind it; speedup > 1 means faster than the baseline measured in
the same run. Accuracy benchmarks leave the baseline fields null.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("RAY_AUTH_MODE", "disabled")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

#: name -> module in benchmarks/ exposing run(quick: bool) -> dict
BENCHMARKS = {
    "classify_throughput": "bench_classify",
    "text_accuracy": "bench_text_accuracy",
    "heldout_dialog_accuracy": "bench_heldout_dialogs",
    "generalization": "bench_generalization",
    "text_ablation": "bench_text_ablation",
    "text_channel_latency": "bench_text_latency",
    "pictogram_latency": "bench_pictograms",
    "precision_choice": "bench_precision",
    "ocr_accuracy": "bench_ocr_accuracy",
    "batch_throughput": "bench_batch",
    "batch_rerun": "bench_batch_rerun",
    "cluster_scaling": "bench_cluster",
    "state_latency": "bench_state",
    "state_agreement": "bench_state_agreement",
    "nms_speedup": "bench_nms",
    "fewshot_accuracy": "bench_fewshot",
    "visual_latency": "bench_visual_latency",
    "suggest_clustering": "bench_suggest",
    "label_once": "bench_label_once",
    "pins_reach": "bench_pins",
    "retrieval_scaling": "bench_retrieval",
    "server_load": "bench_server",
    "vlm_latency": "bench_vlm",
    "questions_recording": "bench_questions",
    "video_throughput": "bench_video",
    "segment_rule": "bench_segments",
    "capture_throughput": "bench_capture",
    "startup": "bench_startup",
}

DEV = Path(os.environ.get("SCREENSTATE_DEV", ROOT.parent / "shared" / "datasets" / "screens-dev"))


def machine() -> dict:
    import torch

    from screenstate.embeddings.calibrate import cpu_flags, isa_class

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "cuda": torch.cuda.is_available(),
        "isa": isa_class(),
        "cpu_flags": [f for f in cpu_flags() if f.startswith(("avx", "amx", "fma", "f16c"))],
    }


def machine_class(m: dict) -> str:
    """CPU model, cores and widest matrix instructions: results compare within a class."""
    return f"{m.get('cpu')}, {m.get('cores')} cores, " + (m["isa"] if m.get("isa") else "CPU flags not recorded")


def result(
    name: str,
    unit: str,
    value: float,
    baseline_name: str | None = None,
    baseline_value: float | None = None,
    higher_is_better: bool = True,
    **params: object,
) -> dict:
    speedup = None
    if baseline_value:
        speedup = value / baseline_value if higher_is_better else baseline_value / value
    return {
        "name": name,
        "unit": unit,
        "value": value,
        "baseline_name": baseline_name,
        "baseline_value": baseline_value,
        "speedup": speedup,
        "params": params,
    }


def run_one(name: str, quick: bool) -> dict:
    from common import cpu_flags, git_commit

    mod = importlib.import_module(BENCHMARKS[name])
    commit, date = git_commit(), time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())  # before: HEAD may move
    t = time.perf_counter()
    out = mod.run(quick=quick)
    out["name"] = name
    out["commit"], out["date"] = commit, date
    out["machine"] = machine()
    from screenstate.embeddings.calibrate import used_precisions

    out["precisions"] = used_precisions()  # what each model loaded in this run ran with
    out["machine"].setdefault("cpu_flags", cpu_flags())
    out["command"] = f"python benchmarks/run.py {name}" + (" --quick" if quick else "")
    out["seconds"] = round(time.perf_counter() - t, 1)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(out, indent=2) + "\n")
    return out


def _fmt(v: object) -> str:
    if isinstance(v, float):
        return f"{v:.3g}" if abs(v) < 1000 else f"{v:,.0f}"
    return str(v)


def markdown() -> str:
    lines = [
        "# Benchmarks",
        "",
        "Generated by `python benchmarks/run.py --markdown` from `benchmarks/results/*.json`;",
        "each section names the command that produced it. Speedups are against a baseline",
        "measured in the same run on the same machine. Results are grouped by the machine",
        "class they were measured on (CPU model, cores, widest matrix instructions): speed",
        "ratios hold within a class, not across (bf16 vs fp32 flips between CPUs that both",
        "report `avx512_bf16`; see `precision_choice`).",
        "",
    ]
    found = {n: json.loads((RESULTS / f"{n}.json").read_text()) for n in BENCHMARKS if (RESULTS / f"{n}.json").exists()}
    classes: dict[str, list[str]] = {}
    for n, r in found.items():
        classes.setdefault(machine_class(r.get("machine", {})), []).append(n)
    missing = [n for n in BENCHMARKS if n not in found]
    if missing:
        lines += ["Not run yet: " + ", ".join(missing), ""]
    for cls, names in classes.items():
        lines += [f"## {cls}", ""]
        for name in names:
            lines += _section(name, found[name])
            if name in DEV_ONLY_ACCURACY and "generalization" in found:
                lines[-1:-1] = [_heldout_line(found["generalization"]), ""]
    return "\n".join(lines + _eval_report_section())


#: accuracy results measured on screens-dev alone: shown with the held-out numbers beside them
DEV_ONLY_ACCURACY = ("text_accuracy",)


def _heldout_line(gen: dict) -> str:
    """Dev and held-out top-1 of the same encoder (from ``generalization``), side by side."""
    row = gen["table"][0]
    sets = " · ".join(f"{k} {_fmt(v)}" for k, v in row.items() if k != "encoder")
    return f"Dev vs held-out, same `{row['encoder']}` encoder (`generalization`, {gen.get('date', '')}): {sets}."


def _section(name: str, r: dict) -> list[str]:
    m = r.get("machine", {})
    flags = " ".join(m.get("cpu_flags", [])) or "not recorded"
    lines = [f"### {name}", "", f"`{r['command']}` — torch {m.get('torch')}"]
    if r.get("precisions"):
        lines[-1] += "; precision used: " + "; ".join(f"{k} {v}" for k, v in r["precisions"].items())
    lines.append(
        f"(run {r.get('date', 'date not recorded')} at commit `{str(r.get('commit', 'not recorded'))[:12]}`;"
        f" CPU flags: {flags})"
    )
    lines.append("")
    lines.append(f"- **{_fmt(r['value'])} {r['unit']}**")
    if r.get("baseline_name"):
        unit = r["unit"].split(" (")[0]
        lines.append(f"- baseline ({r['baseline_name']}): {_fmt(r['baseline_value'])} {unit}")
        lines.append(f"- speedup: **{_fmt(r['speedup'])}x**")
    table = r.get("table")
    if table:
        cols = list(table[0])
        lines += ["", "| " + " | ".join(cols) + " |", "|" + " --- |" * len(cols)]
        lines += ["| " + " | ".join(_fmt(row.get(c, "")) for c in cols) + " |" for row in table]
    notes = r.get("notes")
    if notes:
        lines += ["", notes]
    params = {k: v for k, v in r.get("params", {}).items()}
    if params:
        lines += ["", "params: " + ", ".join(f"{k}={_fmt(v)}" for k, v in params.items())]
    lines.append("")
    return lines


def _eval_report_section() -> list[str]:
    return [
        "## Eval report (text encoder, labeled dev set)",
        "",
        "`benchmarks/results/text_eval_report.html` (metrics, confusion matrix, thumbnails of errors),",
        "`text_eval_metrics.json` and `text_eval_predictions.csv`, made by:",
        "",
        "```",
        "classify_directory --root DEV_WITHOUT_RECORDING --classifier_json_file DEV/classes.json --eval_only \\",
        "  --encoder text --metrics_json benchmarks/results/text_eval_metrics.json \\",
        "  --report benchmarks/results/text_eval_report.html --output benchmarks/results/text_eval_predictions.csv",
        "```",
        "",
        "(`DEV_WITHOUT_RECORDING`: the 15 class directories of screens-dev, without `recording/`;"
        " `python benchmarks/run.py --all` runs it and records when and at which commit in"
        f" `text_eval_run.json`: {_eval_run()}.)",
        "",
    ]


def _eval_run() -> str:
    p = RESULTS / "text_eval_run.json"
    if not p.exists():
        return "not recorded"
    r = json.loads(p.read_text())
    return f"last run {r['date']} at commit `{r['commit'][:12]}`"


def eval_report() -> None:
    """The text encoder's eval report on the labeled dev set (without ``recording/``), by
    the ``classify_directory`` console script with the reference server's flags."""
    import subprocess

    from common import git_commit, labeled_devset_root

    labeled_devset_root()  # benchmarks/.devset; relative paths keep the CSV the same on every machine
    cmd = [
        str(Path(sys.executable).with_name("classify_directory")),
        *("--root", "benchmarks/.devset", "--classifier_json_file", str(DEV / "classes.json"), "--eval_only"),
        *("--encoder", "text", "--metrics_json", "benchmarks/results/text_eval_metrics.json"),
        *("--report", "benchmarks/results/text_eval_report.html"),
        *("--output", "benchmarks/results/text_eval_predictions.csv"),
    ]
    path = os.pathsep.join(x for x in (str(ROOT), os.environ.get("PYTHONPATH")) if x)
    subprocess.run(cmd, check=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": path})  # this checkout's code
    run = {"commit": git_commit(), "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "machine": machine()}
    (RESULTS / "text_eval_run.json").write_text(json.dumps(run, indent=2) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("name", nargs="*", help="one or more benchmark names")
    ap.add_argument("--quick", action="store_true", help="fewer images / repeats")
    ap.add_argument("--list", action="store_true")
    ap.add_argument("--markdown", action="store_true", help="regenerate BENCHMARKS.md")
    ap.add_argument("--all", action="store_true", help="run every benchmark and the eval report, then --markdown")
    a = ap.parse_args()
    if a.list:
        print("\n".join(BENCHMARKS))
        return
    if a.all:
        failed = []
        for name in BENCHMARKS:
            print(f"== {name}", flush=True)
            try:
                out = run_one(name, a.quick)
            except Exception as e:  # noqa: BLE001 - report, run the rest, fail at the end
                failed.append(name)
                print(f"FAILED {name}: {type(e).__name__}: {e}", flush=True)
                continue
            print(json.dumps({k: out[k] for k in ("value", "baseline_value", "speedup")}), flush=True)
        eval_report()
        (ROOT / "BENCHMARKS.md").write_text(markdown())
        print("wrote BENCHMARKS.md")
        if failed:
            raise SystemExit(f"failed: {', '.join(failed)}")
        return
    if a.markdown:
        (ROOT / "BENCHMARKS.md").write_text(markdown())
        print("wrote BENCHMARKS.md")
        return
    unknown = [n for n in a.name if n not in BENCHMARKS]
    if unknown or not a.name:
        ap.error(f"unknown benchmark {unknown[0] if unknown else ''!r}; valid: {', '.join(BENCHMARKS)}")
    for name in a.name:
        out = run_one(name, a.quick)
        print(json.dumps({k: out[k] for k in ("name", "unit", "value", "baseline_value", "speedup")}, indent=2))


if __name__ == "__main__":
    main()
