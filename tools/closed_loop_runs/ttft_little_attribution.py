"""Little's law as a check on every closed-loop run and as an attribution of each TTFT tail row's error (report only).

A closed loop of ``C`` clients obeys ``C r = X E2E`` over the run: ``X`` the requests/s (output tokens/s over the mean
output ``0.9 OSL``, InferenceX lengths uniform in [0.8 L, L]), ``E2E = TTFT + (0.9 OSL - 1) TPOT`` and ``r`` the
time-averaged share of clients holding a request. A client never holds two, so a run's ``r`` is at most 1; what it
lacks of 1 is the clients' idle time (the drain of the last wave, the client's own gap between two requests): the
one part of a run the three published metrics do not carry. So the TTFT is the law's residual,

    TTFT = C r / X - (0.9 OSL - 1) TPOT,

and a row's LOAO TTFT error (points of the measured TTFT) splits exactly into four terms:

* ``rate``: ``C r_mid (1 / X_sim - 1 / X_meas)`` (``r_mid`` the mean of the two ``r``),
* ``tpot``: ``-(0.9 OSL - 1) (TPOT_sim - TPOT_meas)``,
* ``occupancy``: ``C (r_sim - r_meas) (1 / X_sim + 1 / X_meas) / 2`` (the symmetric split of ``r / X``: exact, and
  the same whichever factor is taken first),
* ``refit``: the leave-one-accelerator-out move of the simulated TTFT (tools/closed_loop/ttft_tail.py).

The same law on the first-token stage alone reads ``TTFT = N_first / X`` exactly, ``N_first = C r - N_decode`` the
requests ahead of their first token and ``N_decode = X (0.9 OSL - 1) TPOT`` those decoding; so ``ln(TTFT_sim /
TTFT_meas) = ln(N_first_sim / N_first_meas) - ln(X_sim / X_meas)``, and a decode pool that holds a share ``1 - s``
of the clients' requests turns its own occupancy error ``e`` into about ``-e (1 - s) / s`` of ``N_first`` (in
sample: the LOAO refit moves a TTFT by a fraction of a point).

For small errors ``e_TTFT = A (e_r - e_X) - (A - 1) e_TPOT`` with ``A = E2E / TTFT`` (measured), the amplification: a
1 % rate error is ``A`` % of TTFT. Where ``A`` is large (a ``light`` row: TTFT under ``--light`` of E2E) the rate
and TPOT terms are two large numbers of opposite sign and the split says nothing causal: the simulator's TTFT there is
a request's service time and the loop's rate follows it. Where ``A`` is small (a ``loop`` row) the rate is set by the
loop's bottleneck and the TTFT is what is left of ``C r / X``: the ``rate`` term is the cause.

A run flagged as stalled (``measured_stall_s``: one wait of ``S`` seconds that the first wave of ``C`` of its
``P C`` requests sat through) gains ``S / P`` of mean TTFT and the same of ``C r / X``: the law sees a stall as a
rate deficit, and the report checks the measured TTFT gap of those runs against ``S / P``.

    python tools/closed_loop_runs/ttft_little_attribution.py validate.json [--threshold 35] [--light 0.1] [--list]
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "closed_loop"))
from ttft_little_split import _ID, _METRIC, TPUT, mean_output, side, triples  # noqa: E402  (the per-triple law)
from ttft_tail import loao_errors, rows_with_ids  # noqa: E402  (LOAO predictions, as closed_loop_tables.py)

TERMS = ("rate", "tpot", "occupancy", "refit")


def terms_s(meas: dict[str, float], sim: dict[str, float], clients: float, osl: float) -> dict[str, float]:
    """The exact split (s) of ``TTFT_sim - TTFT_meas`` into the rate, TPOT and occupancy terms (module docstring);
    ``meas`` and ``sim`` are ``side`` triples of one run."""
    k = mean_output(osl) - 1.0
    inv_m, inv_s = 1.0 / meas["x_rps"], 1.0 / sim["x_rps"]
    return {"rate": clients * 0.5 * (meas["r"] + sim["r"]) * (inv_s - inv_m),
            "tpot": -k * (sim["tpot_s"] - meas["tpot_s"]),
            "occupancy": clients * (sim["r"] - meas["r"]) * 0.5 * (inv_s + inv_m)}


def linear_error_pct(a: float, e_r: float, e_x: float, e_tpot: float) -> float:
    """The first-order TTFT error (%) of relative errors ``e_r``, ``e_x``, ``e_tpot`` (fractions) at amplification
    ``a = E2E / TTFT``: ``100 (a (e_r - e_x) - (a - 1) e_tpot)``."""
    if a < 1.0:
        raise ValueError(f"amplification {a}: E2E / TTFT is at least 1")
    return 100.0 * (a * (e_r - e_x) - (a - 1.0) * e_tpot)


def _run_sides(base: str, g: dict[str, Any]) -> tuple[float, float, dict[str, Any], dict[str, float],
                                                       dict[str, float]] | None:
    """One run's (OSL, clients, its TTFT row, the measured and the simulated ``side``) from its case id ``base`` and
    its rows ``g`` (``triples``); None where the id holds no lengths or a row of the three is missing."""
    m = _ID.search(base)
    if not m or not {TPUT, "ttft_ms", "tpot_ms"} <= set(g):
        return None
    osl, clients = float(m.group(2)), float(m.group(3))
    t, f, q = g[TPUT], g["ttft_ms"], g["tpot_ms"]
    ms = side(t["measured"], f["measured"] / 1e3, q["measured"] / 1e3, clients, osl)
    ss = side(t["sim"]["output_tokens_per_s"], f["sim"]["ttft_ms"] / 1e3, q["sim"]["tpot_ms"] / 1e3, clients, osl)
    return osl, clients, f, ms, ss


def law_check(path: str) -> dict[str, list[dict[str, float]]]:
    """Engine -> per run with its three rows: the Little share ``r`` measured and simulated, and the measured idle
    time a request ``(1 - r) C / X`` (s) with the measured E2E (s)."""
    out: dict[str, list[dict[str, float]]] = defaultdict(list)
    for base, g in triples(path).items():
        run = _run_sides(base, g)
        if run is None:
            continue
        osl, clients, f, ms, ss = run
        out[(f.get("sim") or {}).get("engine") or "?"].append(
            {"meas": ms["r"], "sim": ss["r"], "idle_s": (1.0 - ms["r"]) * clients / ms["x_rps"], "e2e_s": ms["e2e_s"]})
    return out


def attribute(path: str, threshold_pct: float, light_share: float, only_tail: bool = True) -> list[dict[str, Any]]:
    """The TTFT rows (the LOAO tail only where ``only_tail``): their LOAO error, the four terms in points of the
    measured TTFT (summing to the error), the amplification, the regime and the run's throughput and TPOT LOAO
    errors."""
    trip = triples(path)
    loao = loao_errors(rows_with_ids(path))
    other = {(x["case_id"], x["metric"]): e for x, e, _ in loao if x["metric"] != "ttft_ms"}
    out = []
    for x, e, p in loao:
        if x["metric"] != "ttft_ms" or (only_tail and abs(e) <= threshold_pct):
            continue
        base = _METRIC.sub("", x["case_id"])
        run = _run_sides(base, trip.get(base, {}))
        if run is None:
            continue
        osl, clients, f, ms, ss = run
        tm = ms["ttft_s"]
        pts = {k: 100.0 * v / tm for k, v in terms_s(ms, ss, clients, osl).items()}
        pts["refit"] = 100.0 * (p - f["sim"]["ttft_ms"]) / f["measured"]
        if abs(sum(pts.values()) - e) > 1e-6 * max(1.0, abs(e)):
            raise SystemExit(f"{path}: case {x['case_id']}: the terms sum to {sum(pts.values()):.6g} %, the LOAO "
                             f"error is {e:.6g} %")
        share = tm / ms["e2e_s"]
        first = {"ln_first": float(np.log(ss["n_first"] / ms["n_first"])) if ss["n_first"] > 0 else float("nan"),
                 "ln_x": float(np.log(ss["x_rps"] / ms["x_rps"])), "decode_ratio": ss["n_decode"] / ms["n_decode"],
                 "first_share": ms["n_first"] / (clients * ms["r"])}
        out.append(dict(case_id=base, engine=x["engine"], chip=x["chip"], error=e, amp=1.0 / share,
                        layout="disagg" if "-disagg-" in base else "agg",
                        regime="light" if share < light_share else "loop", r_meas=ms["r"], r_sim=ss["r"],
                        flagged=bool(f.get("measured_stall_s")), sign="over" if e > 0 else "under",
                        e_tput=other.get((base + "-tput", TPUT), float("nan")),
                        e_tpot=other.get((base + "-tpot", "tpot_ms"), float("nan")), **first, **pts))
    return out


def stall_check(path: str) -> list[tuple[str, float, float]]:
    """(base case id, the one-off stall over the run's prompts a client ``S / P`` (s), the measured minus the
    simulated TTFT (s)) of every run with a stated stall and its three rows."""
    out = []
    for base, g in triples(path).items():
        f, m = g.get("ttft_ms"), _ID.search(base)
        if not f or not f.get("measured_stall_s") or not m or not {TPUT, "tpot_ms"} <= set(g):
            continue
        per_client = (f.get("sim") or {}).get("prompts_per_client")
        if not per_client:
            continue
        gap_s = (f["measured"] - f["sim"]["ttft_ms"]) / 1e3
        out.append((base, float(f["measured_stall_s"]) / float(per_client), gap_s))
    return out


def inside_without(rs: list[dict[str, Any]], drop: tuple[str, ...], threshold_pct: float) -> int:
    """How many rows come within the threshold with the ``drop`` terms set to zero (those quantities made exact)."""
    return sum(abs(r["error"] - sum(r[k] for k in drop)) <= threshold_pct for r in rs)


def ceiling(rs: list[dict[str, Any]], regime: str | None, drop: tuple[str, ...],
            threshold_pct: float) -> tuple[int, float]:
    """(rows beyond the threshold, p90 |error| %) of all ``rs`` with the ``drop`` terms set to zero in the unflagged
    rows of ``regime`` (every regime where None): what that quantity made exact there would give. Stalled runs keep
    their error (no steady-state model predicts a one-off stall)."""
    e = np.array([r["error"] - sum(r[k] for k in drop)
                  if (regime is None or r["regime"] == regime) and not r["flagged"] else r["error"] for r in rs])
    return int((np.abs(e) > threshold_pct).sum()), float(np.percentile(np.abs(e), 90))


def _q(v: list[float]) -> str:
    return f"{np.median(v):.3f} ({np.percentile(v, 5):.3f}-{np.percentile(v, 95):.3f}, max {max(v):.3f})"


def report(path: str, threshold_pct: float, light_share: float, listing: bool) -> None:
    chk = law_check(path)
    n = sum(len(v) for v in chk.values())
    viol = sum(r["meas"] > 1.0 for v in chk.values() for r in v)
    print(f"1. Little's share r = X E2E / C of {n} runs (at most 1 if the law holds; measured above 1: {viol}); 1 - r "
          "is the clients' idle share, and its correlation with E2E over an engine's runs says whether the idle "
          "time is a fixed gap a request (low) or a share of the run (high)\n")
    print("| engine | runs | measured r: median (p5-p95, max) | simulated r | median sim - meas | corr(idle s, E2E) |")
    print("|---|---|---|---|---|---|")
    for eng in sorted(chk, key=lambda k: -len(chk[k])):
        v = chk[eng]
        meas, sim = [r["meas"] for r in v], [r["sim"] for r in v]
        corr = np.corrcoef([r["idle_s"] for r in v], [r["e2e_s"] for r in v])[0, 1] if len(v) > 2 else float("nan")
        print(f"| {eng} | {len(v)} | {_q(meas)} | {_q(sim)} | {np.median(np.array(sim) - np.array(meas)):+.4f} | "
              f"{corr:.2f} |")
    every = attribute(path, threshold_pct, light_share, only_tail=False)
    rs = [r for r in every if abs(r["error"]) > threshold_pct]
    print(f"\n2. The {len(rs)} TTFT rows beyond {threshold_pct:g} % LOAO, by regime (light: TTFT under "
          f"{light_share:g} of the measured E2E); terms in points of the measured TTFT, median (median of |term|)\n")
    print("| regime | rows | flagged | median A | rate | tpot | occupancy | refit | inside without rate / tpot / "
          "occupancy / rate+tpot |")
    print("|---|---|---|---|---|---|---|---|---|")
    for reg in ("loop", "light"):
        v = [r for r in rs if r["regime"] == reg]
        if not v:
            continue
        cells = " | ".join(f"{np.median([r[k] for r in v]):+.0f} ({np.median([abs(r[k]) for r in v]):.0f})"
                           for k in TERMS)
        ins = " / ".join(str(inside_without(v, d, threshold_pct))
                         for d in (("rate",), ("tpot",), ("occupancy",), ("rate", "tpot")))
        print(f"| {reg} | {len(v)} | {sum(r['flagged'] for r in v)} | {np.median([r['amp'] for r in v]):.1f} | "
              f"{cells} | {ins} |")
    for reg in ("loop", "light"):
        v = [r for r in every if r["regime"] == reg]
        t = [r for r in v if abs(r["error"]) > threshold_pct]
        share = 100 * len(t) / max(len(v), 1)
        lay = ", ".join(f"{lo} {sum(r['layout'] == lo for r in v)} rows, {sum(r['layout'] == lo for r in t)} beyond "
                        f"({sum(r['layout'] == lo and not r['flagged'] for r in t)} unflagged)"
                        for lo in ("disagg", "agg"))
        print(f"\n  {reg}: {len(v)} TTFT rows, {len(t)} beyond {threshold_pct:g} % ({share:.0f} %); "
              f"of those, throughput LOAO error within {threshold_pct:g} %: "
              f"{sum(abs(r['e_tput']) <= threshold_pct for r in t)}, within {threshold_pct:g} / A: "
              f"{sum(abs(r['e_tput']) <= threshold_pct / r['amp'] for r in t)}; {lay}")
    print(f"\n  made exact in the unflagged rows (all {len(every)} TTFT rows; tail rows, p90 %; now "
          f"{ceiling(every, None, (), threshold_pct)[0]}, {ceiling(every, None, (), threshold_pct)[1]:.1f}):")
    for reg in ("loop", "light"):
        cells = []
        for d in (("rate",), ("tpot",), ("occupancy",), ("rate", "tpot")):
            n_tail, p90 = ceiling(every, reg, d, threshold_pct)
            cells.append(f"{'+'.join(d)} {n_tail}, {p90:.1f}")
        print(f"    {reg}: " + "; ".join(cells))
    st = stall_check(path)
    if st:
        ratio = np.array([gap / sp for _, sp, gap in st])
        print(f"\n  stalled runs: {len(st)}; measured minus simulated TTFT over S / P: median {np.median(ratio):.2f} "
              f"(p10 {np.percentile(ratio, 10):.2f}, p90 {np.percentile(ratio, 90):.2f}); median S / P "
              f"{np.median([sp for _, sp, _ in st]):.2f} s")
    print("\n3. By regime, layout (disaggregated or not), engine, chip, sign and stall flag: rows, median A, median "
          "terms (points), median LOAO "
          "throughput / TPOT error of the same runs (%), median r meas / sim; the first-token stage, medians: "
          "ln(N_first sim / meas) and -ln(X sim / meas) (they sum to ln(TTFT sim / meas)), N_decode sim / meas and the "
          "measured N_first share of C r\n")
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = defaultdict(list)
    for r in rs:
        key = (r["regime"], r["layout"], r["engine"], r["chip"], r["sign"], "stall" if r["flagged"] else "-")
        groups[key].append(r)
    for k in sorted(groups, key=lambda k: (k[0], -len(groups[k]))):
        v = groups[k]
        t = ", ".join(f"{name} {np.median([r[name] for r in v]):+.0f}" for name in TERMS[:3])
        print(f"  {'/'.join(k):55s} {len(v):3d}  A {np.median([r['amp'] for r in v]):5.1f}  {t}; "
              f"tput {np.nanmedian([r['e_tput'] for r in v]):+.1f} tpot {np.nanmedian([r['e_tpot'] for r in v]):+.1f}; "
              f"r {np.median([r['r_meas'] for r in v]):.3f} / {np.median([r['r_sim'] for r in v]):.3f}; "
              f"{np.nanmedian([r['ln_first'] for r in v]):+.2f} {-np.median([r['ln_x'] for r in v]):+.2f}, "
              f"{np.median([r['decode_ratio'] for r in v]):.2f}, {np.median([r['first_share'] for r in v]):.2f}")
    if listing:
        print("\n4. Rows: LOAO error, A, terms (points), throughput / TPOT LOAO error (%), case")
        for r in sorted(rs, key=lambda r: (r["regime"], r["case_id"])):
            print(f"  {r['regime']:5s} {r['error']:+7.1f} A {r['amp']:6.1f}  "
                  + " ".join(f"{r[k]:+7.1f}" for k in TERMS)
                  + f"  {r['e_tput']:+6.1f} {r['e_tpot']:+6.1f}  {r['case_id']}{' (stall)' if r['flagged'] else ''}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("validate_json")
    ap.add_argument("--threshold", type=float, default=35.0)
    ap.add_argument("--light", type=float, default=0.1, help="TTFT share of E2E below which a row is 'light'")
    ap.add_argument("--list", action="store_true", help="list the tail rows")
    a = ap.parse_args()
    if not 0.0 < a.light < 1.0:
        ap.error(f"--light {a.light}: allowed: a share strictly between 0 and 1")
    report(a.validate_json, a.threshold, a.light, a.list)


if __name__ == "__main__":
    main()
