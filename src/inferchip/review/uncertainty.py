"""Uncertainty of the claim's parts: the claimed chip's estimates one at a time (named corners)
and a seeded Monte Carlo over every estimate range, price range and the model's validated error.

*Corners.* The claimed chip's estimated figures are grouped by what they describe (peak
compute in every format together, memory capacity, memory bandwidth, power); each group is
set to its low and to its high end with every other figure central, and the claim's cases
are predicted there (:func:`corner_runs`, 2 runs of the case set per group).

*Monte Carlo* (:func:`monte_carlo`). Each sample draws, independently:
each estimate group's position in its range (triangular on low, central, high); each chip's
price in each cost view (triangular on its low, quoted, high); one error factor per chip for
throughput and one for power (lognormal, ``review/model_error.yaml``, taken from the
validation); and, for the interactive-latency part, one error factor per chip for TTFT and one
for TPOT (:func:`within_limits`). The claimed chip's figures at a sample come from the corner runs: in log space
linear in the group's position between central and the corner (``exp(|t| ln(corner/central))``
per group, multiplied over groups: interactions between groups are not modelled); a case
the corner does not serve is unserved beyond the midpoint towards it. Every array is
evaluated at once (:mod:`inferchip.review.judge`), not one review per sample.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from inferchip.cost.tco import TcoTerms
from inferchip.review.claim_file import Claim
from inferchip.review.inputs import (
    ChipEntry,
    ModelEntry,
    OnProgress,
    ReviewConfig,
    namer,
    no_progress,
    service_level,
)
from inferchip.review.judge import Figures
from inferchip.review.views import CostView, host_of, host_share, tco_terms_of
from inferchip.spec.chip import ChipParams

MODEL_ERROR_FILE = Path(__file__).with_name("model_error.yaml")
ENDS = ("low", "high")
# The end of each estimate group that favours the claim: more compute, memory and link bandwidth favour it;
# a lower power and a lower price or cost favour it (every part compares per watt or per dollar, or is neutral).
FAVOURABLE_END = {"power (TDP)": "low", "price and cost": "low"}


def side(group: str, end: str) -> str:
    """"favourable" or "unfavourable": whether ``end`` of estimate ``group`` favours the claim."""
    return "favourable" if end == FAVOURABLE_END.get(group, "high") else "unfavourable"


MODEL_ERROR_TABLES = {"per_metric": "docs/validation.md, Per metric",
                      "closed_loop": "docs/validation.md, Closed-loop serving rows, held out per accelerator"}


def model_error_sources(path: Path = MODEL_ERROR_FILE) -> dict[str, str]:
    """Where each figure's validated error comes from, in words (metric, table, median and p90 APE)."""
    from inferchip.catalog.yaml_io import read_mapping

    return {name: f"{MODEL_ERROR_TABLES.get(str(row.get('table')), 'docs/validation.md')}: {row['metric']}, "
                  f"median {row['median_ape_pct']} %, p90 {row['p90_ape_pct']} % APE (review/model_error.yaml)"
            for name, row in read_mapping(path).items()}


def model_error_sigmas(path: Path = MODEL_ERROR_FILE) -> dict[str, float]:
    """Lognormal sigma per figure ("throughput", "power", "ttft", "tpot") from the validated median and p90 APE."""
    from inferchip.catalog.yaml_io import read_mapping

    out: dict[str, float] = {}
    for name, row in read_mapping(path).items():
        med, p90 = float(row["median_ape_pct"]) / 100, float(row["p90_ape_pct"]) / 100
        out[name] = max(math.log1p(med) / 0.6745, math.log1p(p90) / 1.6449)
    return out


def group_of(path: str) -> str | None:
    """The estimate group of a dotted spec path that changes the performance model, else None."""
    if path.startswith("compute.dense_tflops."):
        return "peak compute"
    return {"memory.capacity": "memory capacity", "memory.bandwidth_tb_per_s": "memory bandwidth",
            "power.tdp_w": "power (TDP)", "power.idle_w": "power (TDP)", "compute.vector_tflops": "peak compute",
            "interconnect.scaleup_bw_gb_per_s_per_direction": "scale-up link"}.get(path)


def scaled_params(p: ChipParams, path: str, ratio: float) -> ChipParams:
    """``p`` with the figure at ``path`` multiplied by ``ratio`` (capacity keeps its runtime reserve)."""
    if path.startswith("compute.dense_tflops."):
        fmt = path.rsplit(".", 1)[1]
        peaks = dict(p.peak_flop_per_s)
        if fmt in peaks:
            peaks[fmt] *= ratio
        return replace(p, peak_flop_per_s=peaks)
    if path == "compute.vector_tflops":
        return replace(p, vector_flop_per_s=p.vector_flop_per_s * ratio)
    if path == "memory.capacity":
        reserve = p.memory_capacity_bytes - p.usable_memory_bytes
        cap = p.memory_capacity_bytes * ratio
        return replace(p, memory_capacity_bytes=cap, usable_memory_bytes=max(cap - reserve, 0.0))
    if path == "memory.bandwidth_tb_per_s":
        return replace(p, memory_bytes_per_s=p.memory_bytes_per_s * ratio)
    if path == "power.tdp_w":
        return replace(p, tdp_w=p.tdp_w * ratio, idle_w=p.idle_w * ratio)
    if path == "power.idle_w":
        return replace(p, idle_w=p.idle_w * ratio)
    if path == "interconnect.scaleup_bw_gb_per_s_per_direction":
        return replace(p, link_bytes_per_s=p.link_bytes_per_s * ratio)
    return p


@dataclass
class Corner:
    """The claimed chip with one estimate group at one end: tput and board power per case ([K], NaN: not served)."""

    group: str
    end: str
    fields: dict[str, float]  # dotted path -> the figure at this end
    tput: np.ndarray
    board_w: np.ndarray


def claim_cases(claim: ChipEntry, params: ChipParams, models: list[ModelEntry], cases: list[tuple[str, str]],
                cfg: ReviewConfig, domain: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Output tokens/s per chip and board power per chip of the claimed chip on each case ([K]), each on the
    system the review judges it on (``domain``, else its domain, or the case's sized deployment and chunk:
    ``review.deploy.sizing.claim_count``)."""
    from inferchip.review.cases import evaluate
    from inferchip.review.deploy.sizing import claim_count

    by_id = {m.id: m for m in models}
    tput, board = np.full(len(cases), np.nan), np.full(len(cases), np.nan)
    for k, (mid, slo) in enumerate(cases):
        m = by_id[mid]
        n, chunk = claim_count(claim, (mid, slo))
        p, _, _ = evaluate(params, m.spec, service_level(slo, m.total_params, cfg), domain or n, cfg,
                           chip_spec=claim.spec, weights=claim.weights_in(cfg), chunk_tokens=chunk)
        if p is not None:
            tput[k] = p.output_tokens_per_s_per_chip
            w = p.extra.get("power_w_per_chip")
            board[k] = float(w) if isinstance(w, (int, float)) else np.nan
    return tput, board


def corner_runs(claim: ChipEntry, models: list[ModelEntry], cases: list[tuple[str, str]], cfg: ReviewConfig,
                on_progress: OnProgress = no_progress) -> tuple[list[Corner], dict[str, str]]:
    """Every performance estimate group of the claimed chip at its low and high end; and the
    estimated figures that are not varied here, with why (money figures are sampled by the views)."""
    from inferchip.review.parallel.pool import run_pieces

    keyed, skipped = corner_pieces(claim, models, cases, cfg)
    return run_pieces([p for _, p in keyed], cfg.jobs, on_progress, keys=[k for k, _ in keyed]), skipped


def corner_pieces(claim: ChipEntry, models: list[ModelEntry], cases: list[tuple[str, str]], cfg: ReviewConfig,
                  ) -> tuple[list[tuple[Any, Any]], dict[str, str]]:
    """:func:`corner_runs`' pieces, each with its key (``review.parallel.pool.run_pieces``), and the skipped figures."""
    groups: dict[str, dict[str, Any]] = {}
    skipped: dict[str, str] = {}
    for path, r in claim.estimated_fields.items():
        g = group_of(path)
        if g is None:
            skipped[path] = ("a price: its range is sampled in the street view" if path.startswith("price.") else
                             "a silicon figure: only the modelled-cost view's silicon model uses it (its ends give "
                             "that view's range)" if path.startswith("silicon.") else
                             "not an input of the performance model")
        elif r["central"]:
            groups.setdefault(g, {})[path] = r

    def corner(g: str, end: str, fields: dict[str, Any], report: OnProgress) -> Corner:
        p = claim.params
        for path, r in fields.items():
            p = scaled_params(p, path, float(r[end]) / float(r["central"]))
        tput, board = claim_cases(claim, p, models, cases, cfg)
        report(f"{claim.id}: {g} at its {end} end", 1)
        return Corner(g, end, {k: float(r[end]) for k, r in fields.items()}, tput, board)

    return [(("corner", claim.id, tuple(cases), g, end), partial(corner, g, end, f))
            for g, f in groups.items() for end in ENDS], skipped


@dataclass
class Base:
    """The central figures (one sample) and what the Monte Carlo varies around them."""

    fig: Figures
    corners: list[Corner] = field(default_factory=list)
    ranges: dict[str, tuple[float, float, float]] = field(default_factory=dict)  # group -> low, central, high
    price_ranges: dict[str, np.ndarray] = field(default_factory=dict)  # view -> [C, 3] low, quoted, high
    cost_range: np.ndarray | None = None  # [C, 3]

    def groups(self) -> list[str]:
        return list(dict.fromkeys(c.group for c in self.corners))


def scope_cases(res: Any, claim: Claim) -> list[tuple[str, str]]:
    return [(m.id, s) for m in res.models if m.total_params <= claim.max_total_params for s in res.config.slos]


def build_base(res: Any, claim_entry: ChipEntry, claim: Claim, views: list[CostView],
               cases: list[tuple[str, str]], gpu_host_for_claim: bool = False, claim_setting: str = "domain",
               sized_at_scaleup: bool = False) -> Base:
    """The central figures (one sample) of every chip on the claim's cases, and the price ranges.
    ``claim_setting`` "single": the claimed chip alone (the ledger's one-chip alternative).
    ``sized_at_scaleup``: a chip sized per case (its ``scaleup`` rows; the claimed one too, unless it is judged
    alone) judged on its scale-up domain instead (the ledger's alternative). A chip's system size is its row's
    ``deployment_chips``, case by case. A package its runtime sees as several devices (an MI250X) is judged per
    package, the unit a buyer buys, though its rows' per-chip figures are a device's (``runtime_devices_per_package``):
    its tokens/s and board power are its devices' together, its price and cost the package's, its system counted in
    packages and its host slot one a package (:meth:`~inferchip.cost.energy.HostSystem.per_device`)."""
    chips = res.chips
    ids = [c.id for c in chips]
    rows = {(r["chip_id"], r["model_id"], r["slo"]): r for r in res.rows
            if r["setting"] == (claim_setting if r["chip_id"] == claim_entry.id else "domain")}
    if sized_at_scaleup:
        rows.update({(r["chip_id"], r["model_id"], r["slo"]): r for r in res.rows if r["setting"] == "scaleup"
                     and (r["chip_id"] != claim_entry.id or claim_setting == "domain")})
    n_c, n_k = len(chips), len(cases)
    tput, board = np.full((n_c, n_k, 1), np.nan), np.full((n_c, n_k, 1), np.nan)
    lat = np.full((n_c, n_k, 2), np.nan)
    host_chips = np.ones((n_c, n_k))
    system = np.ones((n_c, n_k))
    idle, per_acc = np.zeros(n_c), np.zeros(n_c)
    terms: list[TcoTerms] = []
    view_terms: dict[str, list[TcoTerms]] = {}
    fan, psu = np.zeros(n_c), np.ones(n_c)
    share = np.ones(n_c)  # runtime devices a package is (review.cases.prediction_row): the figures are per package
    for i, c in enumerate(chips):
        share[i] = max((r.get("runtime_devices_per_package") or 1 for r in res.rows if r["chip_id"] == c.id),
                       default=1)
        host = host_of(c, gpu_host_for_claim and c.id == claim_entry.id)
        idle[i], per_acc[i] = host.idle_w, host.per_accelerator_w
        terms.append(tco_terms_of(host))
        for v in views:  # each view's figure by what it covers (a street price that is a rack's share)
            view_terms.setdefault(v.name, []).append(tco_terms_of(host, v.prices[c.id].covers) if c.id in v.prices
                                                     else terms[-1])
        fan[i], psu[i] = host.fan_power_fraction, host.psu_efficiency
        for k, (mid, slo) in enumerate(cases):
            r = rows.get((c.id, mid, slo))
            n = 1 if c.id == claim_entry.id and claim_setting == "single" else c.domain
            system[i, k] = r["deployment_chips"] if r is not None and r.get("deployment_chips") else n
            if r is not None and r["status"] == "ok":  # a row's per-device figures times the devices a package is
                tput[i, k, 0] = r["output_tokens_per_s_per_chip"] * share[i]
                board[i, k, 0] = r["power_w_per_chip"] * share[i] if r["power_w_per_chip"] is not None else np.nan
                lat[i, k] = [_ratio(r.get("ttft_s"), r.get("max_ttft_s")), _ratio(r.get("tpot_s"), r.get("max_tpot_s"))]
                n = (r["num_chips"] or n * share[i]) / share[i]
            host_chips[i, k] = host_share(n, host)
    price = {v.name: np.array([[v.prices[i].usd] if i in v.prices else [np.nan] for i in ids]) for v in views}
    ranges = {v.name: np.array([[v.prices[i].low_usd, v.prices[i].usd, v.prices[i].high_usd] if i in v.prices
                                else [np.nan] * 3 for i in ids]) for v in views}
    modelled = ranges.get("modelled")
    fig = Figures(ids, ids.index(claim_entry.id), cases, tput, board, system,
                  host_chips, idle, per_acc, price, price.get("modelled"), tco_terms=terms, view_tco_terms=view_terms,
                  latency_ratio=lat,
                  host_fan_fraction=fan, host_psu_efficiency=psu, names=list(map(namer(chips), ids)))
    return Base(fig, price_ranges=ranges, cost_range=modelled)


def _ratio(value: Any, limit: Any) -> float:
    """Predicted latency over its limit (NaN where the case has no limit or no figure)."""
    if isinstance(value, (int, float)) and isinstance(limit, (int, float)) and limit > 0:
        return float(value) / float(limit)
    return float("nan")


def within_limits(tput: np.ndarray, latency_ratio: np.ndarray | None, z_ttft: np.ndarray, z_tpot: np.ndarray,
                  sig_ttft: float, sig_tpot: float) -> np.ndarray:
    """Output tokens/s per chip within the TTFT and TPOT limits with the model's latency error ([C, K, S]).

    ``tput``: tok/s before any model error ([C, K, S]); ``latency_ratio``: predicted TTFT and TPOT over
    their limits at the modelled operating point ([C, K, 2]); ``z_*``: one standard normal per chip and
    sample ([C, S]). With the true TPOT g = exp(sig_tpot z) times the predicted one, the same users get
    1/g of the tokens/s (tok/s = users / TPOT), so the throughput is divided by g; where the TTFT or the
    TPOT times its error factor exceeds its limit, the operating point misses the limit and the case
    counts as not served in that sample (conservative for every chip alike: a smaller batch might still
    meet the limit; not modelled). A case without a limit keeps its throughput. Errors: docs/validation.md
    (``review/model_error.yaml``)."""
    g_ttft, g_tpot = np.exp(sig_ttft * z_ttft)[:, None, :], np.exp(sig_tpot * z_tpot)[:, None, :]
    if latency_ratio is None:
        return tput / g_tpot
    r_ttft, r_tpot = latency_ratio[:, :, 0:1], latency_ratio[:, :, 1:2]
    limited = np.isfinite(r_ttft) | np.isfinite(r_tpot)
    missed = (np.nan_to_num(r_ttft) * g_ttft > 1.0) | (np.nan_to_num(r_tpot) * g_tpot > 1.0)
    out = np.where(limited, tput / g_tpot, tput)
    return np.where(limited & missed, np.nan, out)


def _position(rng: np.random.Generator, lo: float, mid: float, hi: float, n: int) -> np.ndarray:
    """Triangular draws on (lo, mid, hi) as positions in [-1, 1]: -1 at lo, 0 at mid, 1 at hi (log scale)."""
    x = _triangular(rng, lo, mid, hi, n)
    t = np.zeros(n)
    if hi > mid:
        t = np.where(x > mid, np.log(x / mid) / math.log(hi / mid), t)
    if lo < mid:
        t = np.where(x < mid, -np.log(x / mid) / math.log(lo / mid), t)
    return t


def _triangular(rng: np.random.Generator, lo: float, mid: float, hi: float, n: int) -> np.ndarray:
    if not hi > lo:
        rng.random(n)  # the same draws whatever the ranges: one chip's range never shifts another's samples
        return np.full(n, mid)
    u = rng.random(n)
    c = (min(max(mid, lo), hi) - lo) / (hi - lo)
    return np.where(u < c, lo + np.sqrt(u * (hi - lo) * (mid - lo)), hi - np.sqrt((1 - u) * (hi - lo) * (hi - mid)))


def claim_at(base: Base, t: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """The claimed chip's tput and board power per case at group positions ``t`` ([K, S] each)."""
    f = base.fig
    c_t, c_b = f.tput[f.claim, :, 0], f.board_w[f.claim, :, 0]
    n = len(next(iter(t.values()))) if t else 1
    log_t, log_b = np.zeros((len(c_t), n)), np.zeros((len(c_t), n))
    lost = np.zeros((len(c_t), n), bool)
    rescue_t, rescue_b = np.full((len(c_t), n), np.nan), np.full((len(c_t), n), np.nan)
    served = np.isfinite(c_t)
    for corner in base.corners:
        pos = t[corner.group]
        a = np.where(pos > 0, pos, 0.0) if corner.end == "high" else np.where(pos < 0, -pos, 0.0)
        ok = np.isfinite(corner.tput)
        with np.errstate(divide="ignore", invalid="ignore"):
            gt = np.where(served & ok, np.log(corner.tput / c_t), 0.0)
            gb = np.where(served & ok & np.isfinite(corner.board_w / c_b), np.log(corner.board_w / c_b), 0.0)
        log_t += gt[:, None] * a[None, :]
        log_b += gb[:, None] * a[None, :]
        lost |= (served & ~ok)[:, None] & (a[None, :] > 0.5)
        take = (~served & ok)[:, None] & (a[None, :] > 0.5) & ~np.isfinite(rescue_t)
        rescue_t = np.where(take, corner.tput[:, None], rescue_t)
        rescue_b = np.where(take, corner.board_w[:, None], rescue_b)
    tput = np.where(served[:, None], c_t[:, None] * np.exp(log_t), rescue_t)
    board = np.where(served[:, None], c_b[:, None] * np.exp(log_b), rescue_b)
    return np.where(lost, np.nan, tput), np.where(lost, np.nan, board)


def monte_carlo(base: Base, samples: int, seed: int, sigmas: dict[str, float] | None = None,
                model_error: bool = True) -> Figures:
    """``samples`` draws of every uncertain input, as one :class:`Figures` with a sample axis."""
    rng = np.random.default_rng(seed)
    f = base.fig
    n_chips = len(f.chips)
    t = {g: _position(rng, *base.ranges[g], samples) for g in base.groups()}
    tput = np.repeat(f.tput[:, :, :1], samples, axis=2)
    board = np.repeat(f.board_w[:, :, :1], samples, axis=2)
    if base.corners:
        tput[f.claim], board[f.claim] = claim_at(base, t)
    sig = sigmas if sigmas is not None else model_error_sigmas()
    z_t, z_p = rng.standard_normal((n_chips, samples)), rng.standard_normal((n_chips, samples))
    nominal = tput
    if model_error:
        tput = tput * np.exp(sig["throughput"] * z_t)[:, None, :]
        board = board * np.exp(sig["power"] * z_p)[:, None, :]
    price = {v: _draw(rng, r, samples) for v, r in base.price_ranges.items()}
    cost = _draw(rng, base.cost_range, samples) if base.cost_range is not None else None
    # drawn last, so the draws above are the same with or without the latency errors
    z_ttft, z_tpot = rng.standard_normal((n_chips, samples)), rng.standard_normal((n_chips, samples))
    in_limits = None
    if model_error and "ttft" in sig and "tpot" in sig:
        in_limits = within_limits(nominal, f.latency_ratio, z_ttft, z_tpot, sig["ttft"], sig["tpot"])
    return replace(f, tput=tput, board_w=board, price=price, cost_usd=cost, tput_in_limits=in_limits)


def _draw(rng: np.random.Generator, ranges: np.ndarray, samples: int) -> np.ndarray:
    """Triangular draws per chip ([C, S]); NaN for a chip without a figure (its draws are still
    consumed, so adding or removing one chip's price never shifts another chip's samples)."""
    out = np.full((len(ranges), samples), np.nan)
    for c, (lo, mid, hi) in enumerate(ranges):
        if np.isfinite(mid):
            out[c] = _triangular(rng, lo, mid, hi, samples)
        else:
            rng.random(samples)
    return out


def at_corner(base: Base, corner: Corner) -> Figures:
    """The central figures with the claimed chip at one corner (one sample, no model error)."""
    f = base.fig
    tput, board = f.tput.copy(), f.board_w.copy()
    tput[f.claim, :, 0], board[f.claim, :, 0] = corner.tput, corner.board_w
    return replace(f, tput=tput, board_w=board)


def at_price_end(base: Base, end: str) -> Figures:
    """The central figures with the claimed chip's price and modelled cost at one end of their ranges."""
    f = base.fig
    i = 0 if end == "low" else 2
    price = {v: p.copy() for v, p in f.price.items()}
    for v, p in price.items():
        p[f.claim, 0] = base.price_ranges[v][f.claim, i]
    cost = None
    if f.cost_usd is not None and base.cost_range is not None:
        cost = f.cost_usd.copy()
        cost[f.claim, 0] = base.cost_range[f.claim, i]
    return replace(f, price=price, cost_usd=cost)
