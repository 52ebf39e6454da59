"""The ledger of reviewer choices: every choice the parts' verdicts depend on, its default, the
alternative tried, and which parts' verdicts flip under it.

Each alternative is run through the same seeded Monte Carlo as the default (same samples,
same rule), so a flip is a change of verdict, not of sampling noise. Alternatives that change
the claimed chip's own figures (precision, chip count) re-predict its central cases; its
corner responses are reused from the default deployment (an approximation, said so).
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np

from inferchip.catalog.chips import spoken_name
from inferchip.errors import InternalError
from inferchip.review.claim_file import BY_FAR, Claim, ScaleOut, pct, verdict
from inferchip.review.deploy.silicon import chip_names
from inferchip.review.inputs import ModelEntry, OnProgress, ReviewConfig, namer, no_progress
from inferchip.review.judge import Figures, judge_all, probability
from inferchip.review.uncertainty import Base, build_base, claim_cases, monte_carlo
from inferchip.review.views import NPU_BOARD, CostView, host_of, system_usd_per_chip, tco_terms_of

if TYPE_CHECKING:
    from inferchip.cost.energy import HostSystem


def _key(k: tuple[str, str | None]) -> str:
    return k[0] if k[1] is None else f"{k[0]} ({k[1]})"


def verdicts(base: Base, claim: Claim, views: list[str], cfg: ReviewConfig, fig: Figures | None = None,
             model_error: bool = True) -> dict[str, tuple[str, float | None]]:
    """Verdict and probability of every part under ``base`` (optionally with its figures replaced)."""
    b = base if fig is None else replace(base, fig=fig, corners=_rescaled(base, fig))
    mc = monte_carlo(b, cfg.samples, cfg.seed, model_error=model_error)  # keeps fig's mask, power basis, by-far
    out = {}
    for k, o in judge_all(mc, claim.part_list(), views).items():
        p = probability(o)
        out[_key(k)] = (verdict(p), p)
    return out


def _entry(choice: str, default: str, alternative: str, base_v: dict[str, tuple[str, float | None]],
           alt_v: dict[str, tuple[str, float | None]] | None, note: str = "") -> dict[str, Any]:
    if alt_v is None:
        return {"choice": choice, "default": default, "alternative": alternative, "flips": None,
                "verdicts_if_flipped": {}, "note": note or "not computed"}
    # a part that cannot be judged under the alternative (no case left, no price) is not a flip
    flips = [k for k, (v, p) in alt_v.items()
             if p is not None and base_v.get(k, (v, None))[1] is not None and base_v[k][0] != v]
    return {"choice": choice, "default": default, "alternative": alternative, "flips": flips,
            "verdicts_if_flipped": {k: {"verdict": v, "probability": p} for k, (v, p) in alt_v.items()},
            "note": note}


def _is_moe(model: ModelEntry) -> bool:
    return model.active_params < 0.9 * model.total_params


def ledger(res: Any, cfg: ReviewConfig, claim: Claim, base: Base, parts: list[dict[str, Any]],
           views: list[CostView], on_progress: OnProgress = no_progress) -> list[dict[str, Any]]:
    """Every reviewer choice with its default and whether flipping it flips a part's verdict."""
    names = [v.name for v in views]
    default = {_key((p["part"], p["view"])): (p["verdict"], p["probability"]) for p in parts}
    f = base.fig
    out: list[dict[str, Any]] = []
    money = {p["view"]: p["verdict"] for p in parts if p["part"] == "equal_money"}
    if len(money) == 2:
        flip = ["equal_money"] if len(set(money.values())) > 1 else []
        out.append({"choice": "price basis", "default": "both views shown, never mixed: " + ", ".join(names),
                    "alternative": "the other view", "flips": flip,
                    "verdicts_if_flipped": {},
                    "note": "equal money: " + "; ".join(f"{k}: {v}" for k, v in money.items())})
    out.extend(_year_entries(res, cfg, claim, base, views, default, on_progress))
    claim_entry = res.claim
    me = spoken_name(claim_entry.name)  # the claimed chip as the ledger's sentences name it
    if claim_entry.deployed:
        d = claim.deployment
        if d.weights is not None:  # a claim file that states no weights deploys the chip at --weights: no choice
            tput, board, chips = _claim_at_weights(claim_entry, res, f.cases, cfg, claim.scale_out)
            on_progress(f"ledger: {claim_entry.id} at {cfg.weights} weights", 1)
            alt = _with_claim(f, tput, board, chips, host_of(claim_entry))
            out.append(_entry("precision", f"{me} {d.weights} weights, others {cfg.weights}",
                              f"{me} at {cfg.weights} like the others", default,
                              verdicts(base, claim, names, cfg, alt)))
        one = build_base(res, claim_entry, claim, views, f.cases, claim_setting="single")
        from inferchip.review.deploy.sizing import system_text

        sized = system_text(claim_entry.id, claim_entry.domain, res.rows).removeprefix("sized: ")
        on = (f"the smallest deployment that serves each case ({sized})" if claim_entry.systems
              else f"a board of {claim_entry.domain}")
        out.append(_entry("chip count", f"{me} on {on}",
                          f"{me} alone (one chip, its own host)", default,
                          verdicts(base, claim, names, cfg, replace(one.fig, price=f.price, cost_usd=f.cost_usd))))
        gpu = build_base(res, claim_entry, claim, views, f.cases, gpu_host_for_claim=True)
        h = host_of(claim_entry)
        host = (f"NPU board host ({h.idle_w:g} W + {h.per_accelerator_w:g} W per chip, npu_board system cost)"
                if h.system == NPU_BOARD
                else f"its own carrier board ({h.per_accelerator_w:g} W a module, supply {h.psu_efficiency:g}; no "
                     f"server rack: ${system_usd_per_chip(h):,.0f} of system cost a module, energy overhead "
                     f"{tco_terms_of(h).energy_overhead:g} and ${tco_terms_of(h).space_usd_per_kw_month:g}/(kW month) "
                     "of space: no data centre)"
                if h.system == "embedded_soc" else "a GPU server's host")
        out.append(_entry("host overheads", f"{me}: {host}; GPUs: 8-GPU server host",
                          f"{me} in a GPU server's host", default,
                          verdicts(base, claim, names, cfg, gpu.fig)))
    out.extend(_scale_out_entry(res, cfg, claim, base, views, default))
    slos = sorted({s for _, s in f.cases})
    for s in slos:
        if len(slos) > 1:
            keep = np.array([c[1] == s for c in f.cases])
            limits = ("limits given" if cfg.max_ttft_s is not None or cfg.max_tpot_s is not None
                      else "MLPerf limits per size class")
            out.append(_entry("service levels", f"interactive and batch ({limits})", f"{s} only",
                              default, verdicts(base, claim, names, cfg, f.narrowed(keep))))
    by_id = {m.id: m for m in res.models}
    moe = np.array([_is_moe(by_id[m]) for m, _ in f.cases])
    for label, keep in (("dense models only", ~moe), ("MoE models only", moe)):
        if keep.any() and not keep.all():
            out.append(_entry("model set", f"{len(by_id)} models within {claim.max_total_params / 1e9:.0f}B "
                              "parameters", label, default, verdicts(base, claim, names, cfg, f.narrowed(keep))))
    out.append(_entry("power basis", "board power for performance per watt; wall power (host included) at equal power",
                      "the two swapped", default,
                      verdicts(base, claim, names, cfg, replace(f, power_basis_swapped=True))))
    out.append(_entry("'by far' (lowest-cost silicon)", f"at most 1/{BY_FAR:g} of the next chip's cost",
                      "merely the lowest", default, verdicts(base, claim, names, cfg, replace(f, by_far=1.0))))
    if any(p.id == "lowest_cost_silicon" for p in claim.part_list()):
        out.append(_silicon_entry(f, claim, cfg, base, names, default, chip_names(res)))
    out.append(_entry("model error", "the validated error per figure sampled (review/model_error.yaml)",
                      "no model error (estimate and price ranges only)", default,
                      verdicts(base, claim, names, cfg, model_error=False)))
    return out


def _silicon_entry(f: Figures, claim: Claim, cfg: ReviewConfig, base: Base, names: list[str],
                   default: dict[str, tuple[str, float | None]], names_of: dict[str, str]) -> dict[str, Any]:
    """Lowest-cost silicon on one chip's cost (the default) or on the silicon of the deployment that serves each case
    (review.deploy.silicon), with that reading's central figures as the note."""
    from inferchip.review.deploy.silicon import ALTERNATIVE, CHOICE, DEFAULT, central_reading, reading_text

    r = central_reading(f)
    alt = verdicts(base, claim, names, cfg, replace(f, silicon_basis="deployment"))
    v, p = alt.get("lowest_cost_silicon", ("undecided", None))
    note = (f"on this reading: {v} (P = {pct(p)}); {reading_text(r, f.chips[f.claim], names_of)}" if r is not None
            else "no modelled cost for the claimed chip")
    return _entry(CHOICE, DEFAULT, ALTERNATIVE, default, alt, note)


def _scale_out_entry(res: Any, cfg: ReviewConfig, claim: Claim, base: Base, views: list[CostView],
                     default: dict[str, tuple[str, float | None]]) -> list[dict[str, Any]]:
    """The layer-pipelined competitors' deployment (review.deploy.sizing): sized per case by default; the
    alternative judges them on their scale-up domain, as every other chip (their ``scaleup`` rows)."""
    sized = sorted({r["chip_id"] for r in res.rows if r["setting"] == "scaleup"})
    if not sized:
        return []
    so = claim.scale_out
    counts: dict[str, set[int]] = {}
    for r in res.rows:
        if r["setting"] == "domain" and r["chip_id"] in sized and r["status"] == "ok":
            counts.setdefault(r["chip_id"], set()).add(int(r["deployment_chips"]))
    nm = namer([*res.chips, res.claim])
    shown = "; ".join(f"{nm(c)}: {', '.join(f'{n:,}' for n in sorted(counts[c]))} chips" if c in counts
                      else f"{nm(c)}: no case served up to the bound" for c in sized)
    alt = build_base(res, res.claim, claim, views, base.fig.cases, sized_at_scaleup=True)
    domains = ", ".join(f"{nm(c.id)} on {c.domain}" for c in res.chips if c.id in sized)
    names = [v.name for v in views]
    what = (f"{', '.join(map(nm, sized))} (layer-pipelined, SRAM-only): per case the smallest multiple of its "
            "deployment unit "
            f"that serves it, up to {so.max_chips:,} chips, prefill steps of {so.chunk_tokens:,} tokens "
            f"(review/claim.yaml scale_out) ({shown})")
    out = [_entry("competitor deployment", what, f"on its scale-up domain like every other chip ({domains})", default,
                  verdicts(base, claim, names, cfg, alt.fig))]
    stated = _stated_rows(res, cfg, claim, sized, base.fig.cases)
    if stated:
        import types

        counts_at = ", ".join(f"{nm(c)} on {n:,}" for c, n in stated[1].items())
        pseudo = types.SimpleNamespace(chips=res.chips, models=res.models, claim=res.claim, config=res.config,
                                       rows=[r for r in res.rows if not (r["chip_id"] in stated[1]
                                                                         and r["setting"] == "domain")] + stated[0])
        at = build_base(pseudo, res.claim, claim, views, base.fig.cases)
        out.append(_entry("competitor deployment", what,
                          f"on its vendor's stated deployment in every case ({counts_at}: "
                          "catalog/competitors.yaml deployment_units stated_chips)", default,
                          verdicts(base, claim, names, cfg, at.fig)))
    return out


def _stated_rows(res: Any, cfg: ReviewConfig, claim: Claim, sized: list[str],
                 cases: list[tuple[str, str]]) -> tuple[list[dict[str, Any]], dict[str, int]] | None:
    """The sized chips' rows on the claim's cases at the chip count their vendor states (None where none states
    one), and those counts by chip."""
    from inferchip.catalog.competitors import deployment_unit
    from inferchip.review.cases import evaluate, prediction_row
    from inferchip.review.inputs import service_level

    by_id = {m.id: m for m in res.models}
    rows: list[dict[str, Any]] = []
    counts: dict[str, int] = {}
    for c in res.chips:
        u = deployment_unit(c.id)
        if c.id not in sized or u is None or u.stated_chips is None:
            continue
        counts[c.id] = u.stated_chips
        basis = f"its vendor's stated deployment: {u.stated_model} on {u.stated_chips:,} chips ({u.stated_source})"
        for mid, slo in cases:
            m = by_id[mid]
            sl = service_level(slo, m.total_params, cfg)
            got = evaluate(c.chip_arg(), m.ref, sl, u.stated_chips, cfg, weights=c.weights_in(cfg),
                           chunk_tokens=claim.scale_out.chunk_tokens)
            rows.append(prediction_row(c, m, sl, "domain", u.stated_chips, *got, basis))
    return (rows, counts) if counts else None


def _year_entries(res: Any, cfg: ReviewConfig, claim: Claim, base: Base, views: list[CostView],
                  default: dict[str, tuple[str, float | None]], on_progress: OnProgress) -> list[dict[str, Any]]:
    """The year choice: the parts against every other year's competitor set (its new chips predicted on
    the claim's cases, in their scale-up domain)."""
    import copy
    from types import SimpleNamespace

    from inferchip.review.inputs import chip_entry, review_year
    from inferchip.review.views import cost_views

    year = review_year(cfg)
    if year is None:
        return [_entry("year", "fixed default set (no year-matched table)", "-", default, None,
                       "this catalogue has no year-matched competitor table")]
    from inferchip.catalog.competitors import competitors_for_year, review_years

    if cfg.chips is not None:
        return [_entry("year", str(year), "another year's competitors", default, None,
                       "not computed: the chips were chosen with --chips")]
    from inferchip.review.parallel.pool import run_pieces

    out = []
    known = {c.id: c for c in res.chips}
    years = [y for y in review_years() if y != year]
    keyed = new_chip_pieces(res.chips, res.claim, res.models, base.fig.cases, cfg, claim.scale_out)
    new_ids = [k[3] for k, _ in keyed]
    predicted = dict(zip(new_ids, run_pieces([p for _, p in keyed], cfg.jobs, keys=[k for k, _ in keyed]),
                         strict=True))
    for y in years:
        ids = [i for i in competitors_for_year(y) if i != res.claim.id]
        rows = [r for r in res.rows if r["chip_id"] in ids or r["chip_id"] == res.claim.id]
        chips = []
        for i in ids:
            if i in known:
                chips.append(known[i])
                continue
            entry = chip_entry(i, cfg.domain_cap)
            chips.append(entry)
            rows.extend(copy.deepcopy(predicted[i]))  # each year its own rows, as when predicted per year
            on_progress(f"ledger: {i} (competitors of {y})", 1)
        chips.append(res.claim)
        alt_views = cost_views(chips, cfg.prices)
        pseudo = SimpleNamespace(chips=chips, rows=rows, models=res.models, claim=res.claim, config=res.config)
        alt = build_base(pseudo, res.claim, claim, alt_views, base.fig.cases)
        alt.corners, alt.ranges = base.corners, base.ranges
        new = [i for i in ids if i not in known]
        gone = [i for i in known if i not in ids and i != res.claim.id]
        note = "; ".join(x for x in (("adds " + ", ".join(new)) if new else "",
                                     ("drops " + ", ".join(gone)) if gone else "") if x) or "same chips"
        out.append(_entry("year", f"{year}: {len(known) - 1} competitors", f"{y}: {len(ids)} competitors",
                          default, verdicts(alt, claim, [v.name for v in alt_views], cfg), note))
    return out


def _rescaled(base: Base, fig: Figures) -> list[Any]:
    """The claimed chip's corners moved by the ratio of ``fig``'s central figures to the default's,
    case by case (the corner's relative response is kept; a case the default does not serve keeps its corner).
    A case the default serves and ``fig`` does not (one AI5 alone on a model its board serves; a sized chip on its
    node) is served at no corner either: the default deployment's corners would otherwise serve it, at that
    deployment's rates, in every sample beyond the midpoint towards them (``uncertainty.claim_at``)."""
    i = base.fig.claim
    with np.errstate(divide="ignore", invalid="ignore"):
        rt = fig.tput[i, :, 0] / base.fig.tput[i, :, 0]
        rb = fig.board_w[i, :, 0] / base.fig.board_w[i, :, 0]
    lost = np.isfinite(base.fig.tput[i, :, 0]) & ~np.isfinite(fig.tput[i, :, 0])
    rt, rb = np.where(np.isfinite(rt), rt, 1.0), np.where(np.isfinite(rb), rb, 1.0)
    rt = np.where(lost, np.nan, rt)
    return [replace(c, tput=c.tput * rt, board_w=c.board_w * rb) for c in base.corners]


def _claim_at_weights(claim_entry: Any, res: Any, cases: list[tuple[str, str]], cfg: ReviewConfig, so: ScaleOut,
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """The claimed chip's central cases at the review's weights instead of its deployed ones: tok/s and board
    power per chip ([K]), and, where the review sizes it per case, the chips of each case's deployment sized
    again at those weights, as ``so`` (the claim file's ``scale_out``) says ([K]; None: its board, unchanged)."""
    entry = replace(claim_entry, weights=cfg.weights)
    if not claim_entry.systems:
        return (*claim_cases(entry, entry.params, res.models, cases, cfg), None)
    from inferchip.review.cases import sized_cases

    got = sized_cases(entry, res.models, cases, cfg, so, cfg.weights)
    tput, board, chips = np.full(len(cases), np.nan), np.full(len(cases), np.nan), np.zeros(len(cases))
    for k, case in enumerate(cases):
        d = got[case]
        chips[k] = d.chips
        if d.prediction is not None:
            tput[k] = d.prediction.output_tokens_per_s_per_chip
            w = d.prediction.extra.get("power_w_per_chip")
            board[k] = float(w) if isinstance(w, (int, float)) else np.nan
    return tput, board, chips


def _with_claim(f: Figures, tput: np.ndarray, board: np.ndarray, chips: np.ndarray | None = None,
                host: HostSystem | None = None) -> Figures:
    """``f`` with the claimed chip's tok/s and board power per case, and (``chips``, [K]) its system per case, the
    accelerators sharing its ``host`` (``review.views.host_of``) following."""
    t, b = f.tput.copy(), f.board_w.copy()
    t[f.claim, :, 0], b[f.claim, :, 0] = tput, board
    if chips is None:
        return replace(f, tput=t, board_w=b)
    from inferchip.review.views import host_share

    if host is None:
        raise InternalError("_with_claim: a system per case needs the claimed chip's host")
    n_k = len(f.cases)
    system = np.array(f.system_chips, float).reshape(len(f.chips), -1) * np.ones((1, n_k))
    system[f.claim] = chips
    shared = f.host_chips.copy()
    shared[f.claim] = [host_share(float(n), host) for n in chips]
    return replace(f, tput=t, board_w=b, system_chips=system, host_chips=shared)


def new_chip_pieces(chips: list[Any], claim_entry: Any, models: list[Any], cases: list[tuple[str, str]],
                    cfg: ReviewConfig, so: ScaleOut) -> list[tuple[Any, Any]]:
    """The year choice's pieces: each chip of another year's competitor set that the review did not
    predict, its rows on the claim's ``cases`` (a layer-pipelined one sized as ``so``, the claim file's
    ``scale_out``, says; each piece with its key, ``review.parallel.pool.run_pieces``).
    None where the year choice predicts nothing (no year-matched table, or chips chosen with --chips)."""
    from functools import partial

    from inferchip.catalog.competitors import competitors_for_year, review_years
    from inferchip.review.cases import domain_rows
    from inferchip.review.inputs import chip_entry, review_year, service_level

    year = review_year(cfg)
    if year is None or cfg.chips is not None:
        return []
    known = {c.id for c in chips}
    by_id = {m.id: m for m in models}
    years = [y for y in review_years() if y != year]
    new_ids = list(dict.fromkeys(i for y in years for i in competitors_for_year(y)
                                 if i != claim_entry.id and i not in known))

    def new_chip(i: str, report: OnProgress) -> list[dict[str, Any]]:
        """A chip of another year's set that the review did not predict: its rows on the claim's cases."""
        entry = chip_entry(i, cfg.domain_cap)
        rows = []
        for mid, slo in cases:
            m = by_id[mid]
            rows.extend(domain_rows(entry, m, [service_level(slo, m.total_params, cfg)], cfg, so, entry.chip_arg(),
                                    None, cfg.weights)[0])
        return rows

    return [(("ledger new chip", claim_entry.id, tuple(cases), i), partial(new_chip, i)) for i in new_ids]
