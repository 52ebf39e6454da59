"""How much of a measured step scales with HBM bandwidth: pairs of closed-loop rows that differ only in
the chip, on two chips with the same compute and different memory bandwidth (H100 SXM and H200 SXM: the
same GH100 die, 132 SMs, 989 bf16 TFLOP/s, 3.35 against 4.8 TB/s; catalogue chip files).

If a step takes ``T_a = x + y`` on chip a, where ``x`` moves bytes at the chip's bandwidth and ``y``
does not (SM-bound work: dequantisation, matrix instructions, launches, the host), it takes
``T_b = x B_a / B_b + y`` on chip b, so ``x = (T_a - T_b) / (1 - B_a / B_b)`` (:func:`bandwidth_split`).
A step bound by its weight and KV stream has ``x = T_a`` (``T_a / T_b = B_b / B_a``, 1.43 for H100
against H200); one bound by the SMs has ``x = 0`` (ratio 1).

Prints, per group of rows (model, engine version, tp, lengths, concurrency; the median over runs), the
measured TPOT ratio and bandwidth share ``x / T_a``, and with ``--predicted`` a ``validate --format
json`` file's predicted TPOT ratio and share for the same rows.

    python tools/step_model/bandwidth_split.py [--cases CSV] [--predicted closed.json] [--model gpt-oss-120b]
        [--slow nvidia-h100-sxm-80gb] [--fast nvidia-h200-sxm-141gb]
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


def bandwidth_split(t_slow_s: float, t_fast_s: float, bw_slow: float, bw_fast: float) -> tuple[float, float]:
    """``(x, y)``: the part of the slow-bandwidth chip's step that scales with bandwidth and the part
    that does not, from the same step on both chips (module doc). Units: s, and any one bandwidth unit."""
    if not 0 < bw_slow < bw_fast:
        raise ValueError(f"need 0 < bw_slow < bw_fast, got {bw_slow} and {bw_fast}")
    x = (t_slow_s - t_fast_s) / (1.0 - bw_slow / bw_fast)
    return x, t_slow_s - x


def groups(rows: list[dict[str, str]], slow: str, fast: str, metric: str = "tpot_ms",
           model: str = "") -> dict[tuple[str, ...], dict[str, list[str]]]:
    """Case ids of ``metric`` rows by group (the ``_KEY`` columns) and chip, for groups with both chips."""
    out: dict[tuple[str, ...], dict[str, list[str]]] = defaultdict(lambda: {slow: [], fast: []})
    for r in rows:
        if r["metric"] == metric and r["accelerator"] in (slow, fast) and model in r["model"]:
            out[tuple(r[k] for k in _KEY)][r["accelerator"]].append(r["case_id"])
    return {k: v for k, v in out.items() if v[slow] and v[fast]}


def main() -> None:
    from inferchip.catalog.chips import load_chip

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cases", default=str(CATALOG / "inferencemax_cases.csv"))
    ap.add_argument("--predicted", help="a `inferchip validate --format json` file of the same cases")
    ap.add_argument("--model", default="gpt-oss-120b", help="rows whose model contains this text")
    ap.add_argument("--slow", default="nvidia-h100-sxm-80gb")
    ap.add_argument("--fast", default="nvidia-h200-sxm-141gb")
    args = ap.parse_args()
    bw = {c: load_chip(c).memory.bandwidth_tb_per_s for c in (args.slow, args.fast)}
    with open(args.cases, encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    value = {r["case_id"]: float(r["value"]) for r in rows}
    predicted: dict[str, float] = {}
    if args.predicted:
        predicted = {c["case_id"]: c["predicted"] for c in json.loads(Path(args.predicted).read_text())["cases"]
                     if c.get("status") == "ok" and c.get("predicted") is not None}
    print(f"bandwidth {args.slow} {bw[args.slow]} TB/s, {args.fast} {bw[args.fast]} TB/s")
    print("software | tp | in/out | conc | measured TPOT slow/fast ms | ratio | bandwidth share"
          + (" | predicted ratio | predicted share" if predicted else ""))
    shares: list[float] = []
    pshares: list[float] = []
    for key, ids in sorted(groups(rows, args.slow, args.fast, model=args.model).items(),
                           key=lambda kv: (kv[0][1], int(kv[0][2]), float(kv[0][4]), float(kv[0][5]),
                                           float(kv[0][6]))):
        t = [statistics.median(value[i] for i in ids[c]) for c in (args.slow, args.fast)]
        x, _ = bandwidth_split(t[0], t[1], bw[args.slow], bw[args.fast])
        shares.append(x / t[0])
        line = (f"{key[1].split(':')[-1]} | {key[2]} | {key[4]}/{key[5]} | {float(key[6]):g} | {t[0]:.2f} / {t[1]:.2f}"
                f" | {t[0] / t[1]:.3f} | {x / t[0]:.0%}")
        p = [[predicted[i] for i in ids[c] if i in predicted] for c in (args.slow, args.fast)]
        if p[0] and p[1]:
            ps = [statistics.median(v) for v in p]
            px, _ = bandwidth_split(ps[0], ps[1], bw[args.slow], bw[args.fast])
            pshares.append(px / ps[0])
            line += f" | {ps[0] / ps[1]:.3f} | {px / ps[0]:.0%}"
        print(line)
    if shares:
        print(f"median bandwidth share: measured {statistics.median(shares):.0%}"
              + (f", predicted {statistics.median(pshares):.0%}" if pshares else ""))


if __name__ == "__main__":
    main()
