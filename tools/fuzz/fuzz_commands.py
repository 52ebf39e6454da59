"""Fuzz inferchip's commands as a user runs them: each command a subprocess with a per-run timeout, on generated bad
input files (``fuzz_inputs.py``, ``fuzz_onnx.py``), bad output paths and out-of-range flags.

Each run is classified:

* ``clear``: exit code != 0 and a message of at most a few lines with no traceback;
* ``traceback``: a Python traceback or ``internal error`` in the output;
* ``crash``: killed by a signal (a segfault in a C extension);
* ``hang``: still running at the timeout;
* ``accepted``: exit 0 (to read: fine for a harmless mutation, silent acceptance of nonsense otherwise);
* ``half-written``: a failed or interrupted run left an output file or a temporary file behind;
* ``deleted``: a file inferchip did not write is gone after the run.

A ``clear`` run whose message does not name the input file's name is marked ``unnamed``.

    python tools/fuzz/fuzz_commands.py --out /tmp/fuzz-run [--only chip_yaml,onnx] [--leaves 6] [--timeout 20]

writes ``results.jsonl`` (one line per run) and prints a summary: counts per target and class, then every run
that is not ``clear`` or ``accepted`` and every ``accepted`` run of a numeric mutation. Not part of the suite: the
defects it finds are kept as fast tests under tests/.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from fuzz_inputs import csv_cell_cases, structured_cases, text_cases
from fuzz_onnx import onnx_cases

ROOT = Path(__file__).resolve().parents[2]
CAT = ROOT / "src" / "inferchip" / "catalog"
DATA = ROOT / "tests" / "data"
H100 = "nvidia-h100-sxm-80gb"
L8 = "meta-llama/Llama-3.1-8B-Instruct"
TRACE = b"arrival_s,input_tokens,output_tokens\n0,128,16\n0.5,256,32\n1.0,64,8\n"

# target: (seed file or bytes, kind, file name, argv with {f})
TARGETS: dict[str, tuple[Any, str, str, list[str]]] = {
    "chip_yaml": (CAT / "chips" / f"{H100}.yaml", "yaml", "chip.yaml",
                  ["predict", "--chip", "{f}", "--model", L8, "--batch", "1"]),
    "model_config": (CAT / "models" / "meta-llama__Llama-3.1-8B.json", "json", "config.json",
                     ["predict", "--chip", H100, "--model", "{f}", "--batch", "1"]),
    "assumptions": (CAT / "assumptions.yaml", "yaml", "assumptions.yaml",
                    ["cost", "--chip", H100, "--assumptions", "{f}"]),
    "calibration": (CAT / "calibration.yaml", "yaml", "calib.yaml",
                    ["predict", "--chip", H100, "--model", L8, "--batch", "1", "--calibration", "{f}"]),
    "cases_csv": (DATA / "validation_small.csv", "csv", "cases.csv", ["validate", "{f}"]),
    "vision_cases_csv": (DATA / "vision_cases_subset.csv", "csv", "vcases.csv", ["validate", "{f}"]),
    "trace": (TRACE, "csv", "trace.csv", ["serve", "--chip", H100, "--model", L8, "--trace", "{f}"]),
    "claim": (ROOT / "src" / "inferchip" / "review" / "claim.yaml", "yaml", "claim.yaml",
              ["review", "--chips", H100, "--models", L8, "--claim-file", "{f}", "--no-sensitivity", "--slo", "batch",
               "--out", "out"]),
    "space": (DATA / "explore_space_small.yaml", "yaml", "space.yaml",
              ["explore", "{f}", "--out", "out", "--budget", "2", "--workers", "1", "--no-page"]),
    "network": (CAT / "vision" / "yolov8n-640.yaml", "yaml", "net.yaml",
                ["vision", "--chip", H100, "--model", "{f}", "--batch", "1"]),
}
ONNX_ARGV = ["vision", "--chip", H100, "--model", "{f}", "--batch", "1"]


def flag_cases() -> list[tuple[str, list[str]]]:
    """Out-of-range or costly flags: each must finish fast or be refused with its bound."""
    serve = ["serve", "--chip", H100, "--model", L8]
    cases = [("serve-conc-0", [*serve, "--concurrency", "0"]), ("serve-conc-1e12", [*serve, "--concurrency", "1e12"]),
             ("serve-conc-1e6", [*serve, "--concurrency", "1000000"]),
             ("serve-req-1e9", [*serve, "--rate", "5", "--requests", "1000000000"]),
             ("serve-dur-1e9", [*serve, "--rate", "5", "--duration", "1000000000"]),
             ("serve-rate-1e12", [*serve, "--rate", "1e12", "--duration", "10"]),
             ("serve-rate-1e-12", [*serve, "--rate", "1e-12", "--requests", "10"]),
             ("serve-mtp-100", [*serve, "--concurrency", "4", "--mtp", "100"]),
             ("serve-in-1e9", [*serve, "--concurrency", "4", "--input-tokens", "1000000000"]),
             ("serve-out-1e9", [*serve, "--concurrency", "4", "--output-tokens", "1000000000"]),
             ("serve-out-1e6", [*serve, "--concurrency", "64", "--output-tokens", "1000000"]),
             ("serve-seed-huge", [*serve, "--concurrency", "4", "--seed", "9" * 30]),
             ("serve-kvlink-0", [*serve, "--concurrency", "4", "--disagg", "1xtp1:1xtp1", "--kv-link-gb-per-s", "0"]),
             ("predict-batch-1e9", ["predict", "--chip", H100, "--model", L8, "--batch", "1000000000"]),
             ("predict-in-1e9", ["predict", "--chip", H100, "--model", L8, "--batch", "1", "--input-tokens", "1e9"]),
             ("predict-count-1e6", ["predict", "--chip", H100, "--model", L8, "--batch", "1", "--count", "1000000"]),
             ("predict-maxthr-huge", ["predict", "--chip", H100, "--model", L8, "--max-throughput",
                                      "--input-tokens", "100000", "--output-tokens", "100000"]),
             ("curve-out-1e6", ["curve", "--chip", H100, "--model", L8, "--output-tokens", "1000000"]),
             ("curve-in-1e6", ["curve", "--chip", H100, "--model", "meta-llama/Llama-3.2-1B", "--input-tokens",
                               "100000", "--count", "8"]),
             ("drive-huge", ["drive", "--chip", H100, "--cameras", "1000", "--fps", "1000000", "--duration", "86400"]),
             ("drive-fps-1e9", ["drive", "--chip", H100, "--cameras", "8", "--fps", "1e9"]),
             ("drive-fps-1e-9", ["drive", "--chip", H100, "--cameras", "8", "--fps", "1e-9"]),
             ("drive-deadline-0", ["drive", "--chip", H100, "--cameras", "8", "--fps", "36", "--deadline-ms", "0"]),
             ("drive-maxbatch-huge", ["drive", "--chip", H100, "--cameras", "1000", "--fps", "1000",
                                      "--max-batch", "100000", "--duration", "86400"]),
             ("vision-batch-max", ["vision", "--chip", H100, "--model", "bevformer-base", "--batch", "65536",
                                   "--count", "4096"]),
             ("vision-batch-list", ["vision", "--chip", H100, "--model", "resnet50-v1.5", "--batch",
                                    ",".join(str(i) for i in range(1, 5001))]),
             ("explore-budget-1e9", ["explore", str(DATA / "explore_space_small.yaml"), "--out", "out", "--budget",
                                     "1000000000", "--workers", "1", "--no-page"]),
             ("review-samples-1e9", ["review", "--chips", H100, "--models", L8, "--claim", "none", "--slo", "batch",
                                     "--samples", "1000000000", "--out", "out"]),
             ("review-workers-1e6", ["review", "--chips", H100, "--models", L8, "--claim", "none", "--slo", "batch",
                                     "--no-sensitivity", "--workers", "1000000", "--out", "out"]),
             ("calibrate-evals-1e9", ["calibrate", str(DATA / "validation_small.csv"), "-o", "c.yaml",
                                      "--max-evaluations", "1000000000", "--no-cv"]),
             ("validate-workers-1e6", ["validate", str(DATA / "validation_small.csv"), "--workers", "1000000"])]
    return cases


def output_cases() -> list[tuple[str, list[str], str]]:
    """(label, argv, setup): setup 'userdir' makes out/ with a user's file, 'file' makes out as a file, 'dir' makes
    c.yaml/p.md/p.html as folders."""
    cal = ["calibrate", str(DATA / "validation_small.csv"), "--no-cv", "--max-evaluations", "5"]
    val = ["validate", str(DATA / "validation_small.csv")]
    rev = ["review", "--chips", H100, "--models", L8, "--claim", "none", "--no-sensitivity", "--slo", "batch"]
    exp = ["explore", str(DATA / "explore_space_small.yaml"), "--budget", "2", "--workers", "1", "--no-page"]
    curve = ["curve", "--chip", H100, "--model", "meta-llama/Llama-3.2-1B"]
    drive = ["drive", "--chip", H100, "--cameras", "2", "--fps", "10", "--duration", "1"]
    return [("cal-missing-dir", [*cal, "-o", "no/such/c.yaml"], ""), ("cal-dir", [*cal, "-o", "c.yaml"], "dir"),
            ("cal-suffix", [*cal, "-o", "c.txt"], ""), ("val-page-missing", [*val, "--page", "no/p.md"], ""),
            ("val-page-dir", [*val, "--page", "p.md"], "dir"), ("rev-out-file", [*rev, "--out", "out"], "file"),
            ("rev-out-userdir", [*rev, "--out", "out"], "userdir"), ("exp-out-file", [*exp, "--out", "out"], "file"),
            ("exp-out-userdir", [*exp, "--out", "out"], "userdir"),
            ("curve-plot-missing", [*curve, "--plot", "no/p.html"], ""), ("curve-plot-dir", [*curve, "--plot",
                                                                                              "p.html"], "dir"),
            ("drive-plot-missing", [*drive, "--plot", "no/p.html"], ""), ("drive-plot-dir", [*drive, "--plot",
                                                                                              "p.html"], "dir"),
            ("cal-sigint", [*cal, "-o", "c.yaml", "--max-evaluations", "400"], "sigint"),
            ("exp-sigint", [*exp[:2], "--budget", "40", "--workers", "1", "--out", "out"], "sigint"),
            ("rev-sigint", [*rev[:-3], "--slo", "batch", "--out", "out"], "sigint")]


def _snapshot(d: Path) -> dict[str, float]:
    return {str(p.relative_to(d)): p.stat().st_mtime for p in d.rglob("*") if p.is_file()}


def run_one(workdir: Path, label: str, argv: list[str], inputs: dict[str, bytes], timeout: float,
            setup: str = "", fname: str = "") -> dict[str, Any]:
    d = workdir / label.replace("/", "_")[:80]
    shutil.rmtree(d, ignore_errors=True)
    d.mkdir(parents=True)
    for name, data in inputs.items():
        (d / name).write_bytes(data)
    if setup == "dir":
        for n in ("c.yaml", "p.md", "p.html"):
            (d / n).mkdir()
    if setup == "file":
        (d / "out").write_text("user's file\n")
    if setup == "userdir":
        (d / "out").mkdir()
        (d / "out" / "mine.txt").write_text("user's file\n")
    if setup.startswith("special:"):
        kind = setup.split(":", 1)[1]
        target = d / fname
        if kind == "fifo":
            os.mkfifo(target)
        elif kind == "dir":
            target.mkdir()
        elif kind == "devzero":
            target.symlink_to("/dev/zero")
        elif kind == "loop":
            target.symlink_to(target)
    before = _snapshot(d)
    cmd = [sys.executable, "-m", "inferchip.interfaces.cli", *argv]
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, cwd=d, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        if setup == "sigint":
            try:
                out, _ = p.communicate(timeout=2.5)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGINT)
                out, _ = p.communicate(timeout=timeout)
        else:
            out, _ = p.communicate(timeout=timeout)
        rc: int | None = p.returncode
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        out, _ = p.communicate()
        rc = None
    wall = time.monotonic() - t0
    text = out.decode("utf-8", "replace")
    after = _snapshot(d)
    new = sorted(set(after) - set(before))
    gone = sorted(set(before) - set(after))
    if rc is None:
        cls = "hang"
    elif rc < 0:
        cls = "crash"
    elif "Traceback" in text or "internal error" in text:
        cls = "traceback"
    elif rc == 0:
        cls = "accepted"
    else:
        cls = "clear"
    if rc != 0 and any(n.endswith((".yaml", ".md", ".html", ".json", ".tmp", ".svg")) or "/" in n for n in new):
        cls = "half-written"
    if gone:
        cls = "deleted"
    named = bool(fname) and fname in text
    return {"label": label, "argv": argv, "rc": rc, "class": cls, "wall_s": round(wall, 2), "named": named,
            "new": new[:10], "gone": gone, "tail": text.strip()[-600:]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--only", default="", help="comma-separated targets (also onnx, special, flags, outputs)")
    ap.add_argument("--leaves", type=int, default=6, help="leaves of each structured file mutated (seeded sample)")
    ap.add_argument("--text-only", action="store_true", help="whole-file mutations only (no leaf or cell mutations)")
    ap.add_argument("--timeout", type=float, default=20.0)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--seed", type=int, default=45)
    a = ap.parse_args()
    only = set(filter(None, a.only.split(",")))
    rng = random.Random(a.seed)
    jobs: list[tuple[str, list[str], dict[str, bytes], str, str]] = []
    for name, (seed, kind, fname, argv) in TARGETS.items():
        if only and name not in only:
            continue
        raw = seed if isinstance(seed, bytes) else seed.read_bytes()
        cases = text_cases(raw, kind)
        if a.text_only:
            pass
        elif kind in ("yaml", "json"):
            cases += structured_cases(raw, kind, rng, a.leaves)
        else:
            cases += csv_cell_cases(raw, rng, a.leaves)
        args = [x.replace("{f}", fname) for x in argv]
        for label, data in cases:
            jobs.append((f"{name}/{label}", args, {fname: data}, "", fname))
        if not only or "special" in only:
            for sp in ("fifo", "dir", "devzero", "loop", "missing"):
                jobs.append((f"{name}/special-{sp}", args, {}, f"special:{sp}" if sp != "missing" else "", fname))
    if not only or "onnx" in only:
        for label, data, extra in onnx_cases(rng):
            jobs.append((f"onnx/{label}", [x.replace("{f}", "g.onnx") for x in ONNX_ARGV] + extra, {"g.onnx": data},
                         "", "g.onnx"))
    if not only or "flags" in only:
        jobs += [(f"flags/{lb}", argv, {}, "", "") for lb, argv in flag_cases()]
    if not only or "outputs" in only:
        jobs += [(f"outputs/{lb}", argv, {}, setup, "") for lb, argv, setup in output_cases()]
    a.out.mkdir(parents=True, exist_ok=True)
    env_note = f"{len(jobs)} runs, timeout {a.timeout:g} s, {a.jobs} at a time"
    print(env_note, flush=True)
    results: list[dict[str, Any]] = []
    with ThreadPoolExecutor(a.jobs) as pool, open(a.out / "results.jsonl", "w") as fh:
        futs = [pool.submit(run_one, a.out / "runs", lb, argv, inp, a.timeout, setup, fname)
                for lb, argv, inp, setup, fname in jobs]
        for f in futs:
            r = f.result()
            results.append(r)
            fh.write(json.dumps(r) + "\n")
            fh.flush()
    summary(results)


def summary(results: list[dict[str, Any]]) -> None:
    by: Counter[tuple[str, str]] = Counter((r["label"].split("/")[0], r["class"]) for r in results)
    for (t, c), n in sorted(by.items()):
        print(f"{t:18} {c:13} {n}")
    for r in results:
        if r["class"] not in ("clear", "accepted"):
            print(f"\n### {r['class']} {r['label']} rc={r['rc']} {r['wall_s']} s new={r['new']} gone={r['gone']}\n"
                  f"{r['tail'][-400:]}")


if __name__ == "__main__":
    main()
