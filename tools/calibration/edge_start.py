"""Does a row's simulated edge move with the rate search's start? Replays the MLPerf Server/Interactive rate search of
each named row (``validation/server.py``: the highest rate whose p99 limits hold) from its own start rate times each
``--factors`` value, and prints the edge found, the runs it took and the row's figures there (mean TTFT and TPOT,
p99 TTFT and TPOT). With the search on a grid anchored at 1 request/s (``sim/search.grid_edge``) every start gives
the same edge where pass/fail is monotone in the rate; a start-dependent search gives a spread of edges.

    python tools/calibration/edge_start.py mlp51-llama2-70b-99-server-h200x8-nebius-ttft [--factors 0.8 1 1.25]
        [--cases src/inferchip/catalog/validation_cases.csv] [--calibration FILE]

Rows are predicted as ``inferchip validate`` predicts them (server model "auto"); a row with no rate search
(stated load met, closed loop, offline) is reported as such.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from inferchip.catalog.calibration_file import load_calibration_file
from inferchip.validation import server
from inferchip.validation.cases import read_cases
from inferchip.validation.validate import Validator

CASES = Path(__file__).resolve().parents[2] / "src" / "inferchip" / "catalog" / "validation_cases.csv"


def replay(case_id: str, cases: str, calibration: str | None, factors: list[float]) -> list[dict[str, Any]]:
    """One line per start factor for the row's (first) rate search; empty when the row runs none."""
    (case,) = [c for c in read_cases(cases) if c.case_id == case_id] or [None]
    if case is None:
        raise SystemExit(f"{case_id}: no such row in {cases}")
    cal = load_calibration_file(calibration)
    calls: list[tuple[tuple, dict]] = []
    search = server._search

    def recording(*args: Any, **kw: Any) -> Any:
        calls.append((args, kw))
        return search(*args, **kw)

    server._search = recording  # type: ignore[assignment]  # the row's own search, its arguments kept
    try:
        Validator(cal.calibration, lengths=cal.lengths, server_model="auto", compare=False).predict_case(case)
    finally:
        server._search = search  # type: ignore[assignment]
    if not calls:
        return []
    args, kw = calls[0]
    sim, r0 = args[0], args[6]
    out = []
    for f in factors:
        res = search(*args[:6], r0 * f, *args[7:], **kw)
        s, reps = res.summary, getattr(sim.mm.layout, "replicas", 1)
        out.append({"factor": f, "start_per_s": r0 * f * reps, "edge_per_s": res.reported.rate_per_s * reps,
                    "feasible": res.feasible, "runs": len(res.trials), "mean_ttft_ms": s["ttft_s_mean"] * 1e3,
                    "mean_tpot_ms": s["tpot_s_mean"] * 1e3, "p99_ttft_ms": res.ttft_s * 1e3,
                    "p99_tpot_ms": res.tpot_s * 1e3})
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("rows", nargs="+")
    ap.add_argument("--factors", nargs="+", type=float, default=[0.8, 0.9, 1.0, 1.1, 1.25])
    ap.add_argument("--cases", default=str(CASES))
    ap.add_argument("--calibration", default=None, help="a calibrate YAML (default: the shipped one)")
    a = ap.parse_args()
    print(f"rate grid neighbours {server.REL_TOL:g} apart, bracket step {server.RATE_STEP:g}; rates in requests/s "
          "(all replicas)")
    for row in a.rows:
        lines = replay(row, a.cases, a.calibration, a.factors)
        print(f"\n{row}" + ("" if lines else ": no rate search (read at its stated load or not a server row)"))
        if lines:
            print("  start x   start    edge  runs  mean TTFT  mean TPOT  p99 TTFT  p99 TPOT (ms)")
        for d in lines:
            print(f"  {d['factor']:7.3g} {d['start_per_s']:7.4g} {d['edge_per_s']:7.4g} {d['runs']:5d} "
                  f"{d['mean_ttft_ms']:10.4g} {d['mean_tpot_ms']:10.4g} {d['p99_ttft_ms']:9.4g} {d['p99_tpot_ms']:9.4g}"
                  + ("" if d["feasible"] else "  (no rate met the limits)"))
        if lines:
            edges = {round(d["edge_per_s"], 9) for d in lines}
            print(f"  distinct edges: {len(edges)}, spread {max(edges) / min(edges) - 1:.2%}")


if __name__ == "__main__":
    main()
