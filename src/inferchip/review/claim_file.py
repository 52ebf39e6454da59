"""The claim a review judges, as data: its words, source and date, its scope, the parts it is
split into, and how the claimed chip is deployed (``review/claim.yaml``; ``--claim-file``).

Each part is one checkable statement with its figure of merit (:data:`PARTS`); a claim file
that names an unknown part is refused with the list of known ones. A part's verdict follows
its probability (:func:`verdict`): "holds" from :data:`HOLDS_FROM`, "does not hold" up to
:data:`FAILS_UP_TO`, "undecided" between.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from inferchip.errors import InferchipError, labelled, named_as

HOLDS_FROM = 0.75  # probability from which a part "holds"
FAILS_UP_TO = 0.25  # probability up to which a part "does not hold"
# the least max_total_params a claim file may state: a million parameters (no LLM of the suite or the catalogue is
# smaller; a bound typed in billions, 250 for 250B, is refused rather than read as 250 parameters)
MIN_CLAIM_PARAMS = 1e6
BY_FAR = 2.0  # "by far lowest cost silicon": the claimed chip's cost at most 1/2 of the next chip's
CLAIM_FILE = Path(__file__).with_name("claim.yaml")


class ClaimFileError(InferchipError):
    """A claim file that cannot be read, or names a part the review does not know."""


@dataclass(frozen=True)
class Part:
    """One part of the claim: what is compared (``metric``, ``unit``), which way is better, and
    how it is decided: ``suite`` (first over the suite of cases), ``cost`` (lowest modelled
    manufacturing cost by :data:`BY_FAR` among the chips that serve a case of the claim), ``rig``
    (lowest p99 frame latency on the in-car driving rig among the chips within its deadline:
    :mod:`inferchip.review.in_car`) or ``slot`` (named, not judged yet)."""

    id: str
    label: str
    metric: str
    unit: str
    higher_is_better: bool
    kind: str = "suite"
    slos: tuple[str, ...] = ("interactive", "batch")


PARTS: dict[str, Part] = {p.id: p for p in (
    Part("per_chip", "best inference chip, per chip", "output tokens/s per chip", "tok/s", True),
    Part("per_system", "best per system (the system it is deployed on: scale-up domain, board or sized deployment)",
         "output tokens/s per system", "tok/s", True),
    Part("equal_power", "best at equal power (wall power, host included)", "output tokens per joule at the wall",
         "tok/J", True),
    Part("equal_money", "best at equal money (total cost of ownership)", "$ per million output tokens", "$/Mtok",
         False),
    Part("lowest_cost_silicon", "by far the lowest-cost silicon", "modelled manufacturing cost per chip", "USD",
         False, kind="cost"),
    Part("performance_per_watt", "best performance per watt (chip board power)", "output tokens per joule (board)",
         "tok/J", True),
    Part("latency_interactive", "milliseconds matter: best at the interactive latency limits",
         "output tokens/s per chip within the TTFT and TPOT limits", "tok/s", True, slos=("interactive",)),
    Part("frame_deadlines", "milliseconds matter: frame deadlines (in-car vision rig)",
         "p99 frame latency on the driving rig, among the chips within its deadline and the car's power budget", "ms",
         False, kind="rig"),
)}


class Deployment(BaseModel):
    """How the claimed chip is deployed: its weight format and, optionally, another board size than
    the catalogue's scale-up domain. Its board link is the catalogue's; its host and system cost are
    the ``npu_board`` assumptions where ``catalog/competitors.yaml`` lists it as an NPU-board chip."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)  # strict: YAML `true` is no count
    # None: the review's --weights, as every other chip (a claim file without a deployment was deployed at the bundled
    # claim's fp4, half the weight bytes of the competitors' fp8, without a word)
    weights: str | None = None
    weights_reason: str = ""
    chips_per_board: Annotated[int, Field(ge=1, le=1024)] | None = None  # None: the catalogue's scale-up domain
    board_reason: str = ""


class ScaleOut(BaseModel):
    """How the review deploys a layer-pipelined, SRAM-only competitor (``ChipParams.layer_pipeline``: Groq, Cerebras):
    per case, on the smallest whole deployment units (``catalog/competitors.yaml`` deployment_units, else its scale-up
    domain) that serve the case, up to ``max_chips``; its prefill steps of at most ``chunk_tokens`` tokens (such a chip
    runs no serving engine whose token budget the catalogue holds). Reviewer choices, each in the ledger."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)  # strict: YAML `true` is no count
    max_chips: Annotated[int, Field(ge=1, le=1_000_000)] = 1024
    max_chips_reason: str = ""
    chunk_tokens: Annotated[int, Field(ge=1, le=1_048_576)] = 256
    chunk_reason: str = ""


class Claim(BaseModel):
    """The claim's words, source, date and scope, its parts, the claimed chip's deployment and the layer-pipelined
    competitors' (``scale_out``)."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)  # strict: YAML `true` is no count
    chip: str = Field(min_length=1)
    text: str = Field(min_length=1)
    source: str = Field(min_length=1)
    date: str = Field(min_length=1)
    note: str = ""
    max_total_params: Annotated[float, Field(gt=0, le=1e15, allow_inf_nan=False)] = 250e9
    parts: list[str] = Field(min_length=1)
    deployment: Deployment = Deployment()
    scale_out: ScaleOut = ScaleOut()

    def part_list(self) -> list[Part]:
        return [PARTS[p] for p in self.parts]


def load_claim(path: str | Path | None = None) -> Claim:
    """The claim file (default: the bundled ``claim.yaml``); unknown parts -> ClaimFileError."""
    if path is not None and not str(path).strip():
        raise ClaimFileError(f"{labelled('claim_file')}: empty path; give a claim YAML file (see "
                             "src/inferchip/review/claim.yaml)")
    p = Path(path) if path is not None else CLAIM_FILE
    try:
        return _checked(p)
    except ClaimFileError as exc:
        raise ClaimFileError(f"{labelled('claim_file')}: {exc}" if path is not None else str(exc)) from None


def _checked(p: Path) -> Claim:
    from inferchip.catalog.yaml_io import read_mapping, validate
    from inferchip.errors import SpecError
    from inferchip.spec.formats import check_format

    try:
        data = read_mapping(p)
        if type(data.get("date")).__name__ == "date":  # YAML reads an unquoted 2025-09-06 as a date: the same day
            data = {**data, "date": data["date"].isoformat()}
        claim = validate(Claim, data, str(p))
    except SpecError as exc:
        raise ClaimFileError(str(exc)) from None
    _check_date(claim.date, p)
    if claim.max_total_params < MIN_CLAIM_PARAMS:  # 250 for 250B: every model was "outside the claim's bound"
        raise ClaimFileError(f"{p}: max_total_params = {claim.max_total_params:g}: a count of parameters, not of "
                             f"billions; allowed: {MIN_CLAIM_PARAMS:,.0f} to 1e15 (250.0e9 for 250B)")
    unknown = [x for x in claim.parts if x not in PARTS]
    if unknown:
        raise ClaimFileError(f"{p}: parts: unknown part(s) {', '.join(repr(u) for u in unknown)}; "
                             f"allowed: {', '.join(PARTS)}")
    dup = sorted({x for x in claim.parts if claim.parts.count(x) > 1})
    if dup:
        raise ClaimFileError(f"{p}: parts: part(s) listed twice: {', '.join(dup)}")
    try:
        given = claim.deployment.weights
        weights = None if given is None else check_format(given, f"{p}: deployment.weights")
    except InferchipError as exc:
        raise ClaimFileError(str(exc)) from None
    from inferchip.catalog.chips import resolve_chip_id

    # a catalogue id and a format in any case, as the CLI takes them
    return claim.model_copy(update={"chip": resolve_chip_id(claim.chip),
                                    "deployment": claim.deployment.model_copy(update={"weights": weights})})


def _check_date(given: str, p: Path) -> None:
    """The day the claim was made: an ISO date (the report prints it as "posted ..."), not after today. Free text
    (``yesterday``) or a day to come (``2099-01-01``) is not a claim's date."""
    import datetime as dt
    import re

    today = dt.datetime.now(dt.UTC).date()
    day = None
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", given.strip()):
        try:
            day = dt.date.fromisoformat(given.strip())
        except ValueError:
            day = None
    if day is None or day > today:
        why = "a day after today" if day is not None else "not a date"
        raise ClaimFileError(f"{p}: date = {given!r}: {why}; allowed: the day the claim was made, YYYY-MM-DD, "
                             f"not after today ({today.isoformat()})")


def check_claim_chip(claim: Claim, claimed_id: str | None, where: str) -> None:
    """The claim file's ``chip`` is a catalogue chip or the reviewed claimed chip (``--claim``'s id): any other name
    was taken before, the report said "the claim names nope" and the file's deployment was silently not applied."""
    from inferchip.catalog.chips import chip_ids

    known = chip_ids()
    if claim.chip in known or claim.chip == claimed_id:
        return
    from inferchip.errors import closest

    near = closest(claim.chip, known)
    hint = f" (closest: {', '.join(near)})" if near else ""
    own = (f"the claimed chip's id '{claimed_id}' ({named_as('claim', claimed_id)}) or " if claimed_id else
           f"the id of a chip YAML given with {named_as('claim', 'FILE')}, or ")
    raise ClaimFileError(f"{where}: chip = {claim.chip!r}: not a chip of this review{hint}; allowed: {own}a catalogue "
                         "chip id (`inferchip chips`)")


def pct(probability: float | None) -> str:
    """A probability in words, one format for every place it is shown: "not judged", whole percent, and
    "<1%" / ">99%" where rounding would show a possible outcome as impossible or certain."""
    if probability is None:
        return "not judged"
    if 0.0 < probability < 0.005:
        return "<1%"
    if 0.995 <= probability < 1.0:
        return ">99%"
    return f"{probability:.0%}"


def verdict(probability: float | None) -> str:
    """"holds" (p >= HOLDS_FROM), "does not hold" (p <= FAILS_UP_TO), else "undecided" (also when not judged)."""
    if probability is None:
        return "undecided"
    if probability >= HOLDS_FROM:
        return "holds"
    if probability <= FAILS_UP_TO:
        return "does not hold"
    return "undecided"


RULE_TEXT = (f"holds when its probability is at least {HOLDS_FROM:.0%}, does not hold at {FAILS_UP_TO:.0%} or less, "
             "undecided between")
