"""Which directions of the calibration fit the rows do not pin: the singular value decomposition of the fit's
Jacobian (log residuals over log parameters, forward differences of ``--step``) at a calibration file's point,
each row weighted as the soft-L1 loss weighs it there (``validation/calibrate.py``, ``F_SCALE``). A singular value
far below the largest is a combination of parameters the rows barely move (a flat valley: folds wander along it);
its vector says which parameters trade. ``--without CHIP`` drops that accelerator's rows (its fold's data, at the
file's point: a local view; a fold that jumps to another basin is not seen).

    python tools/calibration/fit_flatness.py cal.yaml [--without nvidia-h200-sxm-141gb] [--smallest 3]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from inferchip.catalog.calibration_file import load_calibration, load_dataset_lengths
from inferchip.validation.calibrate import (
    F_SCALE,
    FitPoint,
    current_values,
    fit_parameter_names,
    prepare,
    row_residuals,
    with_values,
)
from inferchip.validation.cases import read_cases
from inferchip.validation.fitting import search

CASES = Path(__file__).resolve().parents[2] / "src" / "inferchip" / "catalog" / "validation_cases.csv"


def soft_l1_weights(residuals: np.ndarray, f_scale: float = F_SCALE) -> np.ndarray:
    """Per-row scale of a residual's Jacobian row under the soft-L1 loss: ``validation/fitting/search.py``'s, which
    ``inferchip calibrate``'s identifiability rule uses (``fitting.search.directions``)."""
    return search.soft_l1_weights(residuals, f_scale)


def flat_directions(jac: np.ndarray, residuals: np.ndarray, names: list[str],
                    smallest: int = 3) -> tuple[np.ndarray, list[tuple[float, dict[str, float]]]]:
    """Singular values of the weighted Jacobian (largest first) and the ``smallest`` right singular vectors,
    each as its singular value and the parameters' components (largest magnitude first)."""
    _, s, vt = np.linalg.svd(search.scaled_jacobian(jac, residuals, F_SCALE), full_matrices=False)
    out = []
    for k in range(1, min(smallest, len(s)) + 1):
        v = vt[-k]
        order = np.argsort(-np.abs(v))
        out.append((float(s[-k]), {names[i]: float(v[i]) for i in order}))
    return s, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("calibration", type=Path)
    ap.add_argument("--cases", default=str(CASES))
    ap.add_argument("--without", help="an accelerator whose rows are left out (its fold's rows)")
    ap.add_argument("--smallest", type=int, default=3)
    ap.add_argument("--step", type=float, default=0.05, help="forward-difference step on the log scale")
    a = ap.parse_args()
    cases = [c for c in read_cases(a.cases) if c.energy_scope is None]
    point = FitPoint(load_calibration(a.calibration), load_dataset_lengths(a.calibration))
    rows, _ = prepare(cases, point)
    rows = [r for r in rows if r.case.accelerator != a.without]
    names = fit_parameter_names(rows)
    x = np.log(current_values(point, names))
    f0 = row_residuals(rows, point)
    jac = np.zeros((len(rows), len(names)))
    for j in range(len(names)):
        xp = x.copy()
        xp[j] += a.step
        jac[:, j] = (row_residuals(rows, with_values(point, names, np.exp(xp))) - f0) / a.step
    s, flat = flat_directions(jac, f0, names, a.smallest)
    print(f"{len(rows)} rows, {len(names)} parameters; singular values " + " ".join(f"{v:.3g}" for v in s))
    for value, comp in flat:
        top = ", ".join(f"{n} {c:+.2f}" for n, c in list(comp.items())[:4])
        print(f"  {value:.3g} ({value / s[0]:.3f} of the largest): {top}")


if __name__ == "__main__":
    main()
