"""A layer-pipelined competitor's system, sized per case: the smallest deployment that serves it.

A chip whose family pipelines a model's layers over as many chips as it needs, every weight resident in on-chip
SRAM (``ChipParams.layer_pipeline``: Groq's LPU, Cerebras' WSE; ``catalog/families.yaml`` with its sources), holds no
suite model in one scale-up domain: a GroqNode's 8 x 230 MB is 1.8 GB. Its vendors deploy it on as many chips as the
model needs (Groq: Llama-2 70B on "over 500 GroqChip" processors, Arsovski, SC23; Cerebras: Llama-3.1-70B on four
CS-3s). A review judging it on one node serves nothing with it and says nothing about it, so such a chip, the
claimed one included (``--claim groq-lpu-v1``, or a claim file naming it), is judged, case by case, on

    the smallest count n = k x unit (k = 1, 2, ...; n <= ``scale_out.max_chips``) at which ``predict`` serves the
    case (it fits and meets the case's latency limits), with prefill steps of ``scale_out.chunk_tokens``,

``unit`` being the chips the vendor installs it in (``catalog/competitors.yaml`` deployment_units: a GroqNode of 8,
one CS-3), else its scale-up domain. Below ``ceil(W / B)`` chips (W the model's weight bytes, B one chip's memory
budget) no layout can hold the weights, since each weight is resident on some chip: the search starts there. The
bound and the chunk are reviewer choices in ``review/claim.yaml`` (``scale_out``), each in the ledger, which flips
the chip back to its scale-up domain as every other chip is judged.

The claimed chip's corners, boundary map and one-spec sensitivity re-predict each case on its central deployment
(:func:`claim_count`), as a board-deployed claimed chip keeps its board: they vary the chip, not the system (a case no
deployment serves is tried on the last count the search tried, the bound). The ledger's precision alternative, which
changes the weights and so the memory each chip needs, sizes it again (``review.cases.sized_cases``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from inferchip.catalog.chips import spoken_name
from inferchip.performance.predict import Prediction
from inferchip.review.claim_file import ScaleOut
from inferchip.review.inputs import ChipEntry, ModelEntry, ReviewConfig, ServiceLevel


@dataclass(frozen=True)
class Sized:
    """One case's deployment: the chips (the count predicted at; the last tried where none serves), the prediction
    (None where none serves), its status and reason as :func:`inferchip.review.cases.evaluate` gives them, and
    the basis in words."""

    chips: int
    prediction: Prediction | None
    status: str
    reason: str
    basis: str


def default_basis(chip: ChipEntry, setting: str, count: int) -> str:
    """The system of a row in words, where no sizing gave it: one chip, the claimed chip's board, or the scale-up
    domain (capped as ``review.inputs.domain_chips`` says)."""
    if setting == "single":
        return "one chip"
    if chip.deployed:
        return f"a board of {count} (review/claim.yaml deployment)"
    whose = "the chip file's interconnect." if chip.own_file else "catalogue "
    return f"its scale-up domain: {count} chips ({whose}max_scaleup_domain {chip.params.max_scaleup_domain:,})"


def own_system_notes(chips: list[ChipEntry], cfg: ReviewConfig) -> list[str]:
    """One line per user's own chip file (``ChipEntry.own_file``) judged on its domain: the system it is judged on,
    by the rule every chip not sized per case is judged by (its scale-up domain, :func:`inputs.domain_chips`), with
    the catalogue chips' domains beside it, and the field that sets it."""
    from inferchip.review.inputs import DOMAIN_CAP_CHIPS, LARGE_DOMAIN_CHIPS

    theirs = sorted({c.domain for c in chips if not c.own_file and not is_sized(c, cfg)})
    rest = (f"as every chip not sized per case is judged on its own (the catalogue chips here on "
            f"{theirs[0]:,}{f' to {theirs[-1]:,}' if len(theirs) > 1 else ''} chips; a domain above "
            f"{DOMAIN_CAP_CHIPS} at {LARGE_DOMAIN_CHIPS})" if theirs else
            f"as every chip not sized per case is judged on its own (above {DOMAIN_CAP_CHIPS} at {LARGE_DOMAIN_CHIPS})")
    return [f"{spoken_name(c.name)} (a chip file, not in the catalogue) is judged on its scale-up domain, "
            f"{c.domain:,} chip{'s' if c.domain != 1 else ''} (the file's interconnect.max_scaleup_domain, "
            f"{c.params.max_scaleup_domain:,}), {rest}: its per-system and deployment-silicon figures count all "
            f"{c.domain:,} (a smaller system it is sold in: state its size in that field)."
            for c in chips if c.own_file and not c.deployed and not is_sized(c, cfg)]


def is_sized(chip: ChipEntry, cfg: ReviewConfig) -> bool:
    """Whether the review sizes this chip's system per case: a layer-pipelined chip, the claimed one included,
    unless the review judges every chip on its scale-up domain (``cfg.scale_out`` False: the ledger's alternative)."""
    return bool(cfg.scale_out and chip.params.layer_pipeline)


def unit_of(chip: ChipEntry) -> tuple[int, str]:
    """(chips, source) of the unit the chip is deployed in: ``catalog/competitors.yaml`` deployment_units, else
    its scale-up domain as the review evaluates it."""
    from inferchip.catalog.competitors import deployment_unit

    u = deployment_unit(chip.id)
    if u is not None:
        return u.chips, u.source
    return chip.domain, f"its scale-up domain as the review evaluates it ({chip.domain} chips)"


def fewest_chips(weights_bytes: float, budget_bytes: float) -> int:
    """Chips below which no layout holds the weights: ``ceil(weights / budget)`` (every weight resident on one chip
    of the system, each chip holding at most its budget, which must be above 0); 0 weights need 1 chip."""
    if not budget_bytes > 0:
        raise ValueError(f"fewest_chips: a chip's memory budget must be above 0 bytes, got {budget_bytes!r}")
    return max(1, math.ceil(weights_bytes / budget_bytes))


Evaluate = Callable[[int, ServiceLevel, int | None], tuple[Prediction | None, str, str]]


def deployments(chip: ChipEntry, model: ModelEntry, slos: list[ServiceLevel], cfg: ReviewConfig, so: ScaleOut,
                weights: str, evaluate: Evaluate) -> dict[str, Sized]:
    """The review's deployment of each service level of ``model`` on ``chip``, by level name: the one rule
    ``review.cases.domain_rows`` and ``explore --silicon deployment`` (``review.cases.review_deployments``) read.
    A sized chip (:func:`is_sized`) on the smallest deployment that serves the case (:func:`size_model`); any other
    on its domain (``chip.domain``: its scale-up domain up to the review's cap, the claimed chip's board), predicted
    at the engines' prefill chunk (``evaluate(count, level, None)``)."""
    if is_sized(chip, cfg):
        return size_model(chip, model, slos, so, weights, evaluate)
    basis = default_basis(chip, "domain", chip.domain)
    return {s.name: Sized(chip.domain, *evaluate(chip.domain, s, None), basis) for s in slos}


def size_model(chip: ChipEntry, model: ModelEntry, slos: list[ServiceLevel], so: ScaleOut, weights: str,
               evaluate: Evaluate) -> dict[str, Sized]:
    """Each service level's deployment of ``model`` on ``chip`` (see the module docstring), by service level name;
    ``so``: the claim file's ``scale_out`` (``ReviewInputs.claim_doc``).

    ``evaluate(count, level, chunk_tokens)``: the case predicted on ``count`` chips, as
    :func:`inferchip.review.cases.evaluate` answers it (prediction, status, reason). Counts rise from the weights'
    lower bound in whole units; a count at which the model does not fit in memory is tried once for every level
    (memory does not depend on the latency limits); the first count that serves a level is its deployment."""
    from inferchip.performance.setting import resolve_setting

    unit, _ = unit_of(chip)
    one = resolve_setting(chip.params, model.spec, count=1, tp=1, pp=1, ep=1, weights=weights)
    mm = one.mapped(one.layout)  # one replica on one chip: all of the weights, and one chip's budget
    need = fewest_chips(mm.weights_bytes, mm.budget_bytes)
    k0, k_max = max(1, math.ceil(need / unit)), so.max_chips // unit
    basis = (f"sized: the smallest multiple of {unit} chips that serves the case (from {unit * k0:,}: the weights, "
             f"{mm.weights_bytes / 1e9:,.1f} GB, over {mm.budget_bytes / 1e6:,.1f} MB a chip), up to "
             f"{so.max_chips:,} (review/claim.yaml scale_out); prefill steps of {so.chunk_tokens:,} tokens")
    if k0 > k_max:
        why = (f"its weights alone need {need:,} chips of {mm.budget_bytes / 1e6:,.1f} MB usable, above the bound of "
               f"{so.max_chips:,} chips (review/claim.yaml scale_out.max_chips)")
        if need <= so.max_chips:  # the bound lies between the weights' count and the first whole unit above it
            why = (f"its weights alone need {need:,} chips of {mm.budget_bytes / 1e6:,.1f} MB usable; the first whole "
                   f"unit that holds them, {unit * k0:,} chips ({k0:,} x {unit:,}), is above the bound of "
                   f"{so.max_chips:,} chips (review/claim.yaml scale_out.max_chips)")
        return {s.name: Sized(so.max_chips, None, "does not fit", why, basis) for s in slos}
    out: dict[str, Sized] = {}
    last: dict[str, tuple[int, str, str]] = {}
    for k in range(k0, k_max + 1):
        n = k * unit
        for s in slos:
            if s.name in out:
                continue
            p, status, reason = evaluate(n, s, so.chunk_tokens)
            if p is not None:
                out[s.name] = Sized(n, p, status, reason, basis)
                continue
            last[s.name] = (n, status, reason)
            if status == "does not fit":  # memory: the same at this count for every level still open
                for t in slos:
                    if t.name not in out:
                        last[t.name] = (n, status, reason)
                break
        if len(out) == len(slos):
            break
    for s in slos:
        if s.name not in out:
            n, status, reason = last[s.name]
            first = reason.splitlines()[0] if reason else ""
            out[s.name] = Sized(n, None, status, f"no multiple of {unit} chips from {unit * k0:,} to {unit * k_max:,} "
                                f"serves it; at {n:,}: {first}", basis)
    return out


def sized_rows(chip_id: str, rows: list[dict[str, Any]]) -> list[dict[str, Any]] | None:
    """The ``domain`` rows of a chip the review sized per case (the chip has ``scaleup`` rows: its node's result
    kept beside the sized one, review.cases), the sized deployments; None for a chip judged on its domain."""
    mine = [r for r in rows if r["chip_id"] == chip_id]
    if not any(r["setting"] == "scaleup" for r in mine):
        return None
    return [r for r in mine if r["setting"] == "domain"]


def record_systems(chip: ChipEntry, rows: list[dict[str, Any]], so: ScaleOut) -> None:
    """Keep on ``chip`` each case's sized deployment and prefill chunk (``so.chunk_tokens``, the claim file's
    ``scale_out``), read from its ``domain`` rows, where the review sized it (it has ``scaleup`` rows); else none
    (its re-predictions run on its domain)."""
    mine = sized_rows(chip.id, rows)
    if mine is None:
        chip.systems = {}
        return
    chunk = so.chunk_tokens
    chip.systems = {(r["model_id"], r["slo"]): (int(r["deployment_chips"]), chunk) for r in mine}


def claim_count(chip: ChipEntry, case: tuple[str, str]) -> tuple[int, int | None]:
    """(chips, prefill chunk tokens) a re-prediction of ``case`` on ``chip`` runs at: its sized deployment where the
    review sized it (:func:`record_systems`), else its domain with the engines' chunk (None)."""
    return chip.systems.get(case, (chip.domain, None))


def system_text(chip_id: str, domain: int, rows: list[dict[str, Any]]) -> str:
    """The chips of the system a chip is judged on, in short: its domain, or, where sized per case (it has
    ``scaleup`` rows), the counts of the cases it serves ("sized: 96"; "sized: none served")."""
    mine = sized_rows(chip_id, rows)
    if mine is None:
        return f"{domain:,}"
    counts = sorted({int(r["deployment_chips"]) for r in mine if r["status"] == "ok"})
    if not counts:
        return "sized: none served"
    return "sized: " + (f"{counts[0]:,}" if len(counts) == 1 else f"{counts[0]:,}-{counts[-1]:,}")


def deployment_notes(chips: list[ChipEntry], rows: list[dict[str, Any]], so: ScaleOut) -> list[str]:
    """One line per chip sized per case: its unit, the bound and chunk (``so``: the claim file's ``scale_out``),
    what each model was served on, and the vendor's stated deployment beside it (the report's and the CLI's notes)."""
    from inferchip.catalog.competitors import deployment_unit

    out = []
    for c in chips:
        mine = sized_rows(c.id, rows)
        if mine is None:
            continue
        unit, _ = unit_of(c)
        u = deployment_unit(c.id)
        whence = ("(catalog/competitors.yaml deployment_units)" if u is not None else
                  "its scale-up domain (catalog/competitors.yaml deployment_units names no unit for it)")
        served: dict[str, dict[str, int]] = {}
        for r in mine:
            if r["status"] == "ok":
                served.setdefault(r["model_id"], {})[r["slo"]] = int(r["deployment_chips"])
        none = sorted({r["model_id"] for r in mine if r["model_id"] not in served})
        said = "; ".join(f"{m} on {_counts(v)}" for m, v in served.items()) or "no case"
        stated = (f" Its vendor states {u.stated_model} on {u.stated_chips:,} chips ({u.stated_source})."
                  if u is not None and u.stated_chips else "")
        out.append(f"{spoken_name(c.name)} is layer-pipelined (every weight in on-chip SRAM): it is judged on the "
                   "smallest deployment "
                   f"that serves each case, in whole units of {unit:,} chip{'s' if unit != 1 else ''}"
                   f"{' ' if u is not None else ', '}{whence}, up to {so.max_chips:,} chips, with prefill steps of "
                   f"{so.chunk_tokens:,} tokens "
                   f"(review/claim.yaml scale_out): {said}"
                   + (f"; no deployment up to the bound serves {', '.join(none)}" if none else "") + "."
                   + stated + " The ledger judges it on its scale-up domain"
                   + (" and on that stated deployment" if stated else "") + " instead.")
    return out


def _counts(by_level: dict[str, int]) -> str:
    """"1 chip", "96 chips", or "96 (interactive), 128 (batch) chips" where the levels differ."""
    if len(set(by_level.values())) == 1:
        n = next(iter(by_level.values()))
        return f"{n:,} chip{'s' if n != 1 else ''}"
    return ", ".join(f"{n:,} ({s})" for s, n in by_level.items()) + " chips"
