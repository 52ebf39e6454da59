"""Paired chips in the closed-loop rows: the measured and the predicted speed-up of one chip over another on runs
that differ only in the chip (same model, engine image, tp / ep, lengths and concurrency), and where they diverge.

For each group of paired runs (the ``_KEY`` columns; the median over a group's runs) and each metric, the speed-up of
the ``--fast`` chip over the ``--slow`` one (:func:`speedup`): ``value_fast / value_slow`` for a throughput,
``value_slow / value_fast`` for a time (TPOT, TTFT), so above 1 means the fast chip is faster. From the measured and
the predicted (a ``validate --format json`` file) speed-ups:

* ``excess`` = predicted / measured speed-up - 1 (%): above 0 the model gives the fast chip too much of an edge;
* ``bandwidth share`` (:func:`bandwidth_share`): the part of the slow chip's time that would scale with memory
  bandwidth if the rest did not change, from the speed-up and the chips' bandwidth ratio (the catalogue's measured
  streaming bandwidth where a chip file states one, else the datasheet). 100 %: all bytes; 0 %: nothing scales.

Then the medians by tp, concurrency, lengths, engine image and model, so a divergence can be placed. H100 SXM and
H200 SXM are the pair the InferenceMAX rows hold (gpt-oss-120b on vLLM; same GH100 die and 700 W, 3.18 against
4.48 TB/s measured: the chip files' ``memory.measured_bandwidth``).

    python tools/closed_loop/chip_pairs.py validate.json [--cases CSV] [--slow CHIP] [--fast CHIP] [--rows]
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
from collections import defaultdict
from pathlib import Path

CATALOG = Path(__file__).resolve().parents[2] / "src" / "inferchip" / "catalog"
_KEY = ("model", "software", "tp", "ep", "input_tokens", "output_tokens", "concurrency")
METRICS = {"output_tokens_per_s_total": "throughput", "tpot_ms": "TPOT", "ttft_ms": "TTFT"}
_RATE = {"output_tokens_per_s_total"}
DIMENSIONS = {"tp": lambda k: k[2], "concurrency": lambda k: k[6], "lengths": lambda k: f"{k[4]}/{k[5]}",
              "image": lambda k: k[1].split(":")[-1], "model": lambda k: k[0].split("/")[-1]}


def speedup(metric: str, slow: float, fast: float) -> float:
    """How many times faster the fast chip is on ``metric``: a rate's ratio fast / slow, a time's slow / fast."""
    if slow <= 0 or fast <= 0:
        raise ValueError(f"need positive values, got {slow} and {fast}")
    return fast / slow if metric in _RATE else slow / fast


def bandwidth_share(speedup_x: float, bandwidth_ratio: float) -> float:
    """Share of the slow chip's time that scales with memory bandwidth, from a speed-up and the bandwidth ratio.

    ``T_slow = x + y``, ``T_fast = x / R + y`` (``R`` = fast / slow bandwidth, ``y`` fixed) give
    ``s = T_slow / T_fast`` and ``x / T_slow = (1 - 1/s) / (1 - 1/R)``: 1 when ``s = R``, 0 when ``s = 1``."""
    if bandwidth_ratio <= 1.0:
        raise ValueError(f"need a bandwidth ratio above 1, got {bandwidth_ratio}")
    return (1.0 - 1.0 / speedup_x) / (1.0 - 1.0 / bandwidth_ratio)


def paired_groups(rows: list[dict[str, str]], slow: str, fast: str) -> dict[tuple[tuple[str, ...], str],
                                                                              dict[str, list[str]]]:
    """Case ids by (group key, metric) and chip, for the groups run on both chips."""
    out: dict[tuple[tuple[str, ...], str], dict[str, list[str]]] = defaultdict(lambda: {slow: [], fast: []})
    for r in rows:
        if r["metric"] in METRICS and r["accelerator"] in (slow, fast):
            out[(tuple(r[k] for k in _KEY), r["metric"])][r["accelerator"]].append(r["case_id"])
    return {k: v for k, v in out.items() if v[slow] and v[fast]}


def pair_table(rows: list[dict[str, str]], predicted: dict[str, float], slow: str, fast: str
               ) -> list[dict[str, object]]:
    """One record per paired group and metric: measured and predicted speed-ups and the excess (module doc).
    Groups with a chip's runs all unpredicted keep only the measured speed-up (``predicted`` None)."""
    value = {r["case_id"]: float(r["value"]) for r in rows}
    table: list[dict[str, object]] = []
    for (key, metric), ids in paired_groups(rows, slow, fast).items():
        m = [statistics.median(value[i] for i in ids[c]) for c in (slow, fast)]
        rec: dict[str, object] = {"key": key, "metric": metric, "measured": speedup(metric, m[0], m[1]),
                                  "predicted": None, "excess_pct": None}
        p = [[predicted[i] for i in ids[c] if i in predicted] for c in (slow, fast)]
        if p[0] and p[1]:
            ps = speedup(metric, statistics.median(p[0]), statistics.median(p[1]))
            rec["predicted"] = ps
            rec["excess_pct"] = 100.0 * (ps / float(rec["measured"]) - 1.0)  # type: ignore[arg-type]
        table.append(rec)
    return table


def summarise(table: list[dict[str, object]], dimension: str) -> list[tuple[str, str, int, float, float, float]]:
    """(metric, level, groups, median measured, median predicted, median excess %) by ``dimension``
    (a :data:`DIMENSIONS` name), over the groups with a prediction."""
    cells: dict[tuple[str, str], list[dict[str, object]]] = defaultdict(list)
    for rec in table:
        if rec["predicted"] is not None:
            cells[(str(rec["metric"]), DIMENSIONS[dimension](rec["key"]))].append(rec)

    def order(k: tuple[str, str]) -> tuple[int, float, str]:
        lv = k[1].split("/")[0]
        return list(METRICS).index(k[0]), float(lv) if lv.replace(".", "", 1).isdigit() else 0.0, k[1]

    return [(METRICS[m], lv, len(v), statistics.median(float(r["measured"]) for r in v),  # type: ignore[arg-type]
             statistics.median(float(r["predicted"]) for r in v),  # type: ignore[arg-type]
             statistics.median(float(r["excess_pct"]) for r in v))  # type: ignore[arg-type]
            for (m, lv), v in sorted(cells.items(), key=lambda kv: order(kv[0]))]


def _bandwidth_tb_per_s(chip: str) -> float:
    from inferchip.catalog.chips import load_chip

    mem = load_chip(chip).memory
    measured = getattr(mem, "measured_bandwidth", None)
    return float(measured.tb_per_s) if measured is not None else float(mem.bandwidth_tb_per_s)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("predicted", help="a `inferchip validate --format json` file of the cases")
    ap.add_argument("--cases", default=str(CATALOG / "inferencemax_cases.csv"))
    ap.add_argument("--slow", default="nvidia-h100-sxm-80gb")
    ap.add_argument("--fast", default="nvidia-h200-sxm-141gb")
    ap.add_argument("--rows", action="store_true", help="also print every paired group")
    args = ap.parse_args()
    with open(args.cases, encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    predicted = {c["case_id"]: float(c["predicted"]) for c in json.loads(Path(args.predicted).read_text())["cases"]
                 if c.get("status") == "ok" and c.get("predicted") is not None}
    bw_ratio = _bandwidth_tb_per_s(args.fast) / _bandwidth_tb_per_s(args.slow)
    table = pair_table(rows, predicted, args.slow, args.fast)
    print(f"{args.fast} over {args.slow}: {len(table)} paired groups; bandwidth ratio {bw_ratio:.3f} "
          "(measured streaming where the chip file states it)")
    print("\n| metric | groups | measured speed-up | predicted | excess % | bandwidth share measured / predicted |")
    print("|---|---|---|---|---|---|")
    for metric, label in METRICS.items():
        recs = [r for r in table if r["metric"] == metric and r["predicted"] is not None]
        if not recs:
            continue
        mes = statistics.median(float(r["measured"]) for r in recs)  # type: ignore[arg-type]
        pre = statistics.median(float(r["predicted"]) for r in recs)  # type: ignore[arg-type]
        exc = statistics.median(float(r["excess_pct"]) for r in recs)  # type: ignore[arg-type]
        print(f"| {label} | {len(recs)} | {mes:.3f} | {pre:.3f} | {exc:+.1f} | "
              f"{bandwidth_share(mes, bw_ratio):.0%} / {bandwidth_share(pre, bw_ratio):.0%} |")
    for dim in DIMENSIONS:
        print(f"\nBy {dim} (medians over groups):\n\n| metric | {dim} | groups | measured | predicted | excess % |")
        print("|---|---|---|---|---|---|")
        for metric, lv, n, mes, pre, exc in summarise(table, dim):
            print(f"| {metric} | {lv} | {n} | {mes:.3f} | {pre:.3f} | {exc:+.1f} |")
    if args.rows:
        print("\n| metric | image | tp | in/out | conc | measured | predicted | excess % |")
        print("|---|---|---|---|---|---|---|---|")
        for r in sorted(table, key=lambda r: (str(r["metric"]), r["key"][1], int(r["key"][2]),  # type: ignore[index]
                                              int(r["key"][4]), int(r["key"][5]), float(r["key"][6]))):  # type: ignore[index]
            k = r["key"]
            pred = "" if r["predicted"] is None else f"{r['predicted']:.3f} | {r['excess_pct']:+.1f}"
            print(f"| {METRICS[str(r['metric'])]} | {k[1].split(':')[-1]} | {k[2]} | {k[4]}/{k[5]} | {k[6]} | "  # type: ignore[index]
                  f"{r['measured']:.3f} | {pred} |")


if __name__ == "__main__":
    main()
