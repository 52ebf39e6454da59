"""The calibration fit's search: ``least_squares`` from the start, then a compass check of every coordinate and of
the flattest directions.

``scipy.optimize.least_squares`` (trust region reflective) stops where its trust region collapses (``xtol``). On the
calibration's loss that can be a point one coordinate alone improves by far more than the tolerance: a row whose
analytic point saturates (an open-loop row scored at the full batch) stops resisting a parameter past the saturation
edge, so its loss is flat there and the local model sees no way back over the rise before the edge (stop 38,
``vllm-decode38b``: the H200 fold stopped at a Llama-3.1-8B mean input of 1,457 tokens with a soft-L1 cost of 1.3217;
the same point with the mean set to 1,002 costs 1.1912). The search below does not change the loss; it only tests
that the point returned is a minimum along each coordinate, at a few fixed log-steps:

* after each ``least_squares`` run, each coordinate is moved alone by each of :data:`PROBE_LOG_STEPS` (clipped to
  its bounds) and the loss is evaluated there; the data-set mean inputs are probed together, one evaluation per step,
  because each moves only the rows of its own data set (their losses add), and the best step of each is combined;
* each of the :data:`FLAT_PROBES` flattest directions of the Jacobian ``least_squares`` returns (its right singular
  vectors of smallest singular value, unit length on the log scale) is stepped along by the same steps (stop 42,
  ``calib42``: after branch dpa41 moved one DeepSeek-R1 row, the full fit stopped at a soft-L1 cost of 1.5018 where
  the stop-41 point costs 1.4093 on the same rows; the loss falls along the straight line between them from the first
  tenth, but no single coordinate's move lowers it: the way down moves step_overhead_s, the memory bandwidth and the
  data-set means together, along the flattest direction; with these probes the fit reaches 1.3676);
* if the best probe lowers the loss by more than :data:`MIN_GAIN` (relative), ``least_squares`` restarts from it;
  at most :data:`MAX_RESTARTS` times. Otherwise the ``least_squares`` point stands unchanged.

The search is deterministic (fixed steps, the same start, each direction's sign fixed), adds no parameter, no prior
and no row weight, and it only ever returns a point of lower or equal training loss. It is inferchip's choice, not a
sourced method; the steps (a factor 0.50, 0.70, 1.42, 2.01) span the distances the measured stalls sat from the lower
point (8B mean 1,457 against 1,002: a factor 0.69).

Identifiability (:func:`directions`, :func:`parameter_log_se`): at a fitted point, the singular value decomposition
of the Jacobian of the log residuals over the log parameters, each row scaled as the soft-L1 loss weighs it there
(the IRLS weight, :func:`soft_l1_weights`). A direction ``v_k`` with singular value ``s_k`` is pinned by the
rows to a standard error of ``sigma / s_k`` on the log scale (Gauss-Newton: covariance ``sigma**2 (J'WJ)**-1``;
``sigma`` the residuals' robust scale, 1.4826 x their median absolute value). Above :data:`FLAT_LOG_SE` the rows do not
tell that combination of parameters within a factor 2: it is flat, and a parameter along it only compensates the
others (``validation.calibrate.identified_fit`` holds one).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

PROBE_LOG_STEPS = (-0.7, -0.35, 0.35, 0.7)  # log-scale steps: factors 0.50, 0.70, 1.42, 2.01
MAX_RESTARTS = 3  # least_squares restarts after the first run (a guard: the measured fits need at most 2)
JACOBIAN_LOG_STEP = 0.02  # forward-difference step on the log scale (2 %): the model has grid and tile steps
INSIDE = 1e-9  # a probe stays strictly inside the bounds (least_squares' start must)
FLAT_PROBES = 3  # the flattest directions of least_squares' Jacobian probed too (stop 42, calib42)
MIN_GAIN = 1e-3  # a probe must lower the loss by this fraction to restart (10x least_squares' ftol 1e-4)

# A direction the rows pin only to a log standard error above ln 2 (one sd spans a factor 2 each way) is flat.
# inferchip's choice, not a sourced value (stop 41, branch calib41): on validation_cases.csv at the stop-39 fit the
# kernel / step-overhead pair sits at 1.09 and every other direction at 0.28 or below (docs/serving_validation.md).
FLAT_LOG_SE = math.log(2.0)
PARTICIPATES = 0.3  # a parameter takes part in a direction when its component's magnitude is at least this
ROBUST_SIGMA = 1.4826  # median absolute deviation -> standard deviation of a normal distribution

Residuals = Callable[[np.ndarray], np.ndarray]


def soft_l1_losses(f: np.ndarray, f_scale: float, scale: float | None = None) -> np.ndarray:
    """Each residual's soft-L1 loss ``scale rho(f**2 / f_scale**2)``, ``rho(z) = 2 (sqrt(1 + z) - 1)`` (scipy's
    ``soft_l1``), the one equation of every soft-L1 sum: ``scale`` None, ``f_scale**2 / 2``: each residual's share of
    ``least_squares``' cost, ``f_scale**2 (sqrt(1 + (f / f_scale)**2) - 1)`` (the calibration fit; they sum to
    ``cost``); 1: ``rho`` itself (the energy fit, ``validation.energy.power_fit``, and
    ``tools/calibration/calibration_sensitivity.py``). The factors 2 and 1/2 are powers of two, so each scale gives
    the same floats as its own expression written out (tests/test_fit_search.py)."""
    return (0.5 * f_scale ** 2 if scale is None else scale) * (2.0 * (np.sqrt(1.0 + (f / f_scale) ** 2) - 1.0))


@dataclass
class SearchResult:
    x: np.ndarray
    cost: float  # the soft-L1 cost at x (least_squares' cost)
    evaluations: int  # residual evaluations of every least_squares run (their nfev), probes not counted
    probes: int  # residual evaluations the compass checks spent
    restarts: int  # least_squares runs after the first
    status: int  # the last run's status (0: evaluation limit, 1-4: a tolerance)
    message: str


def flat_steps(jac: np.ndarray | None, count: int | None = None) -> list[np.ndarray]:
    """The unit vectors of the ``count`` flattest directions of ``jac`` (right singular vectors, smallest singular
    value first; each sign fixed so that its largest component is positive: deterministic); none without ``jac``.
    ``count`` None: :data:`FLAT_PROBES`."""
    if jac is None or jac.shape[1] == 0:
        return []
    count = FLAT_PROBES if count is None else count
    _, _, vt = np.linalg.svd(jac, full_matrices=True)
    out = []
    for v in vt[::-1][:count]:
        out.append(v if v[int(np.argmax(np.abs(v)))] > 0 else -v)
    return out


def compass_probe(resid: Residuals, x: np.ndarray, lo: np.ndarray, hi: np.ndarray, f_scale: float,
                  separable: Sequence[tuple[int, np.ndarray]] = (),
                  jac: np.ndarray | None = None) -> tuple[np.ndarray | None, float, int]:
    """The lowest-loss point one coordinate's move reaches from ``x`` (the separable columns, each with the mask of
    the residuals it alone moves, probed together and combined), or a move along one of the :data:`FLAT_PROBES`
    flattest directions of ``jac`` (the Jacobian at ``x``; :func:`flat_steps`), its cost, and the evaluations spent.
    ``None`` when no probe lowers the loss by more than :data:`MIN_GAIN`."""
    f0 = resid(x)
    losses0 = soft_l1_losses(f0, f_scale)
    cost0 = float(losses0.sum())
    best_x: np.ndarray | None = None
    best = cost0 * (1.0 - MIN_GAIN)
    spent = 0
    sep_cols = [j for j, _ in separable]
    for j in [j for j in range(len(x)) if j not in sep_cols]:
        for s in PROBE_LOG_STEPS:
            xp = x.copy()
            xp[j] = np.clip(x[j] + s, lo[j] + INSIDE, hi[j] - INSIDE)
            if xp[j] == x[j]:
                continue
            cost = float(soft_l1_losses(resid(xp), f_scale).sum())
            spent += 1
            if cost < best:
                best, best_x = cost, xp
    for v in flat_steps(jac):
        for s in PROBE_LOG_STEPS:
            xp = np.clip(x + s * v, lo + INSIDE, hi - INSIDE)
            cost = float(soft_l1_losses(resid(xp), f_scale).sum())
            spent += 1
            if cost < best:
                best, best_x = cost, xp
    if separable:
        combined, moved = x.copy(), False
        own = {j: float(losses0[m].sum()) for j, m in separable}
        for s in PROBE_LOG_STEPS:
            xp = x.copy()
            xp[sep_cols] = np.clip(x[sep_cols] + s, lo[sep_cols] + INSIDE, hi[sep_cols] - INSIDE)
            lp = soft_l1_losses(resid(xp), f_scale)
            spent += 1
            for j, m in separable:
                if xp[j] != x[j] and float(lp[m].sum()) < own[j] - cost0 * MIN_GAIN / len(separable):
                    own[j], combined[j], moved = float(lp[m].sum()), xp[j], True
        if moved:
            cost = float(soft_l1_losses(resid(combined), f_scale).sum())
            spent += 1
            if cost < best:
                best, best_x = cost, combined
    return best_x, best, spent


def forward_jacobian(resid: Residuals, hi: np.ndarray, separable: Sequence[tuple[int, np.ndarray]] = (),
                     step: float = JACOBIAN_LOG_STEP) -> Callable[[np.ndarray], np.ndarray]:
    """The Jacobian of ``resid`` by forward differences of ``step`` (backwards at an upper bound); the separable
    columns all in one evaluation, each read only on the residuals of its mask (the others stay 0)."""
    sep_cols = [j for j, _ in separable]

    def jac(x: np.ndarray) -> np.ndarray:
        f0 = resid(x)
        J = np.zeros((len(f0), len(x)))
        for j in [j for j in range(len(x)) if j not in sep_cols]:
            h = step if x[j] + step <= hi[j] else -step
            xp = x.copy()
            xp[j] += h
            J[:, j] = (resid(xp) - f0) / h
        if separable:  # every separable column at once: each one moves only the residuals of its mask
            hs = np.array([step if x[j] + step <= hi[j] else -step for j in sep_cols])
            xp = x.copy()
            xp[sep_cols] += hs
            fp = resid(xp)
            for (j, mask), h in zip(separable, hs, strict=True):
                J[mask, j] = (fp[mask] - f0[mask]) / h
        return J

    return jac


def search(resid: Residuals, jac: Callable[[np.ndarray], np.ndarray], x0: np.ndarray, lo: np.ndarray,
           hi: np.ndarray, *, f_scale: float, max_evaluations: int, xtol: float, ftol: float,
           separable: Sequence[tuple[int, np.ndarray]] = (), restarts: int = MAX_RESTARTS,
           flat_probes: bool = True) -> SearchResult:
    """``least_squares`` (soft-L1, bounds) from ``x0``, restarted from a better compass probe up to ``restarts``
    times; ``restarts=0`` is the single run as before. ``max_evaluations`` limits each run."""
    from scipy.optimize import least_squares  # type: ignore[import-untyped]  # scipy has no stubs here

    def run(x: np.ndarray) -> Any:
        return least_squares(resid, x, jac=jac, bounds=(lo, hi), loss="soft_l1", f_scale=f_scale,
                             max_nfev=max_evaluations, x_scale=1.0, xtol=xtol, ftol=ftol)

    res = run(x0)
    evaluations, probes, done = int(res.nfev), 0, 0
    while done < restarts and int(res.status) > 0:
        better, _cost, spent = compass_probe(resid, np.asarray(res.x), lo, hi, f_scale, separable,
                                             np.asarray(res.jac) if flat_probes else None)
        probes += spent
        if better is None:
            break
        res = run(better)
        evaluations += int(res.nfev)
        done += 1
    return SearchResult(np.asarray(res.x), float(res.cost), evaluations, probes, done,
                        int(res.status), str(res.message))


def soft_l1_weights(residuals: np.ndarray, f_scale: float) -> np.ndarray:
    """Per-row scale of a residual's Jacobian row under the soft-L1 loss (the IRLS weight ``rho'(z)^(1/2)``,
    ``z = (r / f)^2``, ``rho'(z) = (1 + z)^(-1/2)``): 1 for small residuals. Not the scale scipy's least_squares
    applies in its steps (``scale_for_robust_loss_function``: ``(rho' + 2 rho'' z)^(1/2) = (1 + z)^(-3/4)``, which
    weighs a large residual less)."""
    z = (residuals / f_scale) ** 2
    return np.asarray((1.0 + z) ** -0.25, float)


def robust_sigma(residuals: np.ndarray) -> float:
    """The residuals' robust scale: :data:`ROBUST_SIGMA` x their median absolute value (about 0: they are log
    errors of a fit)."""
    return float(ROBUST_SIGMA * np.median(np.abs(residuals))) if len(residuals) else math.nan


@dataclass(frozen=True)
class Direction:
    """One right singular vector of the scaled Jacobian: its singular value, that over the largest, the rows' log
    standard error along it, and each parameter's component (largest magnitude first)."""

    singular_value: float
    of_largest: float
    log_se: float
    components: dict[str, float]

    @property
    def flat(self) -> bool:
        return self.log_se > FLAT_LOG_SE

    def members(self) -> list[str]:
        """The parameters that take part (component magnitude at least :data:`PARTICIPATES`), largest first."""
        return [n for n, c in self.components.items() if abs(c) >= PARTICIPATES]

    def text(self, top: int = 3) -> str:
        comp = ", ".join(f"{n} {c:+.2f}" for n, c in list(self.components.items())[:top])
        se = f"{self.log_se:.2f}" if self.log_se < 100 else "above 100: the rows barely move it"
        return f"{comp} (log se {se}, {self.of_largest:.3f} of the largest singular value)"


def scaled_jacobian(jac: np.ndarray, residuals: np.ndarray, f_scale: float) -> np.ndarray:
    return np.asarray(jac * soft_l1_weights(residuals, f_scale)[:, None], float)


def directions(jac: np.ndarray, residuals: np.ndarray, names: Sequence[str], f_scale: float) -> list[Direction]:
    """Every direction of the scaled Jacobian, flattest first (:class:`Direction`)."""
    if jac.shape[1] == 0:
        return []
    _, s, vt = np.linalg.svd(scaled_jacobian(jac, residuals, f_scale), full_matrices=True)
    s = np.concatenate([s, np.zeros(jac.shape[1] - len(s))])  # fewer rows than parameters: the rest are flat
    sigma = robust_sigma(residuals)
    out = []
    for k in range(len(s) - 1, -1, -1):
        order = np.argsort(-np.abs(vt[k]), kind="stable")  # ties: the order of ``names``
        out.append(Direction(float(s[k]), float(s[k] / s[0]) if s[0] > 0 else 0.0,
                             sigma / float(s[k]) if s[k] > 0 else math.inf,
                             {names[i]: float(vt[k][i]) for i in order}))
    return out


def parameter_log_se(jac: np.ndarray, residuals: np.ndarray, names: Sequence[str], f_scale: float) -> dict[str, float]:
    """Each parameter's marginal standard error on the log scale, ``sigma sqrt(diag((J'WJ)^+))`` (a flat direction
    gives each of its parameters a large one; a parameter no row reads, infinity)."""
    js = scaled_jacobian(jac, residuals, f_scale)
    sigma = robust_sigma(residuals)
    reads = np.any(js != 0.0, axis=0)
    cov = np.linalg.pinv(js.T @ js)
    return {n: sigma * math.sqrt(max(float(cov[j, j]), 0.0)) if reads[j] else math.inf for j, n in enumerate(names)}


def identifiability(resid: Residuals, x: np.ndarray, names: Sequence[str], f_scale: float,
                    step: float = JACOBIAN_LOG_STEP) -> tuple[list[Direction], dict[str, float]]:
    """The directions (flattest first) and each parameter's log standard error at ``x``, from the Jacobian by
    forward differences of ``step`` (the fit's)."""
    jac = forward_jacobian(resid, np.full(len(x), np.inf), step=step)(x)
    f0 = resid(x)
    return directions(jac, f0, names, f_scale), parameter_log_se(jac, f0, names, f_scale)


def flat_hold(dirs: Sequence[Direction], holdable: Sequence[str], anchors: Mapping[str, float]
              ) -> tuple[str, Direction] | None:
    """The parameter to hold: along the flattest flat direction that has a ``holdable`` member, the member that
    ``anchors`` pins (other rows' value), else its largest; ``None`` when no flat direction has one."""
    for d in dirs:
        if not d.flat:
            return None
        members = [n for n in d.members() if n in holdable]
        if members:
            return next((n for n in members if n in anchors), members[0]), d
    return None
