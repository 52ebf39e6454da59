"""Fit the area and power coefficients on published dies, and measure them on dies not fitted.

``catalog/design_dies.csv`` lists real dies with their sourced area, node, matrix units, SRAM,
memory PHYs, link bandwidth, SoC blocks (CPU cores, other blocks), whether the die carries a host
interface (``host_io``) and TDP, and for the power model the rated DRAM bandwidth and its energy
level (``memory_gb_per_s``, ``dram_level``), what the rated power encloses (``tdp_scope``: board or
package, :func:`inferchip.cost.design.model.dram_in_rated_power`) and the clock it is rated at
(``tdp_clock_ghz``; blank: ``clock_ghz``). Area and power coefficients are fitted by least squares
on log(model / published area or TDP), with each die's published area for leakage.

Two error measures (:func:`accuracy`):

* **leave-one-out** over every die: each die predicted by coefficients fitted on all the others
  (the error of a die the fit never saw; the headline figure);
* **declared split**: coefficients fitted on the ``role == fit`` dies only, error on the
  ``holdout`` dies. The roles are not hand-set: :func:`~inferchip.cost.design.dies.declared_roles` orders the
  dies by the month they were first disclosed (``announced``; ties by name) and holds out every third
  (:data:`~inferchip.cost.design.dies.HOLDOUT_EVERY`), a rule declared before the model changes it is used to
  judge.

The coefficients a design is scored with (:func:`fitted`) are fitted on every die. TDP is also
checked on the catalogue's chips (:func:`tdp_check_rows`), against the rated TDP and, where the
same die ships on a board rated for more power, against that board's power scaled to this
board's peak (a sustained-power reference: the rated TDP of a capped board is a power-limit choice).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
from scipy.optimize import least_squares  # type: ignore[import-untyped]

from inferchip.cost.design import model as dm
from inferchip.cost.design import power_fit as pf
from inferchip.cost.design.dies import Die, load_dies
from inferchip.cost.design.model import F64, AreaCoefficients, dynamic_w, silicon_area_mm2, tdp_w
from inferchip.errors import InferchipError
from inferchip.spec.assumptions import Assumptions

START = AreaCoefficients(k_mac_mm2=1e-3, k_unit_mm2=0.5, eta=0.8, a_fixed_mm2=50.0, k_lane_mm2=0.01, k_gfx_mm2=0.5,
                        k_act=0.5, leak_w_per_mm2=0.05)


def area_of(coef: AreaCoefficients, dies: list[Die], host_io_rule: bool = True) -> F64:
    """Modelled area of each die, mm2; ``host_io_rule`` False gives every die an uncore."""
    def col(f: str) -> Any:
        return np.array([getattr(d, f) for d in dies])
    host = col("host_io") if host_io_rule else np.ones(len(dies))
    return silicon_area_mm2(coef, col("matrix_units_on_die"), col("macs_per_unit"), col("matrix_format"),
                            col("node_nm"), col("sram_mb"), col("memory_type"), col("memory_units"),
                            col("link_bytes_per_s"), col("cpu_cores"), col("soc_other_mm2"), host,
                            col("graphics_sms"), col("fp64_lanes"), col("vector_lanes"))


def _fmt(d: Die) -> str:
    return "int8" if d.matrix_format == "int8" else "bf16"


def _dyn(dies: list[Die], a: Assumptions) -> F64:
    return np.array([float(dynamic_w(d.matrix_tflops * 1e12 * d.rating_scale, d.node_nm, "none", 0.0,
                                     d.link_bytes_per_s, a, _fmt(d))[()]) for d in dies])


def dram_w(dies: list[Die], a: Assumptions) -> F64:
    """Each die's DRAM power at its rated bandwidth where its rated power encloses the DRAM, else 0, W."""
    levels = np.array([d.dram_level for d in dies])
    inside = dm.dram_in_rated_power(np.array([d.tdp_scope for d in dies]), levels)
    out: F64 = dm.memory_power_w(levels, np.array([d.memory_bytes_per_s for d in dies]), a) * inside
    return out


def power_basis_of(dies: list[Die], a: Assumptions) -> F64:
    """The power bases of each die (:func:`inferchip.cost.design.power_fit.power_basis`) at the clock
    its TDP is rated at, the vector lanes the product enables, leakage on its published area, the DRAM
    where its rated power encloses it."""
    fma = np.array([d.vector_lanes * d.enabled_fraction * d.clock_ghz * d.rating_scale * 1e9 for d in dies])
    return pf.power_basis(_dyn(dies, a), pf.vector_basis_w(fma, np.array([d.node_nm for d in dies]), a),
                          np.array([d.area_mm2 for d in dies]), np.array([d.host_io for d in dies]),
                          dram_w(dies, a))


def with_power(coef: AreaCoefficients, v: dict[str, float]) -> AreaCoefficients:
    """``coef`` with the power coefficients ``v`` (keys :data:`~inferchip.cost.design.power_fit.BASES`)."""
    return replace(coef, k_act=v["k_act"], k_vec=v["k_vec"], leak_w_per_mm2=v["leak_w_per_mm2"],
                   uncore_w=v["uncore_w"], k_mem=v["k_mem"])


def die_power_w(coef: AreaCoefficients, dies: list[Die], a: Assumptions) -> F64:
    """Modelled rated power of each die, W: full-rate power (leakage on its published area), capped
    by the board's form-factor limit where one is declared (a slot-powered PCIe card: 75 W)."""
    return pf.power_w(pf.coefficient_vector({k: float(getattr(coef, k)) for k in pf.BASES}), power_basis_of(dies, a),
                      np.array([d.board_cap_w for d in dies]))


# The area coefficients fitted (the rest stay 0; logic terms mm2 at 7 nm, fitted in log, with eta).
# The structure was chosen in an earlier revision by leave-one-out over its ``fit`` dies among
# :data:`VARIANTS`, and kept fixed when the declared split was set (re-run on today's fit dies the
# same rule prefers ``PREVIOUS_TERMS``; docs/explore.md reports both). ``PREVIOUS_TERMS`` is the
# model before the graphics term (its uncore a catch-all for graphics too).
AREA_TERMS = ("k_mac_mm2", "k_unit_mm2", "k_lane_mm2", "k_gfx_mm2", "a_fixed_mm2")
PREVIOUS_TERMS = ("k_mac_mm2", "k_unit_mm2", "a_fixed_mm2")
VARIANTS: dict[str, tuple[str, ...]] = {
    "previous (MAC, unit, uncore)": PREVIOUS_TERMS,
    "+ graphics": ("k_mac_mm2", "k_unit_mm2", "k_gfx_mm2", "a_fixed_mm2"),
    "+ graphics, FP32 vector lanes for the unit term": ("k_mac_mm2", "k_lane_mm2", "k_gfx_mm2", "a_fixed_mm2"),
    "+ graphics + FP32 vector lanes": AREA_TERMS,
    "+ graphics + fp64 lanes": ("k_mac_mm2", "k_unit_mm2", "k_gfx_mm2", "k_fp64_mm2", "a_fixed_mm2"),
    "previous + fitted SRAM overhead": ("k_mac_mm2", "k_unit_mm2", "a_fixed_mm2", "k_sram"),
}
# log bounds of each coefficient (k_sram between 1x and 6x its bitcells)
_LOG_BOUNDS = {"k_sram": (0.0, float(np.log(6.0))), "k_mac_mm2": (-14.0, 0.0), "k_unit_mm2": (-14.0, 3.0),
               "k_lane_mm2": (-14.0, 0.0), "k_gfx_mm2": (-14.0, 3.0), "k_fp64_mm2": (-14.0, 0.0),
               "a_fixed_mm2": (-5.0, float(np.log(400.0)))}


def fit_area(dies: list[Die], host_io_rule: bool = True, terms: tuple[str, ...] = AREA_TERMS,
             uncore_scaled: bool = False) -> AreaCoefficients:
    """The area coefficients ``terms`` and ``eta`` fitted on ``dies`` by least squares on log area
    (coefficients not in ``terms`` are 0; power coefficients left at their start; ``uncore_scaled``
    True shrinks the uncore with the node, the previous revision's model, kept for the report)."""
    target = np.log([d.area_mm2 for d in dies])
    zero = {k: 0.0 for k in _LOG_BOUNDS if k != "k_sram"}

    def coef_of(x: F64) -> AreaCoefficients:
        vals = {k: float(np.exp(v)) for k, v in zip(terms, x[1:], strict=True)}
        return replace(START, **{**zero, **vals}, eta=float(x[0]), uncore_scaled=uncore_scaled)

    def resid(x: F64) -> F64:
        r: F64 = np.log(area_of(coef_of(x), dies, host_io_rule)) - target
        return r

    x0 = np.array([START.eta, *[np.log(getattr(START, k) or 1.0) for k in terms]])
    # eta between 0.3 and 1.5 (dies realise between a third and all of a node's density gain, and more
    # where they also shed logic); the rest positive.
    lo = [0.3, *[_LOG_BOUNDS[k][0] for k in terms]]
    hi = [1.5, *[_LOG_BOUNDS[k][1] for k in terms]]
    sol = least_squares(resid, np.clip(x0, lo, hi), bounds=(lo, hi))
    return coef_of(sol.x)


def fit_power(dies: list[Die], a: Assumptions, terms: tuple[str, ...] = pf.POWER_TERMS) -> dict[str, float]:
    """The power coefficients ``terms`` (:data:`~inferchip.cost.design.power_fit.BASES`; others 0)
    fitted on the dies with a TDP: least squares on log power."""
    with_tdp = [d for d in dies if d.tdp_w]
    return pf.fit_power_terms(power_basis_of(with_tdp, a), [float(d.tdp_w or 0.0) for d in with_tdp],
                              [d.board_cap_w for d in with_tdp], terms)


def fit(dies: list[Die], a: Assumptions, host_io_rule: bool = True) -> AreaCoefficients:
    """Area and power coefficients fitted on every die given."""
    return with_power(fit_area(dies, host_io_rule), fit_power(dies, a))


_FITTED: dict[int, tuple[Assumptions, AreaCoefficients]] = {}


def fitted(a: Assumptions) -> AreaCoefficients:
    """The coefficients fitted on every bundled die with these assumptions (cached per object)."""
    held = _FITTED.get(id(a))
    if held is None or held[0] is not a:
        held = _FITTED[id(a)] = (a, fit(load_dies(), a))
    return held[1]


def leave_one_out(dies: list[Die], a: Assumptions | None, host_io_rule: bool = True,
                  terms: tuple[str, ...] = AREA_TERMS, uncore_scaled: bool = False) -> tuple[F64, F64]:
    """(area, power) of each die predicted by coefficients fitted on all the other dies
    (power NaN for a die without a TDP, or everywhere when ``a`` is None)."""
    area, power = np.empty(len(dies)), np.full(len(dies), np.nan)
    for i, d in enumerate(dies):
        rest = dies[:i] + dies[i + 1:]
        area[i] = float(area_of(fit_area(rest, host_io_rule, terms, uncore_scaled), [d], host_io_rule)[0])
        if d.tdp_w and a is not None:
            power[i] = float(die_power_w(with_power(START, fit_power(rest, a)), [d], a)[0])
    return area, power


def is_gpu(d: Die) -> bool:
    """A GPU die (NVIDIA or AMD): it carries graphics SMs or FP64 lanes (per-die facts of the file)."""
    return d.graphics_sms > 0 or d.fp64_lanes > 0


def _ape(model: float, real: float) -> float:
    return float(100.0 * abs(model / real - 1.0))


def variant_selection() -> dict[str, float]:
    """Median leave-one-out area error (%) over the ``fit`` dies only, for each of :data:`VARIANTS`:
    the evidence the model structure was chosen on (held-out dies never enter it)."""
    train = [d for d in load_dies() if d.role == "fit"]
    real = np.array([d.area_mm2 for d in train])
    return {name: float(np.median(100.0 * np.abs(leave_one_out(train, None, terms=t)[0] / real - 1.0)))
            for name, t in VARIANTS.items()}


def power_variant_selection(a: Assumptions) -> dict[str, float]:
    """Median leave-one-out TDP error (%) over the ``fit`` dies with a TDP only, for each of
    :data:`~inferchip.cost.design.power_fit.POWER_VARIANTS` (held-out dies never enter it)."""
    train = [d for d in load_dies() if d.role == "fit" and d.tdp_w]
    basis, tdp = power_basis_of(train, a), np.array([float(d.tdp_w or 0.0) for d in train])
    cap = np.array([d.board_cap_w for d in train])
    return {name: float(np.median(100.0 * np.abs(pf.leave_one_out_w(basis, tdp, cap, t) / tdp - 1.0)))
            for name, t in pf.POWER_VARIANTS.items()}


def accuracy(a: Assumptions) -> dict[str, Any]:
    """Per-die area and power errors: leave-one-out over every die (with and without the host-I/O
    fact, and for the previous structure), the declared fit/holdout split (area and power), and the
    catalogue TDP check (percent)."""
    dies = load_dies()
    real = np.array([d.area_mm2 for d in dies])
    loo_area, loo_power = leave_one_out(dies, a)
    loo_area_all_uncore, _ = leave_one_out(dies, None, host_io_rule=False)
    loo_area_prev, _ = leave_one_out(dies, None, terms=PREVIOUS_TERMS)
    train = [d for d in dies if d.role == "fit"]
    split_coef = fit(train, a)
    split = area_of(split_coef, dies)
    split_prev = area_of(fit_area(train, terms=PREVIOUS_TERMS), dies)
    split_power = die_power_w(split_coef, dies, a)
    rows: list[dict[str, Any]] = []
    for i, d in enumerate(dies):
        rows.append({"die": d.name, "role": d.role, "gpu": is_gpu(d), "area_mm2": d.area_mm2,
                     "loo_area_mm2": float(loo_area[i]),
                     "loo_area_ape_pct": _ape(float(loo_area[i]), float(real[i])),
                     "loo_area_all_uncore_ape_pct": _ape(float(loo_area_all_uncore[i]), float(real[i])),
                     "loo_area_previous_ape_pct": _ape(float(loo_area_prev[i]), float(real[i])),
                     "split_area_mm2": float(split[i]), "split_area_ape_pct": _ape(float(split[i]), float(real[i])),
                     "split_area_previous_ape_pct": _ape(float(split_prev[i]), float(real[i])),
                     "tdp_w": d.tdp_w, "board_cap_w": d.board_cap_w, "loo_power_w": float(loo_power[i]),
                     "loo_power_ape_pct": _ape(float(loo_power[i]), d.tdp_w) if d.tdp_w else None,
                     "split_power_w": float(split_power[i]),
                     "split_power_ape_pct": _ape(float(split_power[i]), d.tdp_w) if d.tdp_w else None})

    def med(key: str, role: str | None = None, gpu: bool | None = None) -> float:
        vals = [r[key] for r in rows if r[key] is not None and (role is None or r["role"] == role)
                and (gpu is None or r["gpu"] == gpu)]
        return float(np.median(vals))

    hold = [r for r in rows if r["role"] == "holdout"]
    coef = fitted(a)
    tdp_rows = tdp_check_rows(a, coef)
    tdp_out = [r for r in tdp_rows if not r["in_power_fit"]]  # chips whose die is not among the fitted
    return {"coefficients": coef, "area_rows": rows, "n_dies": len(dies), "terms": AREA_TERMS,
            "area_loo_median_ape_pct": med("loo_area_ape_pct"),
            "area_loo_gpu_median_ape_pct": med("loo_area_ape_pct", gpu=True),
            "area_loo_non_gpu_median_ape_pct": med("loo_area_ape_pct", gpu=False),
            "area_loo_all_uncore_median_ape_pct": med("loo_area_all_uncore_ape_pct"),
            "area_loo_previous_median_ape_pct": med("loo_area_previous_ape_pct"),
            "area_holdout_median_ape_pct": med("split_area_ape_pct", "holdout"), "area_holdout_n": len(hold),
            "area_holdout_previous_median_ape_pct": med("split_area_previous_ape_pct", "holdout"),
            "power_loo_median_ape_pct": med("loo_power_ape_pct"),
            "power_loo_n": sum(r["loo_power_ape_pct"] is not None for r in rows),
            "power_holdout_median_ape_pct": med("split_power_ape_pct", "holdout"),
            "power_holdout_n": sum(r["split_power_ape_pct"] is not None for r in hold),
            "tdp_rows": tdp_rows,
            "tdp_median_ape_pct": float(np.median([r["tdp_ape_pct"] for r in tdp_out])),
            "sustained_median_ape_pct": float(np.median([r["sustained_ape_pct"] for r in tdp_out])),
            "tdp_n": len(tdp_out)}


def tdp_check_rows(a: Assumptions, coef: AreaCoefficients) -> list[dict[str, Any]]:
    """Modelled full-rate power vs published TDP of catalogue chips with a sourced die area (per
    package), and vs a sustained-power reference: where the same die (area, node, die count) ships
    on a board rated for more power per FLOP/s, that board's TDP x this board's peak / its peak."""
    from inferchip.catalog.chips import chip_ids, load_chip
    from inferchip.cost.design.constants import VECTOR_FRACTION_OF_BF16
    from inferchip.cost.energy import memory_level
    from inferchip.spec.bounds import pick

    found: list[dict[str, Any]] = []
    for cid in chip_ids():
        try:
            s = load_chip(cid)
            level = memory_level(s.memory.type)
        except InferchipError:
            continue
        tdp, node = pick(s.power.tdp_w, "central"), s.silicon.node_nm
        area = pick(s.silicon.die_area_mm2, "central")
        peaks = {k: pick(v, "central") for k, v in s.compute.dense_tflops.items()}
        peak = peaks.get("bf16") or peaks.get("fp16")
        fmt = "bf16"
        if peak is None and peaks.get("int8"):
            peak, fmt = peaks["int8"], "int8"
        if s.estimate or not tdp or not node or not peak or not area or level not in (
                "hbm3e", "hbm3", "hbm2e", "gddr6", "lpddr5x"):
            continue
        bw = float(pick(s.memory.bandwidth_tb_per_s, "central") or 0.0) * 1e12
        link = float(pick(s.interconnect.scaleup_bw_gb_per_s_per_direction, "central") or 0.0) * 1e9
        total_area = float(area) * s.silicon.compute_die_count
        vec = pick(s.compute.vector_tflops, "central")  # FP32 vector rate; a die without one: 1/16 of bf16
        vec_flop = float(vec) * 1e12 if vec else float(peak) * 1e12 * VECTOR_FRACTION_OF_BF16.value
        model = float(tdp_w(coef, peak * 1e12, node, level, bw, link, total_area, a, fmt, vec_flop, 1.0)[()])
        found.append({"chip_id": cid, "die": (round(float(area)), float(node), s.silicon.compute_die_count),
                      "peak_tflops": float(peak), "tdp_w": float(tdp), "model_w": model,
                      "cpu_in_package": "CPU" in (s.memory.type or "")})
    in_fit = {d.chip_id for d in load_dies() if d.chip_id and d.tdp_w}
    rows = []
    for r in found:
        # a reference board is one accelerator package: a CPU superchip's TDP includes its CPU and LPDDR
        same = [o for o in found if o["die"] == r["die"] and not o["cpu_in_package"]]
        ref = max((o["tdp_w"] * r["peak_tflops"] / o["peak_tflops"] for o in same), default=r["tdp_w"])
        sustained = max(ref, r["tdp_w"])
        rows.append({"chip_id": r["chip_id"], "in_power_fit": r["chip_id"] in in_fit, "tdp_w": r["tdp_w"],
                     "model_w": r["model_w"],
                     "tdp_ape_pct": _ape(r["model_w"], r["tdp_w"]),
                     "power_limited": bool(ref > r["tdp_w"] * 1.05), "sustained_w": float(sustained),
                     "sustained_ape_pct": _ape(r["model_w"], sustained)})
    return rows
