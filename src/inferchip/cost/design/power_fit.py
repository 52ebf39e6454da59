"""The power (TDP) terms of the design model, fitted on published dies by least squares on log power.

A die's modelled rated power is its full-rate power, capped by its board's form-factor limit::

    P = min(k_act x D + k_vec x V + p_leak x A + p_uncore x H + k_mem x M, cap)

with the bases (W, each computed from sourced energies, :func:`power_basis`):

* ``D`` the energy model's dynamic power at the rated matrix peak and link rate
  (:func:`inferchip.cost.design.model.dynamic_w`, no DRAM);
* ``M`` the DRAM's power at its rated bandwidth, device + PHY energy per bit
  (:func:`inferchip.cost.design.model.memory_power_w`), where the rated power encloses the DRAM
  (:func:`inferchip.cost.design.model.dram_in_rated_power`), else 0. ``k_mem`` stays at 1 (the
  sourced energy) unless a variant fits it;
* ``V`` the bare arithmetic power of the FP32 vector (SIMD/SIMT) lanes at the rated clock:
  lanes x 2 FLOP x clock x Horowitz's 45 nm FP32 FMA energy scaled to the node
  (:data:`~inferchip.cost.design.constants.FP32_FMA_PJ_AT_45NM`); ``k_vec`` is then the
  all-in energy of a lane's FLOP (register-file operands, issue, the rest of the SM it keeps busy)
  over its bare arithmetic. A GPU's rated TDP covers its shader lanes at full rate (graphics and
  FP32 compute), not only its tensor cores;
* ``A`` the die area, mm2 (static leakage, W/mm2); ``H`` 1 for a die with a host interface
  (uncore W: PCIe, management, clock generation, board overhead).

Which coefficients are fitted (the others 0, ``k_mem`` 1: :data:`FIXED`) is :data:`POWER_TERMS`, chosen among
:data:`POWER_VARIANTS` by median leave-one-out error over the ``fit`` dies only (as the area terms).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt
from scipy.optimize import least_squares  # type: ignore[import-untyped]

from inferchip.cost import energy as en
from inferchip.cost.design import constants as c
from inferchip.spec.assumptions import Assumptions

F64 = npt.NDArray[np.float64]
BASES = ("k_act", "k_vec", "leak_w_per_mm2", "uncore_w", "k_mem")  # coefficient of each basis, in order
FIXED = {"k_mem": 1.0}  # the value of a coefficient no variant fits (others not fitted are 0)
POWER_VARIANTS: dict[str, tuple[str, ...]] = {
    "dynamic, leakage": ("k_act", "leak_w_per_mm2"),
    "+ uncore W": ("k_act", "leak_w_per_mm2", "uncore_w"),
    "+ FP32 vector lanes": ("k_act", "k_vec", "leak_w_per_mm2"),
    "+ FP32 vector lanes + uncore W": ("k_act", "k_vec", "leak_w_per_mm2", "uncore_w"),
    "+ FP32 vector lanes + uncore W, DRAM energy fitted": ("k_act", "k_vec", "leak_w_per_mm2", "uncore_w", "k_mem"),
}
POWER_TERMS = POWER_VARIANTS["+ FP32 vector lanes + uncore W"]
# Bounds: activity 0.05-3 of the energy model's figure; vector all-in 1-100x its bare FMA; leakage
# 1 mW-1 W per mm2; uncore 0.1-100 W; DRAM 0.2-5x its sourced energy (where a variant fits it).
_BOUNDS = {"k_act": (0.05, 3.0), "k_vec": (1.0, 100.0), "leak_w_per_mm2": (1e-3, 1.0), "uncore_w": (0.1, 100.0),
           "k_mem": (0.2, 5.0)}
_START = {"k_act": 0.5, "k_vec": 10.0, "leak_w_per_mm2": 0.05, "uncore_w": 10.0, "k_mem": 1.0}


def vector_basis_w(fma_per_s: npt.ArrayLike, node_nm: npt.ArrayLike, a: Assumptions) -> F64:
    """Bare arithmetic power of FP32 FMA lanes at full rate, W: FMA/s (lanes x clock) x E_FMA(45 nm)
    x node factor (:func:`inferchip.cost.energy.node_energy_factor`, 45 nm = 1)."""
    nef = np.asarray(en.node_energy_factor(np.asarray(node_nm, float), a), float)
    out: F64 = np.asarray(fma_per_s, float) * c.FP32_FMA_PJ_AT_45NM.value * 1e-12 * nef
    return out


def power_basis(dynamic_w: npt.ArrayLike, vector_w: npt.ArrayLike, area_mm2: npt.ArrayLike,
                host_io: npt.ArrayLike, memory_w: npt.ArrayLike = 0.0) -> F64:
    """The bases (n x 5, in :data:`BASES` order) of each die or design."""
    cols = np.broadcast_arrays(*(np.asarray(x, float) for x in (dynamic_w, vector_w, area_mm2, host_io, memory_w)))
    out: F64 = np.stack(cols, axis=-1)
    return out


def coefficient_vector(values: dict[str, float]) -> F64:
    """Coefficients in :data:`BASES` order (a basis not given: its :data:`FIXED` value, else 0)."""
    return np.array([values.get(k, FIXED.get(k, 0.0)) for k in BASES])


def power_w(coef: F64, basis: F64, cap_w: npt.ArrayLike = np.inf) -> F64:
    """Modelled rated power, W: ``min(basis @ coef, cap)``."""
    out: F64 = np.minimum(basis @ coef, np.asarray(cap_w, float))
    return out


def fit_power_terms(basis: F64, tdp_w: npt.ArrayLike, cap_w: npt.ArrayLike,
                    terms: tuple[str, ...] = POWER_TERMS) -> dict[str, float]:
    """The coefficients ``terms`` (others at :data:`FIXED` or 0) fitted by least squares on log(power / TDP)."""
    idx = [BASES.index(t) for t in terms]
    target, cap = np.log(np.asarray(tdp_w, float)), np.asarray(cap_w, float)

    def coef_of(x: F64) -> F64:
        v = coefficient_vector({})
        v[idx] = np.exp(x)
        return v

    def resid(x: F64) -> F64:
        r: F64 = np.log(np.maximum(power_w(coef_of(x), basis, cap), 1e-12)) - target
        return r

    lo = np.log([_BOUNDS[t][0] for t in terms])
    hi = np.log([_BOUNDS[t][1] for t in terms])
    sol = least_squares(resid, np.log([_START[t] for t in terms]), bounds=(lo, hi))
    return {t: float(v) for t, v in zip(BASES, coef_of(sol.x), strict=True)}


def leave_one_out_w(basis: F64, tdp_w: npt.ArrayLike, cap_w: npt.ArrayLike,
                    terms: tuple[str, ...] = POWER_TERMS,
                    fitter: Callable[..., dict[str, float]] = fit_power_terms) -> F64:
    """Each die's power predicted by coefficients fitted on all the others, W."""
    tdp, cap = np.asarray(tdp_w, float), np.asarray(cap_w, float)
    out = np.empty(len(tdp))
    for i in range(len(tdp)):
        rest = np.arange(len(tdp)) != i
        coef = coefficient_vector(fitter(basis[rest], tdp[rest], cap[rest], terms))
        out[i] = float(power_w(coef, basis[i:i + 1], cap[i:i + 1])[0])
    return out
