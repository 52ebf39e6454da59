"""The review's in-car section: the driving rig on the in-car chips, and the claim's frame-deadline
part judged on it with a probability.

*Rig.* :func:`inferchip.performance.vision_drive.drive` with the review's rig: ``cameras`` cameras at
``fps`` frames/s (8 at 36 by default, :data:`~inferchip.performance.vision_drive.IN_CAR_CAMERAS`),
the networks of :data:`~inferchip.performance.vision_drive.DEFAULT_MODELS` (BEVFormer-tiny over all
the rig's views once per tick, rebuilt at its camera count), int8, one chip each, on FSD HW3, AI4, AI5,
DRIVE AGX Thor and Jetson AGX Orin (plus the claimed chip when it is none of them). The deadline is one frame
period (a result later than that is stale: the same camera's next frame is in).

*Corners.* As :mod:`inferchip.review.uncertainty` does for the LLM parts: every estimated chip's
estimate groups (:func:`~inferchip.review.uncertainty.group_of`; the scale-up link plays no part
on one chip) are set to their low and their high end, one group at a time, the rest central, and
the rig is run there (:func:`rig_base`, 2 runs per group and chip).

*Monte Carlo* (:func:`rig_monte_carlo`). Each sample draws, per chip, each group's position in its
range (triangular on low, central, high) and one lognormal model-error factor per chip on its
frame latency (sigma from the vision validation's single-stream rows, :data:`VISION_LATENCY_APE_PCT`).
A chip's p99 frame latency at a sample is log-linear in each group's position between central and
the corner towards it, multiplied over groups, times its error factor. Every chip and sample is
evaluated at once; the generator is seeded and consumes the same draws whatever the ranges.

*Power budget.* Every chip runs the rig within the car's power budget (:class:`RigSetting` ``power_budget_w``,
:data:`~inferchip.performance.vision_drive.IN_CAR_POWER_BUDGET_W`, sourced there): drive clocks a chip over it
down, and a chip whose idle power alone exceeds it cannot run the rig (a 23 kW wafer): the claimed chip then holds
in no sample. Without a budget (None) the part is not judged: any chip fast enough would keep the rig.

*Judgement* (:func:`rig_holds`). A chip keeps the rig in a sample where its p99 frame latency is
within the deadline (at most 1 % of frames late). The frame-deadline part holds where the claimed
chip keeps the rig and its p99 frame latency is the lowest of the chips that keep it (ties count).
Scaling p99 by the error factor treats the latency as proportional to service time (queueing at the
rig's low utilisations adds little; a chip near saturation is judged optimistically).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from inferchip.errors import InferchipError, PowerBudgetError
from inferchip.performance.vision_drive import (
    DEFAULT_MODELS,
    IN_CAR_CAMERAS,
    IN_CAR_CHIPS,
    IN_CAR_FPS,
    IN_CAR_POWER_BUDGET_HIGH_W,
    IN_CAR_POWER_BUDGET_SOURCE,
    IN_CAR_POWER_BUDGET_W,
    drive,
)
from inferchip.review.claim_file import pct, verdict
from inferchip.review.inputs import is_estimate, namer
from inferchip.review.uncertainty import _position, group_of, side

VISION_LATENCY_APE_PCT = (14.5, 33.5)
"""Median and p90 absolute error of the vision model's latencies, %: docs/validation.md, "Vision rows",
the SingleStream row (p90/p99/p99.9 latency of batch-1 streams: the rows closest to a rig's frame latency), held
out (leave one accelerator out): the in-car chips are chips the fit never saw, as model_error.yaml's closed-loop
figures are held out."""
VISION_SOURCE = "docs/validation.md, Vision rows, SingleStream, held out (median / p90 APE)"
TIE = 1e-9
SKIPPED_GROUPS = ("scale-up link",)  # one chip per car: its links carry nothing
DURATION_S = 20.0  # simulated seconds per rig run: 5,760 frames at 8 x 36 fps



def latency_text(ms: float) -> str:
    """A frame latency to three significant figures with its unit: 5.75 ms, 13.4 ms, 711 ms, 1.38 s, 37.0 s."""
    return f"{ms / 1e3:,.3g} s" if ms >= 1e3 and ms < 1e5 else f"{ms / 1e3:,.0f} s" if ms >= 1e5 else f"{ms:.3g} ms"

def vision_sigma(ape_pct: tuple[float, float] = VISION_LATENCY_APE_PCT) -> float:
    """Lognormal sigma whose |log error| has at least the measured median and p90 APE
    (as :func:`inferchip.review.uncertainty.model_error_sigmas`)."""
    med, p90 = ape_pct[0] / 100, ape_pct[1] / 100
    return max(math.log1p(med) / 0.6745, math.log1p(p90) / 1.6449)


@dataclass(frozen=True)
class RigSetting:
    """The rig the in-car section runs (a ledger alternative changes one field)."""

    cameras: int = IN_CAR_CAMERAS
    fps: float = IN_CAR_FPS
    models: tuple[str, ...] = DEFAULT_MODELS
    precision: str = "int8"
    duration_s: float = DURATION_S
    seed: int = 0
    power_budget_w: float | None = IN_CAR_POWER_BUDGET_W  # the car's, W; None: none can be stated (not judged)

    @property
    def deadline_ms(self) -> float:
        return 1e3 / self.fps


@dataclass
class RigChip:
    """One chip on the rig: its central row, and per estimate group its range and corner p99s."""

    id: str
    estimate: bool
    row: dict[str, Any]  # the rig's summary at the central figures, or {"chip", "error"}
    ranges: dict[str, tuple[float, float, float]] = field(default_factory=dict)  # group -> low, central, high
    corner_p99_ms: dict[tuple[str, str], float] = field(default_factory=dict)  # (group, end) -> p99, inf: fails
    corner_fields: dict[tuple[str, str], dict[str, float]] = field(default_factory=dict)

    @property
    def p99_ms(self) -> float:
        return float(self.row["latency_p99_ms"]) if "error" not in self.row else math.inf


@dataclass
class RigBase:
    setting: RigSetting
    chips: list[RigChip]
    claim: int  # index of the claimed chip

    def groups(self, c: RigChip) -> list[str]:
        return list(c.ranges)


def spec_at(spec: Any, values: dict[str, float]) -> Any:
    """``spec`` with each dotted-path figure set to a plain number (a Range replaced by one of its ends)."""
    def put(obj: Any, parts: list[str], value: float) -> Any:
        if not parts:
            return value
        head, rest = parts[0], parts[1:]
        if isinstance(obj, dict):
            return {**obj, head: put(obj[head], rest, value)}
        return obj.model_copy(update={head: put(getattr(obj, head), rest, value)})

    for path, v in values.items():
        spec = put(spec, path.split("."), float(v))
    return spec


def _row(spec: Any, s: RigSetting) -> dict[str, Any]:
    try:
        r = drive(spec, s.cameras, s.fps, list(s.models), deadline_ms=s.deadline_ms, duration_s=s.duration_s,
                  seed=s.seed, precision=s.precision, power_budget_w=s.power_budget_w)
    except PowerBudgetError as exc:  # its idle power alone is over the car's budget: it cannot run the rig in a car
        return {"chip": spec.id, "error": str(exc), "over_budget": True, "idle_w": exc.idle_w,
                "power_budget_w": exc.budget_w}
    except InferchipError as exc:
        return {"chip": spec.id, "error": str(exc)}
    lat = r["latency_ms"]
    return {"chip": spec.id, "estimate": is_estimate(spec), "cameras": s.cameras,
            "fps": s.fps, "deadline_ms": s.deadline_ms, "latency_p50_ms": lat["p50"], "latency_p99_ms": lat["p99"],
            "deadline_miss_rate": r["deadline_miss_rate"], "utilisation": r["utilisation"],
            "capacity_frames_per_s": r["capacity_frames_per_s"], "average_power_w": r["average_power_w"],
            "power_budget_w": s.power_budget_w, "clock_fraction": r.get("clock_fraction"),
            "energy_per_frame_j": r["energy_per_frame_j"], "networks": [n["name"] for n in r["networks"]],
            "notes": r["notes"]}


def _groups(spec: Any) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for path, r in spec.estimated_fields().items():
        g = group_of(path)
        if g is not None and g not in SKIPPED_GROUPS and r.central and (r.low < r.central or r.high > r.central):
            out.setdefault(g, {})[path] = r
    return out


def rig_base(chips: Sequence[Any], claim_id: str, setting: RigSetting = RigSetting()) -> RigBase:
    """The rig at every chip's central figures and at each of its estimate groups' ends."""
    out = []
    for spec in chips:
        c = RigChip(spec.id, bool(spec.estimate or spec.estimated_fields()), _row(spec, setting))
        if "error" not in c.row:
            for g, fields in _groups(spec).items():
                first = next(iter(fields.values()))
                c.ranges[g] = (float(first.low), float(first.central), float(first.high))
                for end in ("low", "high"):
                    vals = {p: float(getattr(r, end)) for p, r in fields.items()}
                    row = _row(spec_at(spec, vals), setting)
                    c.corner_p99_ms[(g, end)] = math.inf if "error" in row else float(row["latency_p99_ms"])
                    c.corner_fields[(g, end)] = vals
        out.append(c)
    ids = [c.id for c in out]
    return RigBase(setting, out, ids.index(claim_id))


def rig_monte_carlo(base: RigBase, samples: int, seed: int, model_error: bool = True) -> np.ndarray:
    """p99 frame latency of every chip in every sample, ms ([C, S]; inf where a chip cannot run)."""
    rng = np.random.default_rng([seed, 14])  # its own stream: the LLM parts' draws are not shifted
    out = np.empty((len(base.chips), samples))
    for i, c in enumerate(base.chips):
        log = np.zeros(samples)
        lost = np.zeros(samples, bool)
        for g, (lo, mid, hi) in c.ranges.items():
            t = _position(rng, lo, mid, hi, samples)
            for end, a in (("high", np.where(t > 0, t, 0.0)), ("low", np.where(t < 0, -t, 0.0))):
                corner = c.corner_p99_ms[(g, end)]
                if math.isfinite(corner) and math.isfinite(c.p99_ms):
                    log += a * math.log(corner / c.p99_ms)
                else:
                    lost |= a > 0.5
        z = rng.standard_normal(samples)
        err = np.exp(vision_sigma() * z) if model_error else 1.0
        out[i] = np.where(lost, np.inf, c.p99_ms * np.exp(log) * err)
    return out


def rig_holds(p99_ms: np.ndarray, claim: int, deadline_ms: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Whether the part holds in each sample ([S]), which chips keep the rig ([C, S]) and the fastest
    other chip that keeps it (index per sample; -1 when none does)."""
    keeps = np.isfinite(p99_ms) & (p99_ms <= deadline_ms)
    others = np.where(keeps, p99_ms, np.inf)
    others[claim] = np.inf
    best = others.min(axis=0)
    leader = np.where(np.isfinite(best), others.argmin(axis=0), -1)
    holds = keeps[claim] & (p99_ms[claim] <= best * (1 + TIE))
    return holds, keeps, leader


@dataclass
class InCar:
    """The in-car section: the table, the part's entry, the chart's band and the ledger entries."""

    setting: RigSetting
    rows: list[dict[str, Any]]
    part: dict[str, Any]
    ledger: list[dict[str, Any]] = field(default_factory=list)
    corner_holds: dict[tuple[str, str], bool] = field(default_factory=dict)  # claimed chip's (group, end)

    def to_dict(self) -> dict[str, Any]:
        s = self.setting
        return {"cameras": s.cameras, "fps": s.fps, "deadline_ms": s.deadline_ms, "networks": list(s.models),
                "power_budget_w": s.power_budget_w,
                "precision": s.precision, "duration_s": s.duration_s, "chips": [r["chip"] for r in self.rows],
                "rows": self.rows, "frame_deadlines": self.part,
                "named_corners": [{"group": g, "end": e, "side": side(g, e), "holds": h}
                                  for (g, e), h in self.corner_holds.items()]}


def judge_rig(base: RigBase, samples: int, seed: int, model_error: bool = True) -> tuple[float | None, dict[str, Any]]:
    """The part's probability and what decides it, plus per-chip Monte Carlo figures."""
    claim = base.chips[base.claim]
    if base.setting.power_budget_w is None:
        return None, {"decided_by": "not judged: no in-car power budget can be stated, and without one any chip fast "
                                    "enough keeps the rig, whatever it draws"}
    if "error" in claim.row and not claim.row.get("over_budget"):
        return None, {"decided_by": f"not judged: {namer(())(claim.id)} cannot run the rig ({claim.row['error']})"}
    p99 = rig_monte_carlo(base, samples, seed, model_error)
    holds, keeps, leader = rig_holds(p99, base.claim, base.setting.deadline_ms)
    central = np.array([[c.p99_ms] for c in base.chips])
    c_holds, _, c_lead = rig_holds(central, base.claim, base.setting.deadline_ms)
    p = float(holds.mean())
    beats = leader[~holds & (leader >= 0)]
    rival = base.chips[int(np.bincount(beats).argmax())].id if beats.size else None
    kept = [c.id for c, k in zip(base.chips, central[:, 0] <= base.setting.deadline_ms, strict=True) if k]
    where = ("fastest" if c_holds[0] else f"p99 {latency_text(claim.p99_ms)}" if claim.id in kept else
             f"p99 {latency_text(claim.p99_ms)}, over the deadline") + " at the central figures"
    if not kept:
        where += "; no chip keeps the rig there"
    fastest = np.zeros((len(base.chips), samples), bool)
    best = np.where(keeps, p99, np.inf).min(axis=0)
    fastest[:] = keeps & (p99 <= best * (1 + TIE))
    s = base.setting
    name = namer(())  # the catalogue's names: the rig's chips are catalogue chips
    text = (f"{name(claim.id)} keeps the rig ({s.cameras} cameras at {s.fps:g} fps, p99 within {s.deadline_ms:.1f} ms, "
            f"within {s.power_budget_w:g} W) with the lowest p99 frame latency in {pct(p)} of {samples:,} samples "
            f"({where})" + (f"; the chip that beats it most often: {name(rival)}" if rival else ""))
    if claim.row.get("over_budget"):  # no sample can hold: the chip does not fit the car
        whose = IN_CAR_POWER_BUDGET_SOURCE if s.power_budget_w == IN_CAR_POWER_BUDGET_W else "the ledger's alternative"
        text = (f"{name(claim.id)} cannot run the rig in a car: its idle power alone, {claim.row['idle_w']:,.0f} W, "
                f"exceeds the {s.power_budget_w:g} W budget ({whose}), so it holds in none of "
                f"{samples:,} samples" + (f"; the fastest chip within the budget most often: {name(rival)}"
                                          if rival else ""))
    per_chip = {c.id: {"p99_ms_p5": float(np.percentile(p99[i], 5)), "p99_ms_p95": float(np.percentile(p99[i], 95)),
                       "p_keeps_deadline": float(keeps[i].mean()), "p_fastest": float(fastest[i].mean())}
                for i, c in enumerate(base.chips) if "error" not in c.row}  # one that cannot run: its error
    lead = int(c_lead[0])
    return p, {"decided_by": text, "rival": rival or (base.chips[lead].id if lead >= 0 else None),
               "holds_at_central": bool(c_holds[0]), "per_chip": per_chip}


def part_entry(label: str, metric: str, p: float | None, info: dict[str, Any]) -> dict[str, Any]:
    """The frame-deadline part in the shape of the claim's other parts (claim_review.part_entries)."""
    return {"part": "frame_deadlines", "label": label, "metric": metric, "unit": "ms", "view": None, "basis": None,
            "verdict": verdict(p), "probability": p, "judged": p is not None,
            "holds_at_central": info.get("holds_at_central"), "decided_by": info["decided_by"],
            **({"rival": info.get("rival")} if p is not None else {})}


ALTERNATIVES: tuple[tuple[str, str, dict[str, Any], str], ...] = (
    ("in-car networks", "BEVFormer-tiny over all views once per tick (MLPerf Automotive)",
     {"models": (*DEFAULT_MODELS, "ssd-resnet50-cognata-8mp@camera")},
     "plus the MLPerf Automotive 8 MP detector (SSD-ResNet50, Cognata) on every camera frame"),
    ("in-car camera count", f"{IN_CAR_CAMERAS} cameras", {"cameras": 12},
     "12 cameras (the rig network rebuilt at 12 views: its backbone runs on each, and the arrivals change)"),
    ("in-car frame rate", f"{IN_CAR_FPS:g} fps (deadline {1e3 / IN_CAR_FPS:.1f} ms)", {"fps": 60.0},
     "60 fps (deadline 16.7 ms)"),
    ("in-car power budget", f"{IN_CAR_POWER_BUDGET_W:g} W ({IN_CAR_POWER_BUDGET_SOURCE})",
     {"power_budget_w": IN_CAR_POWER_BUDGET_HIGH_W},
     f"{IN_CAR_POWER_BUDGET_HIGH_W:g} W (AI5's reported edge envelope, spiderking.ai 2026-04-17)"),
)


def in_car_chips(claim_spec: Any) -> list[Any]:
    """The in-car chips' specs, plus the claimed chip when it is none of them."""
    from inferchip.catalog.chips import load_chip

    specs = [load_chip(c) for c in IN_CAR_CHIPS]
    if claim_spec.id not in IN_CAR_CHIPS:
        specs.append(claim_spec)
    return specs


def _corner_holds(base: RigBase) -> dict[tuple[str, str], bool]:
    """The claimed chip at each of its corners, every other chip central, no model error."""
    claim = base.chips[base.claim]
    central = np.array([[c.p99_ms] for c in base.chips])
    out = {}
    for key, p99 in claim.corner_p99_ms.items():
        at = central.copy()
        at[base.claim, 0] = p99
        out[key] = bool(rig_holds(at, base.claim, base.setting.deadline_ms)[0][0])
    return out


def _ledger_entry(choice: str, default: str, alternative: str, p0: float | None, p1: float | None,
                  note: str = "") -> dict[str, Any]:
    flips = ["frame_deadlines"] if p0 is not None and p1 is not None and verdict(p0) != verdict(p1) else []
    return {"choice": choice, "default": default, "alternative": alternative, "flips": flips,
            "verdicts_if_flipped": {"frame_deadlines": {"verdict": verdict(p1), "probability": p1}}, "note": note}


def in_car_section(claim_spec: Any, label: str, metric: str, samples: int, seed: int,
                   setting: RigSetting = RigSetting(), ledger: bool = True) -> InCar:
    """The in-car table, the frame-deadline part and its ledger entries for the claimed chip ``claim_spec``."""
    from dataclasses import replace

    chips = in_car_chips(claim_spec)
    base = rig_base(chips, claim_spec.id, setting)
    p, info = judge_rig(base, samples, seed)
    rows = []
    for c in base.chips:
        rows.append({**c.row, **info.get("per_chip", {}).get(c.id, {}),
                     "estimate_groups": {g: list(r) for g, r in c.ranges.items()}})
    out = InCar(setting, rows, part_entry(label, metric, p, info), corner_holds=_corner_holds(base))
    if not ledger:
        return out
    p_no_err, _ = judge_rig(base, samples, seed, model_error=False)
    out.ledger.append(_ledger_entry("model error (in-car rig)",
                                    f"the vision validation's latency error sampled ({VISION_SOURCE})",
                                    "no model error (estimate ranges only)", p, p_no_err))
    for choice, default, change, alternative in ALTERNATIVES:
        alt = replace(setting, **change)
        p_alt, alt_info = judge_rig(rig_base(chips, claim_spec.id, alt), samples, seed)
        out.ledger.append(_ledger_entry(choice, default, alternative, p, p_alt, alt_info["decided_by"]))
    return out


def merge_into(ic: InCar, parts: list[dict[str, Any]], corners: list[dict[str, Any]],
               ledger: list[dict[str, Any]]) -> None:
    """Put the in-car judgement into the claim's parts, named corners (a corner the rig does not depend
    on, a price or the scale-up link, keeps the central outcome) and ledger (in place). The LLM
    choices leave the rig as it is, so their alternative keeps the part's verdict; the model-error
    choice takes the rig's own (its error is the vision validation's)."""
    for i, p in enumerate(parts):
        if p["part"] == "frame_deadlines":
            parts[i] = ic.part
    for row in corners:
        key = (row["group"], row["end"])
        if "frame_deadlines" in row["holds"]:
            row["holds"]["frame_deadlines"] = ic.corner_holds.get(key, ic.part["holds_at_central"])
    mine = {"verdict": ic.part["verdict"], "probability": ic.part["probability"]}
    own = {e["choice"]: e for e in ic.ledger}
    no_err = own.pop("model error (in-car rig)", None)
    for e in ledger:
        if "frame_deadlines" in e.get("verdicts_if_flipped", {}):
            e["verdicts_if_flipped"]["frame_deadlines"] = dict(mine)
        if e["choice"] == "model error" and no_err is not None and e["flips"] is not None:
            e["verdicts_if_flipped"]["frame_deadlines"] = no_err["verdicts_if_flipped"]["frame_deadlines"]
            e["flips"] = [*e["flips"], *no_err["flips"]]
            e["note"] = "; ".join(x for x in (e.get("note"), f"in-car rig: {no_err['default']}") if x)
    ledger.extend(own.values())
