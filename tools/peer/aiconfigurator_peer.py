"""AIConfigurator as the peer: its TTFT, TPOT and throughput for a stratified sample of the public
``inferencemax_cases.csv`` rows, written to a CSV (one line per case row: predicted, or why not).

Runs in its OWN virtualenv (AIConfigurator is never a dependency of inferchip)::

    python3.11 -m venv <venv>
    <venv>/bin/pip install aiconfigurator==0.12.0          # pulls aiconfigurator-core 0.12.0
    <venv>/bin/python tools/peer/aiconfigurator_peer.py \\
        src/inferchip/catalog/inferencemax_cases.csv docs/data/aiconfigurator_peer_0.12.0.csv

Everything runs offline: AIConfigurator 0.12.0 ships its model configs and its measured kernel tables
(``aiconfigurator_core/systems/data``) in the wheel.

Sample (``sample_runs``): a *run* is one benchmark point (the three case rows ``-tput``, ``-ttft``,
``-tpot`` share it); runs are stratified by accelerator x engine (``software`` before ';') x model x
ISL/OSL (39 strata in the file as shipped); each stratum gets at least one run, the rest of
``--runs`` (default 96, i.e. 288 case rows) in proportion to its size by largest remainder, drawn
with ``numpy.random.default_rng(--seed)`` (default 20261203). All three metric rows of a drawn run
are kept.

How a run is asked (``ask``): the row is written as an InferenceX DB record (hardware, framework,
model alias, precision, disagg, each pool's GPUs / workers / TP / EP / DP-attention, spec method)
from its case id and notes, and lowered by AIConfigurator's OWN InferenceX adapter
(``aiconfigurator.sdk.config_adapter.adapt_inferencex`` then ``to_cli_estimate_kwargs``) into
``aiconfigurator.cli.api.cli_estimate`` arguments; so the mapping of TP/EP/DP-attention, formats and
engine to its model is NVIDIA's, not ours. Choices of this script, each said in the CSV ``notes``:

* ISL/OSL are the benchmark's MEAN request lengths, ``round(0.9 L)`` (``--random-range-ratio 0.8``:
  lengths uniform in [0.8 L, L]); AIConfigurator models one fixed length.
* MTP rows: ``nextn=1, nextn_accepted=0.85`` (one MTP module per DeepSeek-R1 checkpoint, acceptance
  85-90 % in the DeepSeek-V3 report section 5.4.3; the same default inferchip uses). The adapter
  refuses MTP without them: AIConfigurator has no default acceptance.
* Database mode SILICON (its default; the only reproducible one; ``--database-mode HYBRID`` fills
  kernels its tables lack with its speed-of-light + empirical model), backend version unpinned (the
  adapter's default: the newest database of that backend in the wheel; the rows ran older engines).
* Throughput is AIConfigurator's ``tokens/s`` (output tokens/s of the whole deployment the record
  describes); TTFT and TPOT its ``ttft`` and ``tpot`` in ms.

A row AIConfigurator cannot express (an AMD chip, ATOM, a mapping its adapter rejects, an estimate
that raises) is written with an empty ``predicted`` and the reason in ``why_not_predicted``.
"""

from __future__ import annotations

import argparse
import csv
import logging
import re
import signal
import sys
import time
import warnings
from importlib.metadata import version
from pathlib import Path

import numpy as np
import pandas as pd

SEED = 20261203
RUNS = 96
HARDWARE = {"nvidia-h100-sxm-80gb": "h100", "nvidia-h200-sxm-141gb": "h200", "nvidia-b200-180gb": "b200",
            "nvidia-gb200-186gb": "gb200"}
MTP_NEXTN, MTP_ACCEPTED = 1, 0.85
TIMEOUT_S = 300
METRIC_KEY = {"output_tokens_per_s_total": "tokens/s", "ttft_ms": "ttft", "tpot_ms": "tpot"}

_SINGLE = re.compile(r"one server instance on (\d+) GPUs: TP(\d+), EP(\d+), DP-attention (true|false)")
_POOL = r"(\d+) {role} GPUs \((\d+) worker\(s\), TP(\d+)/EP(\d+), DP-attention (true|false)\)"
_DISAGG = re.compile(_POOL.format(role="prefill") + r" \+ " + _POOL.format(role="decode"))
_SPEC = re.compile(r"speculative decoding: (\w+)")


def engine_of(software: str) -> str:
    return software.split(";")[0].strip()


def sample_runs(cases: pd.DataFrame, runs: int = RUNS, seed: int = SEED) -> pd.DataFrame:
    """The case rows of ``runs`` benchmark points drawn stratified (see the module docstring)."""
    d = cases.copy()
    d["run"] = d["case_id"].str.rsplit("-", n=1).str[0]
    first = d.drop_duplicates("run").copy()
    first["stratum"] = (first["accelerator"] + " | " + first["software"].map(engine_of) + " | " + first["model"]
                        + " | " + first["input_tokens"].astype(int).astype(str) + "/"
                        + first["output_tokens"].astype(int).astype(str))
    sizes = first.groupby("stratum").size().sort_index()
    if runs < len(sizes):
        raise SystemExit(f"--runs {runs} is below the number of strata ({len(sizes)})")
    quota = sizes * (runs - len(sizes)) / sizes.sum()
    alloc = 1 + np.floor(quota).astype(int)
    left = runs - int(alloc.sum())
    alloc[(quota - np.floor(quota)).sort_values(ascending=False, kind="stable").index[:left]] += 1
    alloc = np.minimum(alloc, sizes)
    rng = np.random.default_rng(seed)
    chosen: list[str] = []
    for stratum, n in alloc.items():
        ids = sorted(first.loc[first["stratum"] == stratum, "run"])
        chosen += list(rng.choice(ids, size=int(n), replace=False))
    out = d[d["run"].isin(chosen)].merge(first[["run", "stratum"]], on="run")
    return out.sort_values(["stratum", "case_id"]).reset_index(drop=True)


def inferencex_record(row: pd.Series) -> tuple[dict, dict, list[str]]:
    """The row as an InferenceX DB record (config, benchmark) and this script's assumptions; raises
    ValueError naming what AIConfigurator cannot express."""
    notes: list[str] = []
    hardware = HARDWARE.get(row["accelerator"])
    if hardware is None:
        raise ValueError(f"accelerator {row['accelerator']}: AIConfigurator 0.12.0 ships no system for it "
                         "(systems: a100/h100/h200/b200/b300/gb200/gb300/l4/l40s/a30/b60/rtx_pro_6000)")
    cid = row["case_id"]
    eng = engine_of(row["software"]).lower()
    if "dynamo" in eng:
        framework = "dynamo-trt" if "tensorrt" in eng else "dynamo-sglang"
    elif "tensorrt" in eng:
        framework = "trt"
    elif eng.startswith("vllm"):
        framework = "vllm"
    elif eng.startswith("sglang"):
        framework = "sglang"
    else:
        raise ValueError(f"engine {engine_of(row['software'])!r}: no AIConfigurator backend "
                         "(trtllm, sglang, vllm only)")
    alias = "gptoss120b" if "gpt-oss-120b" in row["model"] else "dsr1" if "DeepSeek-R1" in row["model"] else ""
    m = re.search(r"-(fp4|fp8|bf16)-", cid)
    if not alias or not m:
        raise ValueError(f"model {row['model']} / precision in {cid}: not an InferenceX alias this script maps")
    text = str(row["notes"])
    config: dict = {"hardware": hardware, "framework": framework, "model": alias, "precision": m.group(1)}
    spec = _SPEC.search(text)
    config["spec_method"] = spec.group(1) if spec else "none"
    single, disagg = _SINGLE.search(text), _DISAGG.search(text)
    if disagg:
        g = disagg.groups()
        config["disagg"] = True
        for role, (gpus, workers, tp, ep, dpa) in (("prefill", g[:5]), ("decode", g[5:])):
            config.update({f"num_{role}_gpu": int(gpus), f"{role}_num_workers": int(workers), f"{role}_tp": int(tp),
                           f"{role}_ep": int(ep), f"{role}_dp_attention": dpa == "true"})
    elif single:
        gpus, tp, ep, dpa = single.groups()
        config.update({"disagg": False, "num_decode_gpu": int(gpus), "decode_num_workers": 1, "decode_tp": int(tp),
                       "decode_ep": int(ep), "decode_dp_attention": dpa == "true"})
    else:
        raise ValueError("notes state no layout this script can read")
    isl, osl = round(0.9 * float(row["input_tokens"])), round(0.9 * float(row["output_tokens"]))
    notes.append(f"isl/osl {isl}/{osl} = 0.9 L (benchmark mean lengths)")
    bench = {"isl": isl, "osl": osl, "conc": int(row["concurrency"])}
    if config["spec_method"] != "none":
        notes.append(f"MTP nextn={MTP_NEXTN} nextn_accepted={MTP_ACCEPTED} (DeepSeek-V3 report 5.4.3)")
    return config, bench, notes


class _Timeout(Exception):
    pass


def _alarm(signum: int, frame: object) -> None:
    raise _Timeout


def ask(row: pd.Series, database_mode: str = "SILICON") -> tuple[dict | None, str, str]:
    """AIConfigurator's raw estimate for the row's run, or None and why; and the notes."""
    from aiconfigurator.cli.api import cli_estimate
    from aiconfigurator.sdk.config_adapter import (
        AdapterOverrides,
        InferenceXSource,
        adapt_config,
        to_cli_estimate_kwargs,
    )
    try:
        config, bench, notes = inferencex_record(row)
    except ValueError as e:
        return None, str(e), ""
    spec = config["spec_method"] != "none"
    overrides = AdapterOverrides(nextn=MTP_NEXTN if spec else None, nextn_accepted=MTP_ACCEPTED if spec else None,
                                 database_mode=database_mode)
    report = adapt_config(InferenceXSource(config=config, benchmark=bench, source_reference=row["run"]), overrides)
    outcome = report.outcomes[0]
    if outcome.status != "adapted" or outcome.request is None:
        msg = "; ".join(d.message for d in outcome.diagnostics if d.severity == "error")
        return None, f"AIConfigurator InferenceX adapter rejected the record: {msg}", "; ".join(notes)
    kwargs = to_cli_estimate_kwargs(outcome.request)
    signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(TIMEOUT_S)
    try:
        res = cli_estimate(**kwargs)
    except _Timeout:
        return None, f"cli_estimate ran past {TIMEOUT_S} s", "; ".join(notes)
    except Exception as e:  # noqa: BLE001 - any failure of the peer is a finding, recorded per row
        msg = " ".join(f"{type(e).__name__}: {e}".split())
        return None, f"cli_estimate raised {msg[:400]}", "; ".join(notes)
    finally:
        signal.alarm(0)
    raw = dict(res.raw)
    par = raw.get("parallel") or f"tp{kwargs.get('tp_size')}"
    notes.append(f"{kwargs['mode']} {raw.get('backend')} {raw.get('version')} {par} "
                 f"gemm {raw.get('gemm')} moe {raw.get('moe')}; AIC gpus {raw.get('num_total_gpus')} "
                 f"tokens/s/gpu {float(raw.get('tokens/s/gpu') or 0):.6g} concurrency {raw.get('concurrency')}")
    return raw, "", "; ".join(notes)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("cases")
    ap.add_argument("out")
    ap.add_argument("--runs", type=int, default=RUNS)
    ap.add_argument("--seed", type=int, default=SEED)
    ap.add_argument("--limit", type=int, default=0, help="ask only the first N runs (a smoke test)")
    ap.add_argument("--database-mode", default="SILICON", choices=("SILICON", "HYBRID", "EMPIRICAL", "SOL"),
                    help="AIConfigurator's database mode (SILICON: measured kernels only, its default)")
    a = ap.parse_args()
    warnings.filterwarnings("ignore")
    logging.disable(logging.WARNING)
    rows = sample_runs(pd.read_csv(a.cases), a.runs, a.seed)
    runs = list(dict.fromkeys(rows["run"]))[: a.limit or None]
    aic = f"aiconfigurator {version('aiconfigurator')} / aiconfigurator-core {version('aiconfigurator-core')}"
    out: list[dict] = []
    t0 = time.time()
    for i, run in enumerate(runs):
        part = rows[rows["run"] == run]
        raw, why, notes = ask(part.iloc[0], a.database_mode)
        for _, r in part.iterrows():
            key = METRIC_KEY.get(r["metric"])
            value = raw.get(key) if raw is not None and key else None
            out.append({"case_id": r["case_id"], "stratum": r["stratum"], "metric": r["metric"],
                        "measured": r["value"], "predicted": "" if value is None else f"{float(value):.6g}",
                        "why_not_predicted": why if raw is None else ("" if value is not None else f"no {key}"),
                        "notes": notes, "peer": f"{aic} {a.database_mode}"})
        print(f"[{i + 1}/{len(runs)} {time.time() - t0:6.0f} s] {run}: "
              f"{'ok' if raw is not None else why[:120]}", file=sys.stderr, flush=True)
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(a.out + ".tmp")
    with tmp.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(out[0]))
        w.writeheader()
        w.writerows(out)
    tmp.replace(a.out)
    print(f"{sum(1 for x in out if x['predicted'])}/{len(out)} case rows predicted -> {a.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
