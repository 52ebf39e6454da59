"""Is a closed-loop run's mean TTFT far above its median a queue the engine builds, or one wait of the whole
server? The signature of each flagged (stalled) run, from its own result record (report only).

Every InferenceMAX aggregated row's notes state the client (``--num-prompts N``, ``--max-concurrency C``: N = 10 C,
InferenceMAX README / benchmark scripts ``--num-prompts $(( $CONC * 10 ))``), the run's median and p99 TTFT and its
mean end-to-end latency; the row itself is the mean. If the server stops serving once, for K seconds, while the
first wave (the C prompts sent at t = 0) waits for its first token, then:

* those C requests (a share C / N = 0.1 of the run) each wait about K more; the median (the 50th percentile) does
  not move, the p99 (inside the top 10 %) moves by about K: K ~ p99 - median;
* the mean TTFT moves by K C / N, so the implied wait ``W = (mean - median) N / C`` is about K (``W / K`` ~ 1; a
  little less where the first wave's own queue already sits in the mean's excess or K is not paid in full);
* against a sibling run of the same configuration that did not stall: mean TTFT + K C / N, mean end-to-end
  latency + K C / N, output throughput x D / (D + K) with D = (N / C) x the sibling's mean end-to-end latency (each
  client runs N / C requests back to back), TPOT unchanged (the decoding requests are not yet running).

A load-dependent mechanism (a queue of prompts behind chunked prefill, KV-cache retraction, an admission rule)
grows with C and the prompt length L; a one-off wait does not. The report gives K by weights, L and C, the checks
above per flagged run against its siblings, and, with a validate JSON, the LOAO TTFT figures if each flagged run's
own K were added to its prediction (K C / N: information only; K is the run's measured wait, not a prediction).

With a record file that states each run's standard deviations (``--std``), a two-point reading of them: how many
requests waited for their first token and how long, and how many decoding streams paused as long (their TPOT moved
by the wait over their output tokens), against the C requests in flight: a stop of the whole server reaches all C.

    python tools/ttft/stall_signature.py [--cases inferencemax_cases.csv] [--engine sglang]
        [--chip b200] [--validate validate.json] [--std docs/data/imax_b200_sglang_stall_std.csv] [--list]
"""

from __future__ import annotations

import argparse
import csv
import re
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "closed_loop"))
from inferchip.validation.case_notes import STALL_WAIT_S, measured_stall_s, stated_ttft_spread_s
from inferchip.validation.cases import read_cases  # noqa: E402
from ttft_spread import SHIPPED  # noqa: E402
from ttft_tail import loao_errors, rows_with_ids  # noqa: E402

_RUN = re.compile(r"-r(\d+)-(tput|ttft|tpot)$")
_PROMPTS = re.compile(r"--num-prompts (\d+)")
_E2E = re.compile(r"mean E2E latency ([0-9.]+) s")
_METRIC = {"output_tokens_per_s_total": "tput", "ttft_ms": "ttft", "tpot_ms": "tpot"}
_FORMAT = re.compile(r"-(fp8|fp4|mxfp4|nvfp4)-")


def config_key(case_id: str) -> tuple[str, str]:
    """(configuration without the run id and metric, run id) of an InferenceMAX case id."""
    m = _RUN.search(case_id)
    if not m:
        raise ValueError(f"case id {case_id!r}: no '-r<run>-<metric>' suffix")
    return case_id[: m.start()], m.group(1)


def implied_wait_s(mean_ms: float, median_ms: float, clients: int, prompts: int) -> float:
    """The wait (s) each of the first wave's C requests would carry if they alone made the mean's excess over the
    median: (mean - median) x N / C."""
    return (mean_ms - median_ms) / 1e3 * prompts / clients


def min_mean_ms(median_ms: float, p99_ms: float, prompts: int) -> float:
    """The smallest mean a set of ``prompts`` non-negative TTFTs can have with this median and this p99 (numpy's
    linear-interpolation percentile, as the benchmark client computes it): sorted v_0..v_{N-1}, the values below the
    median at 0, those from the median up to the p99's lower neighbour v_i (i = floor(0.99 (N - 1))) at the median,
    and v_i, v_{i+1}.. as low as the p99 allows (v_i + f (v_{i+1} - v_i) = p99, the sum linear in v_i, so one of
    its bounds, the median or the p99, is the minimum). A stated mean below it cannot come from one set of N TTFTs
    with the stated median and p99."""
    if prompts < 6:
        raise ValueError(f"prompts = {prompts}: need at least 6 (the p99's neighbours above the median pair)")
    h = 0.99 * (prompts - 1)
    i = int(h)
    f = h - i
    at_median = i - (prompts - 1) // 2  # v_{(N-1)//2} .. v_{i-1}
    best = float("inf")
    for x in ((p99_ms,) if f == 0 else (median_ms, p99_ms)):
        y = p99_ms if f == 0 else (p99_ms - (1.0 - f) * x) / f
        best = min(best, at_median * median_ms + x + (prompts - 1 - i) * y)
    return best / prompts


def two_point(mean: float, median: float, var: float) -> tuple[float, float]:
    """(share, wait) of a run whose requests sit at the median but for a share s that waited d more: mean - median
    = s d and variance = s (1 - s) d^2 give d = (var + (mean - median)^2) / (mean - median), s = (mean - median) / d
    (``var``: the run's variance beyond that of its unaffected requests; same units as the mean, squared)."""
    excess = mean - median
    if excess <= 0 or var < 0:
        raise ValueError(f"mean - median = {excess}, variance = {var}: need a positive excess and variance >= 0")
    wait = (var + excess * excess) / excess
    return excess / wait, wait


def paused_share(var: float, gap: float) -> float:
    """The share s of requests whose value rose by ``gap`` (a stream paused for the wait: TPOT + wait / (tokens - 1))
    that leaves this extra variance: s (1 - s) gap^2 = var, the smaller root (0.5 where var exceeds gap^2 / 4)."""
    if gap <= 0 or var < 0:
        raise ValueError(f"gap = {gap}, variance = {var}: need gap > 0 and variance >= 0")
    q = var / (gap * gap)
    return 0.5 if q >= 0.25 else (1.0 - (1.0 - 4.0 * q) ** 0.5) / 2.0


def stalled_throughput(sibling_tput: float, sibling_e2e_s: float, clients: int, prompts: int, wait_s: float) -> float:
    """Output throughput of a run that stopped once for ``wait_s`` against its unstalled sibling: the sibling's
    span D = (N / C) x its mean end-to-end latency (each client runs N / C requests back to back), then D / (D + K)."""
    span_s = prompts / clients * sibling_e2e_s
    return sibling_tput * span_s / (span_s + wait_s)


def runs(cases_csv: str | Path, engine: str, chip: str) -> list[dict]:
    """One record per run stating a TTFT spread: configuration, run id, C, N, L, weights, mean / median / p99 TTFT
    (ms), mean E2E (s), throughput, TPOT, the flag's wait (s; None: not flagged)."""
    by: dict = defaultdict(dict)
    for c in read_cases(cases_csv):
        if c.source_kind != "inferencemax-agg-bmk" or _METRIC.get(c.metric) is None:
            continue
        if engine and engine not in c.case_id.split("-")[4:6] and engine not in c.software.lower():
            continue
        if chip and chip not in c.accelerator:
            continue
        by[config_key(c.case_id)][_METRIC[c.metric]] = c
    out = []
    for (cfg, run), m in by.items():
        t = m.get("ttft")
        spread = stated_ttft_spread_s(t) if t is not None else None
        pr, e2e = (_PROMPTS.search(t.notes), _E2E.search(t.notes)) if t is not None else (None, None)
        if spread is None or pr is None or not t.concurrency:
            continue
        f = _FORMAT.search(cfg)
        out.append(dict(cfg=cfg, run=run, chip=t.accelerator, fmt=f.group(1) if f else "?", C=int(t.concurrency),
                        N=int(pr.group(1)), L=f"{int(t.input_tokens or 0)}/{int(t.output_tokens or 0)}",
                        mean=t.value, median=spread[0] * 1e3, p99=spread[1] * 1e3,
                        e2e=float(e2e.group(1)) if e2e else None,
                        tput=m["tput"].value if "tput" in m else None, tpot=m["tpot"].value if "tpot" in m else None,
                        stall=measured_stall_s(t), ttft_id=t.case_id))
    return out


def _q(v: list[float]) -> str:
    return f"{np.median(v):6.1f} [{min(v):5.1f}-{max(v):5.1f}]" if v else "      -"


def report_waits(rs: list[dict]) -> None:
    flagged = [r for r in rs if r["stall"] is not None]
    print(f"runs with a stated spread: {len(rs)}; flagged (p99 - median >= 30 s, median <= 0.1 of it): "
          f"{len(flagged)}")
    calm = [(r["p99"] - r["median"]) / 1e3 for r in rs if r["stall"] is None]
    if calm:
        print(f"  unflagged runs' p99 - median: median {np.median(calm):.1f} s, largest {max(calm):.1f} s")
    if not flagged:
        return
    print("flagged runs' wait K = p99 - median (s) and W / K (W = (mean - median) N / C), median [min-max]:")
    for name, key in (("weights, lengths", lambda r: (r["fmt"], r["L"])), ("clients", lambda r: r["C"])):
        g: dict = defaultdict(list)
        for r in flagged:
            g[key(r)].append(r)
        print(f"  by {name}:")
        for k in sorted(g):
            ks = [(r["p99"] - r["median"]) / 1e3 for r in g[k]]
            ws = [implied_wait_s(r["mean"], r["median"], r["C"], r["N"]) / ((r["p99"] - r["median"]) / 1e3)
                  for r in g[k]]
            print(f"    {str(k):<22} runs {len(g[k]):3d}; K {_q(ks)}; W / K {np.median(ws):.2f} "
                  f"[{min(ws):.2f}-{max(ws):.2f}]")
    cs = np.array([r["C"] for r in flagged], dtype=float)
    ks = np.array([(r["p99"] - r["median"]) / 1e3 for r in flagged])
    wave = np.array([r["C"] * float(r["L"].split("/")[0]) for r in flagged])
    print(f"  rank correlation of K with C: {_spearman(cs, ks):+.2f}; with the first wave's prompt tokens C x L: "
          f"{_spearman(wave, ks):+.2f}")


def _spearman(a: np.ndarray, b: np.ndarray) -> float:
    ra, rb = np.argsort(np.argsort(a)), np.argsort(np.argsort(b))
    return float(np.corrcoef(ra, rb)[0, 1])


def report_siblings(rs: list[dict], show: bool) -> None:
    by: dict = defaultdict(list)
    for r in rs:
        by[r["cfg"]].append(r)
    rows = []
    for r in rs:
        sib = [s for s in by[r["cfg"]] if s["stall"] is None and s["run"] != r["run"]]
        if r["stall"] is None or not sib:
            continue
        k = r["stall"]
        mean_sib = float(np.median([s["mean"] for s in sib]))
        pred_mean = mean_sib + k * 1e3 * r["C"] / r["N"]
        own = float(np.median([(s["p99"] - s["median"]) / 1e3 for s in sib]))
        row = dict(r, k=k, n_sib=len(sib), mean_sib=mean_sib, pred_mean=pred_mean, beyond=k - own)
        e2es = [s["e2e"] for s in sib if s["e2e"]]
        if r["e2e"] and e2es:
            row["d_e2e"], row["pred_d_e2e"] = r["e2e"] - float(np.median(e2es)), k * r["C"] / r["N"]
        tputs = [s for s in sib if s["tput"] and s["e2e"]]
        if r["tput"] and tputs:
            pt = float(np.median([stalled_throughput(s["tput"], s["e2e"], r["C"], r["N"], k) for s in tputs]))
            row["tput_ratio"], row["pred_tput_ratio"] = r["tput"] / float(np.median([s["tput"] for s in tputs])), \
                pt / float(np.median([s["tput"] for s in tputs]))
        tpots = [s["tpot"] for s in sib if s["tpot"]]
        if r["tpot"] and tpots:
            row["tpot_ratio"] = r["tpot"] / float(np.median(tpots))
        rows.append(row)
    print(f"flagged runs with an unflagged sibling (same configuration, another workflow run): {len(rows)}")
    if not rows:
        return
    b = [x["beyond"] for x in rows]
    print(f"  K beyond the sibling's own p99 - median (the stall alone): median {np.median(b):.1f} s "
          f"[{min(b):.1f}-{max(b):.1f}]")
    err = [100 * (x["pred_mean"] - x["mean"]) / x["mean"] for x in rows]
    base = [100 * (x["mean_sib"] - x["mean"]) / x["mean"] for x in rows]
    print(f"  mean TTFT: the sibling's mean alone is off by {np.median(base):+.1f} % (median signed); "
          f"sibling + K C / N by {np.median(err):+.1f} % (|e| median {np.median(np.abs(err)):.1f}, "
          f"largest {max(np.abs(err)):.1f} %)")
    d = [x for x in rows if "d_e2e" in x]
    if d:
        print(f"  mean E2E latency over the sibling's: measured {np.median([x['d_e2e'] for x in d]):+.2f} s, "
              f"K C / N {np.median([x['pred_d_e2e'] for x in d]):+.2f} s (medians)")
    t = [x for x in rows if "tput_ratio" in x]
    if t:
        print(f"  output throughput / the sibling's: measured {np.median([x['tput_ratio'] for x in t]):.3f}, "
              f"one stop of K s (D / (D + K)) {np.median([x['pred_tput_ratio'] for x in t]):.3f} (medians)")
    p = [x["tpot_ratio"] for x in rows if "tpot_ratio" in x]
    if p:
        print(f"  TPOT / the sibling's: median {np.median(p):.3f} [{min(p):.3f}-{max(p):.3f}]")
    if show:
        print("  run: config C N | mean / median / p99 TTFT ms | K s | sibling mean -> + K C/N | tput ratio "
              "meas / one-stop")
        for x in sorted(rows, key=lambda x: (x["fmt"], x["L"], x["C"], x["run"])):
            tr = f"{x['tput_ratio']:.3f} / {x['pred_tput_ratio']:.3f}" if "tput_ratio" in x else "-"
            print(f"  r{x['run']} {x['fmt']} {x['L']:>9} C{x['C']:<4d} N{x['N']:<5d} | {x['mean']:7.0f} / "
                  f"{x['median']:6.0f} / {x['p99']:7.0f} | {x['k']:5.1f} | {x['mean_sib']:6.0f} -> "
                  f"{x['pred_mean']:6.0f} | {tr}")


def report_consistency(rs: list[dict]) -> None:
    """Runs whose stated mean is below the least mean their median, p99 and N allow."""
    bad = [r for r in rs if r["mean"] < min_mean_ms(r["median"], r["p99"], r["N"])]
    fl = sum(r["stall"] is not None for r in rs)
    print(f"records whose mean is below the least their median, p99 and N = --num-prompts allow: "
          f"{sum(r['stall'] is not None for r in bad)} of {fl} flagged runs, "
          f"{sum(r['stall'] is None for r in bad)} of {len(rs) - fl} others")
    for r in bad:
        print(f"  r{r['run']} {r['cfg']} N {r['N']}: mean {r['mean']:.0f} ms, median {r['median']:.0f}, p99 "
              f"{r['p99']:.0f}; least mean {min_mean_ms(r['median'], r['p99'], r['N']):.0f} ms")


def report_std(path: str, range_ratio: float = 0.8) -> None:
    """From a record file with std (docs/data/imax_b200_sglang_stall_std.csv): per flagged run, how many requests
    waited for their first token and for how long (two_point, beyond the unflagged sibling's variance where the file
    has one), and how many streams paused that long while decoding (TPOT + wait / (mean output - 1), mean output
    (1 + r) / 2 x OSL), against the C requests in flight."""
    rows = [r for r in csv.DictReader(line for line in open(path, encoding="utf-8") if not line.startswith("#"))]
    key = lambda r: (r["tp"], r["isl"], r["osl"], r["conc"])  # noqa: E731
    calm = {key(r): r for r in rows if float(r["p99_ttft"]) - float(r["median_ttft"]) < STALL_WAIT_S}
    print(f"two-point reading of the std (file {path}): waited = requests that waited for the first token, "
          "paused = streams that paused as long while decoding")
    for r in rows:
        if key(r) in calm and calm[key(r)] is r:
            continue
        c, osl = int(r["conc"]), int(r["osl"])
        n = 10 * c
        sib = calm.get(key(r))
        v_t = float(r["std_ttft"]) ** 2 - (float(sib["std_ttft"]) ** 2 if sib else 0.0)
        share, wait = two_point(float(r["mean_ttft"]), float(r["median_ttft"]), v_t)
        v_p = float(r["std_tpot"]) ** 2 - (float(sib["std_tpot"]) ** 2 if sib else 0.0)
        gap = wait / ((1.0 + range_ratio) / 2.0 * osl - 1.0)
        paused = paused_share(max(v_p, 0.0), gap) * n
        ok = float(r["mean_ttft"]) * 1e3 >= min_mean_ms(float(r["median_ttft"]) * 1e3, float(r["p99_ttft"]) * 1e3, n)
        print(f"  r{r['run']} TP{r['tp']} {r['isl']}/{osl} C{c:<3d} N{n:<4d}: waited {share * n:5.1f} x "
              f"{wait:5.1f} s, paused {paused:5.1f}; {share * n + paused:5.1f} of {c} in flight"
              f"{'' if sib else ' (no sibling in the file)'}{'' if ok else '; record inconsistent'}")


def report_loao(validate_json: str, rs: list[dict]) -> None:
    """LOAO TTFT figures as scored, and with each flagged run's own measured K C / N added to its prediction."""
    stall = {r["ttft_id"]: (r["stall"], r["C"], r["N"]) for r in rs if r["stall"] is not None}
    errs, moved = [], []
    groups: dict = defaultdict(lambda: ([], []))
    for x, e, p in loao_errors(rows_with_ids(validate_json)):
        if x["metric"] != "ttft_ms":
            continue
        e2 = e
        if x["case_id"] in stall:
            k, c, n = stall[x["case_id"]]
            e2 = 100.0 * (p + k * 1e3 * c / n - x["meas"]) / x["meas"]
        errs.append(e)
        moved.append(e2)
        for k in ((x["engine"], x["chip"]), (x["engine"], "all chips")):
            groups[k][0].append(e)
            groups[k][1].append(e2)

    def f(v: list[float]) -> str:
        a = np.abs(v)
        return f"{np.median(a):.1f} / {np.percentile(a, 90):.1f} / {np.median(v):+.1f}"

    print(f"LOAO TTFT (median / p90 / signed %), {len(errs)} rows: as scored {f(errs)}; each flagged run's own "
          f"K C / N added (information only) {f(moved)}")
    for k in sorted(groups):
        if groups[k][0] != groups[k][1]:
            print(f"  {k[0]} {k[1]}: {f(groups[k][0])} -> {f(groups[k][1])}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", default=str(SHIPPED))
    ap.add_argument("--engine", default="")
    ap.add_argument("--chip", default="")
    ap.add_argument("--validate", default="", help="a validate JSON: the LOAO counterfactual")
    ap.add_argument("--std", default="", help="a record file with std (docs/data/imax_b200_sglang_stall_std.csv)")
    ap.add_argument("--list", action="store_true")
    a = ap.parse_args()
    rs = runs(a.cases, a.engine, a.chip)
    report_waits(rs)
    report_siblings(rs, a.list)
    report_consistency(rs)
    if a.std:
        report_std(a.std)
    if a.validate:
        report_loao(a.validate, runs(a.cases, "", ""))


if __name__ == "__main__":
    main()
