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

    PYTHONPATH=src python tools/fp32_energy_rating.py
"""

from __future__ import annotations

import math

from inferchip.catalog.assumptions import load_assumptions
from inferchip.catalog.chips import chip_ids, get_chip_params, load_chip
from inferchip.cost import energy as en
from inferchip.cost.economics import node_nm
from inferchip.cost.vision.frame import BOOST_CLOCK_FAMILIES, static_w
from inferchip.units import PICO, TERA


def main() -> None:
    a = load_assumptions()
    print(f"{'chip':32s} {'node':>5s} {'TDP':>6s} {'static':>6s} {'FP32':>6s} {'table':>6s} {'bound':>6s}"
          f" {'ratio':>6s} {'P@peak':>7s}")
    for cid in chip_ids():
        spec = load_chip(cid)
        if not spec.family.startswith(BOOST_CLOCK_FAMILIES):
            continue
        p = get_chip_params(cid)
        peak, tdp = p.peak_flop_per_s.get("fp32"), float(p.tdp_w)
        if not peak or not math.isfinite(tdp):
            continue
        node = node_nm(spec)
        st = static_w(p, a)
        table = float(en.energy_per_flop_j("fp32", node, a))
        bound = (tdp - st) / float(peak)
        print(f"{cid:32s} {node:5.1f} {tdp:6.0f} {st:6.0f} {float(peak) / TERA:6.1f} {table / PICO:6.2f}"
              f" {bound / PICO:6.2f} {table / bound:6.2f} {table * float(peak) + st:7.0f}")


if __name__ == "__main__":
    main()
