"""Fit the area and TDP coefficients on published dies, and measure them on dies not fitted.

``catalog/design_dies.csv`` lists real dies with their sourced area, node, matrix throughput,
SRAM, memory PHYs, link bandwidth and TDP; ``role`` says whether a die is used to fit
(``fit``) or only to check (``holdout``). The four area coefficients are fitted by least
squares on log(predicted / published area) of the fit dies; ``k_tdp`` is the geometric mean
of published / modelled TDP over the fit dies. :func:`accuracy` reports the absolute
percentage error on every die and the median over the held-out ones; TDP is also checked on
the catalogue's chips with a TDP, node, bf16-class peak and a known memory type
(:func:`tdp_check_rows`).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from importlib import resources
from typing import Any

import numpy as np
from scipy.optimize import least_squares  # type: ignore[import-untyped]

from inferchip.cost.design.model import F64, AreaCoefficients, silicon_area_mm2, tdp_w
from inferchip.spec.assumptions import Assumptions

DIES_FILE = "design_dies.csv"
START = AreaCoefficients(k_mac_mm2=1e-3, k_unit_mm2=0.5, eta=0.8, a_fixed_mm2=50.0, k_tdp=1.0)


@dataclass(frozen=True)
class Die:
    name: str
    role: str
    chip_id: str
    area_mm2: float
    node_nm: float
    matrix_format: str
    matrix_tflops: float
    clock_ghz: float
    matrix_units_on_die: float
    macs_per_unit: float
    sram_mb: float
    memory_type: str
    memory_units: float
    link_bytes_per_s: float
    tdp_w: float | None
    source: str


def load_dies() -> list[Die]:
    text = resources.files("inferchip.catalog").joinpath(DIES_FILE).read_text(encoding="utf-8")
    out = []
    for r in csv.DictReader(text.splitlines()):
        out.append(Die(r["die"], r["role"], r["chip_id"], float(r["area_mm2"]), float(r["node_nm"]),
                       r["matrix_format"], float(r["matrix_tflops"]), float(r["clock_ghz"]),
                       float(r["matrix_units_on_die"]), float(r["macs_per_unit"]), float(r["sram_mb"]),
                       r["memory_type"],
                       float(r["memory_units"]), float(r["link_gb_per_s_total"]) * 1e9,
                       float(r["tdp_w"]) if r["tdp_w"] else None, r["source"]))
    return out


def _area(coef: AreaCoefficients, dies: list[Die]) -> F64:
    def col(f: str) -> Any:
        return np.array([getattr(d, f) for d in dies])
    return silicon_area_mm2(coef, col("matrix_units_on_die"), col("macs_per_unit"), col("matrix_format"),
                            col("node_nm"), col("sram_mb"),
                            col("memory_type"), col("memory_units"), col("link_bytes_per_s"))


def _die_tdp(coef: AreaCoefficients, dies: list[Die], a: Assumptions) -> F64:
    fmt = ["int8" if d.matrix_format == "int8" else "bf16" for d in dies]
    out = np.empty(len(dies))
    for i, d in enumerate(dies):
        out[i] = float(tdp_w(coef, d.matrix_tflops * 1e12, d.node_nm, d.memory_type,
                             _bw(d), d.link_bytes_per_s, a, fmt[i])[()])
    return out


def _bw(d: Die) -> float:
    from inferchip.cost.design.constants import memory_unit

    return float(memory_unit(d.memory_type, "bytes_per_s")) * d.memory_units


def fit(dies: list[Die], a: Assumptions) -> AreaCoefficients:
    """Coefficients fitted on the dies whose role is ``fit``."""
    train = [d for d in dies if d.role == "fit"]
    target = np.log([d.area_mm2 for d in train])

    def coef_of(x: F64) -> AreaCoefficients:
        return AreaCoefficients(float(np.exp(x[0])), float(np.exp(x[1])), float(x[2]), float(np.exp(x[3])), 1.0)

    def resid(x: F64) -> F64:
        r: F64 = np.log(_area(coef_of(x), train)) - target
        return r

    x0 = np.array([np.log(START.k_mac_mm2), np.log(START.k_unit_mm2), START.eta, np.log(START.a_fixed_mm2)])
    # eta between 0.3 and 1.5 (dies realise between a third and all of a node's density gain, and more
    # where they also shed logic); the rest positive.
    sol = least_squares(resid, x0, bounds=([-14.0, -8.0, 0.3, -5.0], [0.0, 3.0, 1.5, np.log(400.0)]))
    coef = coef_of(sol.x)
    with_tdp = [d for d in train if d.tdp_w]
    ratio = np.array([d.tdp_w for d in with_tdp]) / _die_tdp(coef, with_tdp, a)
    return AreaCoefficients(coef.k_mac_mm2, coef.k_unit_mm2, coef.eta, coef.a_fixed_mm2,
                            float(np.exp(np.mean(np.log(ratio)))))


_FITTED: dict[int, tuple[Assumptions, AreaCoefficients]] = {}


def fitted(a: Assumptions) -> AreaCoefficients:
    """The coefficients fitted on the bundled dies with these assumptions (cached per object)."""
    held = _FITTED.get(id(a))
    if held is None or held[0] is not a:
        held = _FITTED[id(a)] = (a, fit(load_dies(), a))
    return held[1]


def accuracy(a: Assumptions) -> dict[str, Any]:
    """Per-die area and TDP errors and the held-out medians (percent)."""
    dies = load_dies()
    coef = fitted(a)
    area = _area(coef, dies)
    rows = []
    for d, pa in zip(dies, area, strict=True):
        rows.append({"die": d.name, "role": d.role, "area_mm2": d.area_mm2, "model_area_mm2": float(pa),
                     "area_ape_pct": 100.0 * abs(pa / d.area_mm2 - 1.0)})
    hold = [r["area_ape_pct"] for r in rows if r["role"] == "holdout"]
    tdp_rows = tdp_check_rows(a, coef)
    tdp_hold = [r["tdp_ape_pct"] for r in tdp_rows]
    return {"coefficients": coef, "area_rows": rows, "area_holdout_median_ape_pct": float(np.median(hold)),
            "area_holdout_n": len(hold), "tdp_rows": tdp_rows,
            "tdp_holdout_median_ape_pct": float(np.median(tdp_hold)) if tdp_hold else float("nan"),
            "tdp_holdout_n": len(tdp_hold)}


def tdp_check_rows(a: Assumptions, coef: AreaCoefficients) -> list[dict[str, Any]]:
    """Modelled vs published TDP of catalogue chips not used in the fit (per package: TDP and
    peaks are the whole package's)."""
    from inferchip.catalog.chips import chip_ids, load_chip
    from inferchip.cost.energy import memory_level
    from inferchip.errors import InferchipError
    from inferchip.spec.bounds import pick

    fitted_ids = {d.chip_id for d in load_dies() if d.role == "fit" and d.chip_id}
    rows = []
    for cid in chip_ids():
        if cid in fitted_ids:
            continue
        try:
            s = load_chip(cid)
            level = memory_level(s.memory.type)
        except InferchipError:
            continue
        tdp, node = pick(s.power.tdp_w, "central"), s.silicon.node_nm
        peaks = {k: pick(v, "central") for k, v in s.compute.dense_tflops.items()}
        peak = peaks.get("bf16") or peaks.get("fp16")
        fmt = "bf16"
        if peak is None and peaks.get("int8"):
            peak, fmt = peaks["int8"], "int8"
        if s.estimate or not tdp or not node or not peak or level == "sram" or level not in (
                "hbm3e", "hbm3", "hbm2e", "gddr6", "lpddr5x"):
            continue
        bw = float(pick(s.memory.bandwidth_tb_per_s, "central") or 0.0) * 1e12
        link = float(pick(s.interconnect.scaleup_bw_gb_per_s_per_direction, "central") or 0.0) * 1e9
        model = float(tdp_w(coef, peak * 1e12, node, level, bw, link, a, fmt)[()])
        rows.append({"chip_id": cid, "tdp_w": float(tdp), "model_tdp_w": model,
                     "tdp_ape_pct": 100.0 * abs(model / tdp - 1.0)})
    return rows
