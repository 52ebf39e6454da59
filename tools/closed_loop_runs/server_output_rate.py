"""Measured output tokens/s per SGLang server (diagnostic only; nothing here is a model change), against a candidate
server-wide ceiling of SGLang's one output path (DetokenizerManager + TokenizerManager streaming, one each per
``launch_server``, not per rank), and a counterfactual that caps each run's simulated output rate at that ceiling.

Why (docs/serving_journal.md, branches amd42, seqhost42, sglout42): the MI355X SGLang PD attention-DP decode rows
run 1.6x (DEP8) / 2.5x (DEP16) their simulated TPOT and plateau at 17-21 k output tokens/s; sgl-project/sglang PR
#22658 names the decode-side tokenizer_manager a CPU bottleneck at 2,048 PD clients, and sgl-project/sglang#10186
sizes ~30 us a token of output formatting in that one process (about 33 k tokens/s a server).

A server is one replica (aggregated rows) or one decode worker (disaggregated rows: the replicas field). The Dynamo
rows (engine ``dynamo``) are listed apart: their SGLang workers run with the tokenizer skipped (the scheduler sends
token ids straight to the TokenizerManager; Dynamo's frontend detokenizes and formats) and stream every 50 tokens.

    python tools/closed_loop_runs/server_output_rate.py X.json                 # per-group maxima, the AMD PD rows
    python tools/closed_loop_runs/server_output_rate.py X.json --cap 33000 --out Y.json
    python tools/closed_loop/closed_loop_tables.py Y.json                 # first-order LOAO of the capped set

The cap keeps each run's simulated TTFT and stretches its cycle by ``X_sim / X_cap`` at its fixed clients (closed
loop: X = clients x tokens a request / cycle), the stretch going to the decode steps: TPOT rises, throughput caps.
"""

from __future__ import annotations

import argparse
import copy
import json
import re
from collections import defaultdict
from typing import Any

_RUN = re.compile(r"^(?P<base>.+)-(?P<metric>tput|ttft|tpot)$")
_LEN = re.compile(r"-(\d+)-(\d+)-c(\d+)-")
METRIC_OF = {"tput": "output_tokens_per_s_total", "ttft": "ttft_ms", "tpot": "tpot_ms"}


def runs_of(cases: list[dict[str, Any]]) -> dict[str, dict[str, dict[str, Any]]]:
    """``run id -> {"tput"|"ttft"|"tpot": case}`` over the simulated rows with a measurement."""
    out: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
    for c in cases:
        m = _RUN.match(c["case_id"])
        if m and c.get("status") == "ok" and c.get("measured") is not None and c.get("sim"):
            out[m["base"]][m["metric"]] = c
    return out


def servers(case: dict[str, Any]) -> int:
    """Output paths of a run: its replicas (decode workers when disaggregated), at least 1."""
    r = case.get("replicas")
    n = 1 if r is None else int(r)
    if n < 1:
        raise ValueError(f"case {case['case_id']}: replicas {n}; allowed: >= 1")
    return n


def group_maxima(cases: list[dict[str, Any]]) -> dict[tuple[str, str, str], tuple[int, float, float, str]]:
    """``(engine, accelerator, agg|disagg) -> (runs, max measured tokens/s a server, its simulated, its run)``."""
    out: dict[tuple[str, str, str], tuple[int, float, float, str]] = {}
    for base, r in runs_of(cases).items():
        t = r.get("tput")
        if t is None:
            continue
        key = (t["sim"].get("engine", "?"), t["accelerator"], "disagg" if "disagg" in base else "agg")
        per = float(t["measured"]) / servers(t)
        n, best, pred, run = out.get(key, (0, -1.0, 0.0, ""))
        if per > best:
            best, pred, run = per, float(t["predicted"]) / servers(t), base
        out[key] = (n + 1, best, pred, run)
    return out


def capped(case: dict[str, Any], tput_case: dict[str, Any], cap_tokens_per_s: float) -> dict[str, Any]:
    """A copy of ``case`` (a metric of the run whose throughput row is ``tput_case``) as if each server's output
    path passed at most ``cap_tokens_per_s``; unchanged where the simulated rate a server is at or under it.
    E.g. simulated 40,000 tokens/s on 1 server, cap 20,000: throughput 20,000, e2e doubled, TTFT kept, the rest on
    TPOT (hand case in tests/test_server_output_rate_tool.py)."""
    if cap_tokens_per_s <= 0:
        raise ValueError(f"--cap {cap_tokens_per_s}; allowed: > 0 tokens/s")
    sim = tput_case["sim"]
    x_sim = float(sim["output_tokens_per_s"])
    x_cap = cap_tokens_per_s * servers(tput_case)
    out = copy.deepcopy(case)
    if x_sim <= x_cap:
        return out
    m = _LEN.search(case["case_id"])
    if not m:
        raise ValueError(f"case {case['case_id']}: no -ISL-OSL-cC- in its id")
    steps = max(0.9 * float(m.group(2)) - 1.0, 1.0)  # the benchmark's mean output length, less the first token
    e2e_ms = float(sim["e2e_ms"])
    e2e_new = e2e_ms * x_sim / x_cap
    tpot_new = float(sim["tpot_ms"]) + (e2e_new - e2e_ms) / steps
    s = out["sim"]
    s.update(output_tokens_per_s=x_cap, e2e_ms=e2e_new, tpot_ms=tpot_new)
    new = {"output_tokens_per_s_total": x_cap, "tpot_ms": tpot_new, "ttft_ms": float(out["predicted"])}
    out["predicted"] = new[out["metric"]]
    err = (out["predicted"] - float(out["measured"])) / float(out["measured"]) * 100.0
    out["signed_error_pct"], out["ape"] = err, abs(err)
    return out


def apply_cap(doc: dict[str, Any], cap_tokens_per_s: float, engine: str = "sglang") -> tuple[dict[str, Any], int]:
    """The validate JSON with every ``engine`` run's rows capped (see ``capped``); the count of runs changed."""
    runs = runs_of(doc["cases"])
    out, changed = copy.deepcopy(doc), set()
    for i, c in enumerate(out["cases"]):
        m = _RUN.match(c["case_id"])
        r = runs.get(m["base"]) if m else None
        if not r or "tput" not in r or r["tput"]["sim"].get("engine") != engine or c.get("status") != "ok":
            continue
        new = capped(c, r["tput"], cap_tokens_per_s)
        if new["predicted"] != c["predicted"] or new["sim"] != c["sim"]:
            changed.add(m["base"])
        out["cases"][i] = new
    return out, len(changed)


def amd_pd_table(cases: list[dict[str, Any]]) -> list[str]:
    """Markdown rows of the MI355X SGLang PD runs: layout, lengths, clients, tokens/s a server, TPOT ratio."""
    lines = ["| decode layout | MTP | ISL/OSL | clients | servers | tokens/s a server meas / sim "
             "| TPOT meas / sim ms | ratio |", "|---|---|---|---|---|---|---|---|"]
    for base, r in sorted(runs_of(cases).items()):
        if "mi355x" not in base or "sglang-disagg" not in base or "tput" not in r or "tpot" not in r:
            continue
        t, p = r["tput"], r["tpot"]
        lay = "DEP16" if "e16dpa" in base.split("-d")[-1] else "DEP8" if "dpa" in base.split("-d")[-1] else "TEP8"
        m = _LEN.search(base)
        isl, osl, conc = (m.group(1), m.group(2), m.group(3)) if m else ("?", "?", "?")
        n = servers(t)
        lines.append(f"| {n} x {lay} | {'yes' if '-mtp-' in base else 'no'} | {isl}/{osl} | {conc} | {n} | "
                     f"{t['measured'] / n:,.0f} / {t['predicted'] / n:,.0f} | {p['measured']:.1f} / "
                     f"{p['predicted']:.1f} | {p['measured'] / p['predicted']:.2f} |")
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("json", help="inferchip validate --format json output")
    ap.add_argument("--cap", type=float, help="counterfactual ceiling, output tokens/s a server")
    ap.add_argument("--out", help="where the capped JSON goes (with --cap)")
    a = ap.parse_args()
    doc = json.load(open(a.json))
    print("| engine | accelerator | kind | runs | max measured tokens/s a server | its simulated | run |")
    print("|---|---|---|---|---|---|---|")
    for (eng, chip, kind), (n, best, pred, run) in sorted(group_maxima(doc["cases"]).items()):
        print(f"| {eng} | {chip} | {kind} | {n} | {best:,.0f} | {pred:,.0f} | {run} |")
    print()
    print("\n".join(amd_pd_table(doc["cases"])))
    if a.cap is not None:
        if not a.out:
            raise SystemExit("--cap needs --out PATH for the capped JSON")
        out, n = apply_cap(doc, a.cap)
        json.dump(out, open(a.out, "w"))
        print(f"\n{n} sglang runs capped at {a.cap:,.0f} tokens/s a server -> {a.out}")


if __name__ == "__main__":
    main()
