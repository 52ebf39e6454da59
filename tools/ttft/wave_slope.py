"""What one more prompt costs inside a closed-loop run's first wave, against what a prompt costs alone, measured and
simulated, per configuration across its concurrencies.

A run sends its ``C`` first prompts at once and ``10 C`` in all, so its p99 TTFT is the ``0.1 C``-th largest of the
``10 C``: the first wave's ``0.9 C``-th prompt. Across the concurrencies of one configuration (engine, chip, model,
layout, input and output length, serving units), a least-squares line

    p99 = a + d x 0.9 C

separates the wave's marginal cost per prompt ``d`` (the drain: ms per prompt, and us per prompt token over the mean
prompt 0.9 L, lengths uniform in [0.8 L, L]) from its fixed part ``a`` (the first prompt's latency and whatever the
wave pays once). ``tools/ttft/wave_drain_engines.py`` reads ``(p99 - median) / C`` per row, which folds ``a`` into
``d`` at low concurrency; the fit does not.

Beside it:

* **alone**: the median TTFT at the configuration's lowest concurrency (measured: the run's stated median; simulated:
  the validate JSON's ``ttft_median_ms``);
* **front**: the first wave's mean over its p99, ``10 (mean - 0.9 median) / p99`` (the other 90 % of the requests
  taken at the median): a first wave drained at a constant rate gives about 0.55 (its mean is half its length,
  its p99 prompt 0.9 of it); below that, the wave's first prompts are served faster than its last.

    python tools/ttft/wave_slope.py closed.json [--cases CASES.csv] [--engine atom] [--min-points 3]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "closed_loop"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from ttft_spread import SHIPPED, notes_spread  # noqa: E402
from wave_drain_engines import MEAN_PROMPT_FRACTION, layout_of, spread_rows  # noqa: E402

WAVE_RANK_FRACTION = 0.9  # the p99 of 10 C requests is the first wave's 0.9 C-th prompt
PROMPTS_PER_CLIENT = 10  # InferenceMAX --num-prompts 10 x concurrency


def wave_line(clients: list[int], p99_ms: list[float]) -> tuple[float, float]:
    """(a, d): the least-squares line ``p99 = a + d x 0.9 C`` over a configuration's runs (ms, ms per prompt)."""
    if len(set(clients)) < 2 or len(clients) != len(p99_ms):
        raise ValueError(f"wave_line needs runs at two or more concurrencies and one p99 per run, got clients "
                         f"{clients} and {len(p99_ms)} p99 values")
    k = WAVE_RANK_FRACTION * np.asarray(clients, dtype=float)
    d, a = np.polyfit(k, np.asarray(p99_ms, dtype=float), 1)
    return float(a), float(d)


def front_share(mean_ms: float, median_ms: float, p99_ms: float) -> float:
    """The first wave's mean over the run's p99: ``10 (mean - 0.9 median) / p99``."""
    if p99_ms <= 0:
        raise ValueError(f"front_share needs a positive p99, got {p99_ms}")
    rest = (PROMPTS_PER_CLIENT - 1) / PROMPTS_PER_CLIENT
    return PROMPTS_PER_CLIENT * (mean_ms - rest * median_ms) / p99_ms


def slope_rows(cases: list[dict], spread: dict[str, tuple[float, float]]) -> list[dict]:
    """Every TTFT row with a stated spread and a simulation: its group key, clients, and (mean, median, p99)
    measured and simulated, in ms."""
    out = []
    for c, m, sim, med, p99 in spread_rows(cases, spread):
        engine = str(sim.get("engine", "?"))
        units = int(c.get("replicas") or 1)
        out.append({"key": (engine, m["chip"], m["model"], layout_of(m["rest"], engine), int(m["isl"]),
                            int(m["osl"]), units, "fp4" if "-fp4-" in c["case_id"] else "fp8"),
                    "clients": int(m["c"]),
                    "meas": (float(c["measured"]), med, p99),
                    "sim": (float(sim["ttft_ms"]), float(sim["ttft_median_ms"]), float(sim["ttft_p99_ms"]))})
    return out


def group_slopes(rows: list[dict], min_points: int = 3) -> list[tuple[tuple, dict[str, float], int]]:
    """Per configuration with runs at ``min_points`` or more concurrencies: the wave line, the lone prompt and the
    front share, measured and simulated."""
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for r in rows:
        groups[r["key"]].append(r)
    out = []
    for key, g in groups.items():
        cs = [r["clients"] for r in g]
        if len(set(cs)) < min_points:
            continue
        s: dict[str, float] = {}
        for side in ("meas", "sim"):
            a, d = wave_line(cs, [r[side][2] for r in g])
            low = min(cs)
            s[f"{side}_a"], s[f"{side}_d"] = a, d
            s[f"{side}_us_per_token"] = 1e3 * d / (MEAN_PROMPT_FRACTION * key[4])
            s[f"{side}_alone"] = float(np.median([r[side][1] for r in g if r["clients"] == low]))
            s[f"{side}_front"] = float(np.median([front_share(*r[side]) for r in g if r["clients"] >= 16] or [np.nan]))
        out.append((key, s, len(g)))
    return sorted(out, key=lambda t: (t[0][0], t[0][1], t[0][2], t[0][7], t[0][3], t[0][4], t[0][5]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("validate_json")
    ap.add_argument("--cases", default=str(SHIPPED), help="cases file whose notes state each run's TTFT spread")
    ap.add_argument("--engine", help="only this engine's rows (the validate JSON's sim engine, e.g. atom)")
    ap.add_argument("--min-points", type=int, default=3, help="fewest concurrencies a configuration needs")
    a = ap.parse_args()
    rows = slope_rows(json.load(open(a.validate_json))["cases"], notes_spread(a.cases))
    if a.engine:
        rows = [r for r in rows if r["key"][0] == a.engine]
    print("p99 = a + d x 0.9 C per configuration; alone = median TTFT at its lowest concurrency; front = first "
          "wave's mean / p99 (rows of >= 16 clients); measured / simulated")
    print("  engine   chip   model      fmt layout       isl/osl   runs |   a ms meas / sim |  d ms per prompt "
          "| us per token | alone ms meas / sim | front meas / sim")
    for key, s, n in group_slopes(rows, a.min_points):
        print(f"  {key[0]:8s} {key[1]:6s} {key[2]:10s} {key[7]:3s} {key[3]:12s} {key[4]:5d}/{key[5]:<5d} {n:3d} | "
              f"{s['meas_a']:7.0f} / {s['sim_a']:6.0f} | {s['meas_d']:7.1f} / {s['sim_d']:6.1f} | "
              f"{s['meas_us_per_token']:5.1f} / {s['sim_us_per_token']:5.1f} | "
              f"{s['meas_alone']:7.1f} / {s['sim_alone']:7.1f} | {s['meas_front']:4.2f} / {s['sim_front']:4.2f}")


if __name__ == "__main__":
    main()
