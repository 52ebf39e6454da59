"""FP32 (SIMT) energy per FLOP of each GPU: the assumptions' A100-derived figure scaled to the chip's node against
the chip's own FP32 rating point, and what the vision frame model makes of the difference.

The vision frame model (``cost.vision.frame``) prices a GPU's FP32 layer FLOPs and its vector operations at
``energy.flop_pj_at_reference_node.fp32`` (A100 SXM: 400 W x 0.88 / 19.5 TFLOP/s = 18.05 pJ/FLOP at 7 nm) scaled by
``energy.node_energy_factor``, uncapped on GPUs (``BOOST_CLOCK_FAMILIES``). The chip's own datasheet puts its FP32
peak inside its TDP, which bounds the per-FLOP energy by ``(TDP - static) / FP32 peak``. Columns: node (nm), TDP
(W), static (W, idle or the assumptions' share of TDP), FP32 peak (TFLOP/s), table (pJ/FLOP at the node), rating
bound (pJ/FLOP), table / bound (> 1: the table puts the FP32 peak above TDP and the frame model throttles every
FP32-bound layer by up to that factor), and the board power the table implies at the FP32 peak (W).

The LLM side does not use the table on these chips: vLLM's Triton MoE per-token work is priced at the chip's own
rating point wherever the chip lists an FP32 peak and a TDP (``cost.economics.UnitEnergies.flop_j``,
``cost.energy.vector_work_energy_per_flop_j``).

    PYTHONPATH=src python tools/energy/fp32_energy_rating.py
"""

from __future__ import annotations

import argparse
import math

from inferchip.catalog.assumptions import load_assumptions
from inferchip.catalog.chips import chip_ids, get_chip_params, load_chip
from inferchip.cost import energy as en
from inferchip.cost.economics import node_nm
from inferchip.cost.vision.frame import BOOST_CLOCK_FAMILIES, static_w
from inferchip.units import PICO, TERA


def rating_rows() -> list[dict[str, float | str]]:
    """One dict per GPU with an FP32 peak and a TDP: chip, node_nm, tdp_w, static_w, fp32_flop_per_s, table_j
    (J/FLOP at the node), bound_j ((TDP - static) / FP32 peak, J/FLOP), power_at_peak_w (table x peak + static)."""
    a = load_assumptions()
    rows: list[dict[str, float | str]] = []
    for cid in chip_ids():
        spec = load_chip(cid)
        if not spec.family.startswith(BOOST_CLOCK_FAMILIES):
            continue
        p = get_chip_params(cid)
        peak, tdp = p.peak_flop_per_s.get("fp32"), float(p.tdp_w)
        if not peak or not math.isfinite(tdp):
            continue
        node, st = node_nm(spec), static_w(p, a)
        table = float(en.energy_per_flop_j("fp32", node, a))
        rows.append({"chip": cid, "node_nm": node, "tdp_w": tdp, "static_w": st, "fp32_flop_per_s": float(peak),
                     "table_j": table, "bound_j": (tdp - st) / float(peak),
                     "power_at_peak_w": table * float(peak) + st})
    return rows


def main() -> None:
    argparse.ArgumentParser(description=__doc__.split("\n\n")[0]).parse_args()
    print(f"{'chip':32s} {'node':>5s} {'TDP':>6s} {'static':>6s} {'FP32':>6s} {'table':>6s} {'bound':>6s}"
          f" {'ratio':>6s} {'P@peak':>7s}")
    for r in rating_rows():
        t, b = float(r["table_j"]), float(r["bound_j"])
        print(f"{r['chip']!s:32s} {float(r['node_nm']):5.1f} {float(r['tdp_w']):6.0f} {float(r['static_w']):6.0f}"
              f" {float(r['fp32_flop_per_s']) / TERA:6.1f} {t / PICO:6.2f} {b / PICO:6.2f} {t / b:6.2f}"
              f" {float(r['power_at_peak_w']):7.0f}")


if __name__ == "__main__":
    main()
