"""What a design review evaluates: the chips, the models, the service levels and the settings.

Service levels (METHODS.md 4.1, MLPerf Inference latency limits, TTFT / TPOT):

* ``interactive``: the MLPerf *Interactive* limits of the benchmark model of the same size
  class (by total parameters): up to 20B like Llama-3.1-8B (500 ms / 30 ms), up to 150B like
  Llama-2-70B (450 ms / 40 ms), above like Llama-3.1-405B (4500 ms / 80 ms). MLPerf limits
  are 99th percentiles; the model here gives steady-state means, so the check is lenient.
  ``max_ttft_s`` / ``max_tpot_s`` (``review --max-ttft-ms`` / ``--max-tpot-ms``) replace them for every model.
* ``batch``: maximum throughput, no latency limit (MLPerf Offline).

The scale-up domain is evaluated at its size up to :data:`DOMAIN_CAP_CHIPS` (72, an NVL72
rack); larger domains (TPU pods) at :data:`LARGE_DOMAIN_CHIPS` (64): no suite model has
more than 64 attention heads, so tensor parallelism cannot use more, and further chips
only add data-parallel replicas, which leave per-chip figures unchanged. A layer-pipelined,
SRAM-only competitor (Groq, Cerebras) is judged instead on the smallest deployment that
serves each case (:mod:`inferchip.review.deploy.sizing`; ``claim.yaml`` ``scale_out``).

:func:`resolve` turns a :class:`ReviewConfig` into the review's inputs, resolved once
(:class:`ReviewInputs`: chip and model entries, the claim file read and checked), and refuses
unknown ids, malformed files and impossible settings before any work. The claim file is read
there and nowhere else: what the review needs of it (its parts, the claimed chip's deployment,
``scale_out``) is passed down from the record.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from inferchip.errors import InvalidSettingError, UnknownIdError, labelled, named, named_as, positive
from inferchip.spec.chip import ChipParams
from inferchip.spec.model import ModelSpec
from inferchip.workload.limits import MAX_SEED

if TYPE_CHECKING:
    from inferchip.review.claim_file import Claim

DEFAULT_CHIPS: tuple[str, ...] = (
    "nvidia-h100-sxm-80gb", "nvidia-h200-sxm-141gb", "nvidia-b200-180gb", "nvidia-gb200-186gb",
    "amd-mi300x", "amd-mi325x", "amd-mi355x", "intel-gaudi3", "google-tpu-v6e-trillium",
    "google-tpu7x-ironwood", "aws-trainium2", "nvidia-l40s", "groq-lpu-v1",
)
DEFAULT_MODELS: tuple[str, ...] = (
    "meta-llama/Llama-3.1-8B-Instruct",  # small dense
    "Qwen/Qwen3-32B",  # mid dense
    "meta-llama/Llama-3.1-70B-Instruct",  # large dense
    "mistralai/Mixtral-8x7B-Instruct-v0.1",  # MoE, 47B total / 13B active
    "openai/gpt-oss-120b",  # MoE, 117B / 5B active
    "Qwen/Qwen3-235B-A22B",  # MoE, 235B / 22B active
)
DEFAULT_CLAIM = "tesla-ai5"  # the bundled review/claim.yaml's chip
# ReviewConfig.claim's default: the claim file's own ``chip`` (the bundled file's is DEFAULT_CLAIM); a claim file naming
# another chip is judged on that chip unless --claim names one
CLAIM_FROM_FILE = "<the claim file's chip>"
CLAIM_MAX_PARAMS = 250e9  # "models below ~250B parameters" (the claim, chips.csv notes)
DOMAIN_CAP_CHIPS = 72
LARGE_DOMAIN_CHIPS = 64


def domain_chips(max_scaleup_domain: int, cap: int = DOMAIN_CAP_CHIPS) -> int:
    """Chips of the scale-up domain a review evaluates (see the module docstring)."""
    d = max(1, int(max_scaleup_domain))
    return d if d <= cap else min(LARGE_DOMAIN_CHIPS, cap)


SERVICE_LEVELS = ("interactive", "batch")


@dataclass(frozen=True)
class ServiceLevel:
    name: str
    max_ttft_s: float | None
    max_tpot_s: float | None
    basis: str


# (largest total parameters of the class, class name, TTFT limit s, TPOT limit s, MLPerf anchor)
SIZE_CLASSES: tuple[tuple[float, str, float, float, str], ...] = (
    (20e9, "small (<= 20B)", 0.500, 0.030, "MLPerf Interactive, Llama-3.1-8B: TTFT 500 ms, TPOT 30 ms"),
    (150e9, "medium (20-150B)", 0.450, 0.040, "MLPerf Interactive, Llama-2-70B: TTFT 450 ms, TPOT 40 ms"),
    (float("inf"), "large (> 150B)", 4.500, 0.080, "MLPerf Interactive, Llama-3.1-405B: TTFT 4500 ms, TPOT 80 ms"),
)


def size_class(total_params: float) -> tuple[str, float, float, str]:
    return next(c[1:] for c in SIZE_CLASSES if total_params <= c[0])  # the last class is unbounded

def service_level(name: str, total_params: float, cfg: ReviewConfig | None = None) -> ServiceLevel:
    """The latency limits of a service level for a model of ``total_params``; ``cfg``'s, where given, win."""
    if name == "batch":
        return ServiceLevel("batch", None, None, "maximum throughput, no latency limit (MLPerf Offline)")
    if name == "interactive":
        _, ttft, tpot, basis = size_class(total_params)
        given = [] if cfg is None else [(w, v) for w, v in (("TTFT", cfg.max_ttft_s), ("TPOT", cfg.max_tpot_s)) if v]
        if cfg is not None and given:  # a limit is a positive number of seconds (resolve), so `or` keeps a given one
            kept = "" if len(given) == 2 else f"; TPOT {tpot * 1e3:g}" if cfg.max_ttft_s else f"; TTFT {ttft * 1e3:g}"
            ttft, tpot, basis = cfg.max_ttft_s or ttft, cfg.max_tpot_s or tpot, "given for every model: " + ", ".join(
                f"{w} {v * 1e3:g} ms" for w, v in given) + (kept and f"{kept} ms by its size ({basis.split(':')[0]})")
        return ServiceLevel("interactive", ttft, tpot, basis)
    raise InvalidSettingError(f"{labelled('slos')}: unknown service level '{name}'; allowed: interactive, batch, both")


@dataclass
class ReviewConfig:
    """What to review. Chips and models are catalogue ids, file paths, or objects (tests)."""

    chips: Sequence[str | ChipParams] | None = None  # None: DEFAULT_CHIPS
    claim: str | ChipParams | None = CLAIM_FROM_FILE  # None: no claimed chip
    models: Sequence[str | ModelSpec] | None = None  # None: DEFAULT_MODELS
    slos: tuple[str, ...] = SERVICE_LEVELS
    metric: str = "tco"
    weights: str = "fp8"
    input_tokens: int = 1024
    output_tokens: int = 1024
    domain_cap: int = DOMAIN_CAP_CHIPS
    sensitivity: bool = True
    jobs: int = 0  # worker processes for independent pieces (0: every core there is; review.parallel)
    year: int | None = None  # None: the competitor table's default year (catalog.competitors)
    claim_file: str | None = None  # None: the bundled review/claim.yaml
    samples: int = 2000  # Monte Carlo samples of the claim's parts
    seed: int = 2027
    judge: bool = True  # judge the claim part by part (review.judge)
    deploy_claim: bool = True  # model the claimed chip as its claim file deploys it
    scale_out: bool = True  # size a layer-pipelined competitor's system per case (review.deploy; claim.yaml scale_out)
    prices: dict[str, Any] | None = None  # chip id -> price quote (tests); None: catalog.prices
    max_ttft_s: float | None = None  # the interactive level's TTFT limit for every model, s (None: the size class's)
    max_tpot_s: float | None = None  # the interactive level's TPOT limit for every model, s (None: the size class's)


@dataclass
class ChipEntry:
    """A chip of the review: how to ask the catalogue for it, and what the report shows."""

    ref: str | ChipParams
    id: str
    name: str
    vendor: str
    params: ChipParams
    domain: int
    spec: Any = None  # the ChipSpec (price, node, memory type for the energy and money models)
    estimate: bool = False
    estimated_fields: dict[str, dict[str, Any]] = field(default_factory=dict)
    is_claim: bool = False
    weights: str | None = None  # the chip's own weight format (the claimed chip as deployed), else the review's
    deployed: bool = False  # params carry a deployment (board size, link) the catalogue entry lacks
    own_file: bool = False  # a chip YAML whose id is no catalogue chip's: a user's design (review.views)
    # the host a chip given as bare parameters (no ChipSpec) sits in (cost.energy.host_system), and whence it came:
    # its catalogue entry's ``system`` where its id is a catalogue chip, else the server's, assumed and said so
    system: str = "server"
    system_basis: str | None = None  # None: read from the chip YAML (spec)
    # per case (model id, level): (chips, prefill chunk tokens) of the deployment the review sized for it
    # (review.deploy.sizing.record_systems); empty: the chip is judged on its domain
    systems: dict[tuple[str, str], tuple[int, int]] = field(default_factory=dict)

    def chip_arg(self) -> str | ChipParams:
        """What predict() takes: the id or path (so energy and price are looked up), or the params."""
        return self.params if self.deployed or not isinstance(self.ref, str) else self.ref

    def weights_in(self, cfg: ReviewConfig) -> str:
        return self.weights or cfg.weights

    def params_at(self, level: str = "central") -> ChipParams:
        """The chip's parameters with every estimate at ``level``, deployment applied."""
        from dataclasses import replace

        if level == "central" or not isinstance(self.ref, str):
            return self.params
        from inferchip.catalog.chips import get_chip_params

        p = get_chip_params(self.ref, level)  # type: ignore[arg-type]
        if self.deployed:
            p = replace(p, max_scaleup_domain=self.params.max_scaleup_domain)
        return p


@dataclass
class ModelEntry:
    ref: str | ModelSpec
    id: str
    spec: ModelSpec
    total_params: float
    active_params: float
    size_class: str


OnProgress = Callable[[str, int], None]  # (what is being done, units just finished)


def no_progress(what: str, n: int) -> None:
    """The default :data:`OnProgress`: reports nothing."""


Case = tuple[str, str]  # (model id, service level)


def _ranges(spec: Any) -> dict[str, dict[str, Any]]:
    """Estimated (Range) figures of a chip spec by dotted path, with low/central/high and derivation."""
    return {k: {"low": r.low, "central": r.central, "high": r.high, "derivation": r.derivation}
            for k, r in spec.estimated_fields().items()}


def is_estimate(spec: Any) -> bool:
    """Whether a chip's own figures are estimated: announced or estimated as a whole (``estimate: true``), or a
    figure other than its price given as a low/central/high range. A price's range is the spread of the street
    quotes every priced chip carries (the claim's Monte Carlo draws it as a price range), not an estimate of the
    chip, so ``inferchip chips`` and the review mark the same chips (an H100 is not an estimate)."""
    return bool(spec.estimate or any(not k.startswith("price.") for k in spec.estimated_fields()))


def _distinct_names(chips: list[ChipEntry]) -> None:
    """Chips a sentence would name alike (a chip file copied from a catalogue chip keeps its ``name``: "H100 SXM5
    80GB" twice) are named by their ids, which differ, so the report never sets a chip against its own name."""
    from inferchip.catalog.chips import spoken_name

    said = [spoken_name(c.name) for c in chips]
    for c, s in zip(chips, said, strict=True):
        if said.count(s) > 1:
            c.name = c.id


def chip_entry(ref: str | ChipParams, domain_cap: int, is_claim: bool = False) -> ChipEntry:
    """Resolve a chip id, YAML path or ChipParams. Unknown ids raise UnknownIdError (closest
    ids named); malformed files raise SpecError (field named) -- both before any work."""
    if isinstance(ref, ChipParams):
        system, basis, name = params_system(ref.id)
        return ChipEntry(ref, ref.id, name, "-", ref, domain_chips(ref.max_scaleup_domain, domain_cap),
                         is_claim=is_claim, system=system, system_basis=basis)
    from inferchip.catalog.chips import chip_ids, get_chip_params, load_chip

    try:
        spec = load_chip(ref)
    except UnknownIdError as err:  # two options name chips here: say which one named this one
        err.args = (f"{labelled('claim' if is_claim else 'chips')}: {err}",)
        raise
    params = get_chip_params(ref)
    return ChipEntry(ref, spec.id, spec.name, spec.vendor, params, domain_chips(params.max_scaleup_domain, domain_cap),
                     spec=spec, estimate=is_estimate(spec), estimated_fields=_ranges(spec), is_claim=is_claim,
                     own_file=spec.id not in chip_ids())


def namer(chips: Iterable[ChipEntry | None]) -> Callable[[str], str]:
    """id -> the name a sentence a person reads gives a chip (:func:`inferchip.catalog.chips.spoken_name`): the
    review's entries', else the catalogue's (a chip the review did not predict, e.g. an in-car rival), else the id;
    ids stay in the id columns."""
    from inferchip.catalog.chips import chip_namer

    return chip_namer({c.id: str(c.name) for c in chips if c is not None})


def params_system(chip_id: str) -> tuple[str, str, str]:
    """The host system, its basis in words and the name of a chip given as bare parameters (``ChipParams``, no chip
    YAML): its catalogue entry's ``system`` and name where ``chip_id`` is a catalogue chip, else a GPU server's host,
    assumed (the review's notes say so)."""
    from inferchip.catalog.chips import chip_ids, load_chip

    if chip_id in chip_ids():
        spec = load_chip(chip_id)
        return spec.system, f"its catalogue entry's system ({spec.system}, catalog/chips/{chip_id}.yaml)", spec.name
    return "server", ("assumed: a GPU server's host (the parameters name no system and the id is not a catalogue "
                      "chip; give a chip YAML with system: embedded_soc for a module)"), chip_id


def model_entry(ref: str | ModelSpec) -> ModelEntry:
    from inferchip.catalog.models import load_model
    from inferchip.workload.params import active_params_per_token, total_params

    spec = ref if isinstance(ref, ModelSpec) else load_model(ref)
    total = float(total_params(spec))
    return ModelEntry(ref, spec.id, spec, total, float(active_params_per_token(spec)), size_class(total)[0])


def deploy(entry: ChipEntry, cfg: ReviewConfig, claim: Claim) -> ChipEntry:
    """The claimed chip as its claim file (``claim``) deploys it (weights; a board size other than the
    catalogue's scale-up domain, if given), when the claim file names this chip; else unchanged."""
    from dataclasses import replace

    if not cfg.deploy_claim or claim.chip != entry.id:
        return entry
    d = claim.deployment
    if d.chips_per_board is not None:
        entry.params = replace(entry.params, max_scaleup_domain=d.chips_per_board)
    entry.domain = domain_chips(entry.params.max_scaleup_domain, cfg.domain_cap)
    entry.weights, entry.deployed = d.weights, True
    return entry


def default_chips(year: int | None) -> tuple[str, ...]:
    """The competitors of the review's year (catalog.competitors); unknown year -> InvalidSettingError."""
    try:
        from inferchip.catalog import competitors as comp
    except ImportError:  # the year-matched table is not in this catalogue: the fixed default set
        if year is not None:
            raise InvalidSettingError(f"{named_as('year', year)}: this catalogue has no year-matched competitor table; "
                                      f"leave {named('year')} out for the default set") from None
        return DEFAULT_CHIPS
    y = comp.DEFAULT_REVIEW_YEAR if year is None else year
    try:
        return tuple(comp.competitors_for_year(y))
    except InvalidSettingError:
        raise
    except (KeyError, ValueError, LookupError) as exc:
        raise InvalidSettingError(f"{named_as('year', y)}: no competitor set for that year ({exc})") from None


def review_year(cfg: ReviewConfig) -> int | None:
    """The year the review's competitors are matched to (None: no year-matched table)."""
    if cfg.year is not None:
        return cfg.year
    try:
        from inferchip.catalog.competitors import DEFAULT_REVIEW_YEAR
    except ImportError:
        return None
    return int(DEFAULT_REVIEW_YEAR)


@dataclass(frozen=True)
class ReviewInputs:
    """The review's inputs, resolved once by :func:`resolve`: the settings asked for, the chips (the claimed chip
    last unless already listed), the models, the claimed chip's entry (None: no claimed chip) and the claim file,
    read and checked (``claim_doc``; the bundled ``review/claim.yaml`` where ``config.claim_file`` is None).
    Every stage of the review takes the claim from here, never from the file again."""

    config: ReviewConfig
    chips: list[ChipEntry]
    models: list[ModelEntry]
    claim: ChipEntry | None
    claim_doc: Claim


def resolve(cfg: ReviewConfig) -> ReviewInputs:
    """The review's inputs (:class:`ReviewInputs`); validates every id, setting and the claim file, before any
    work. The only place a review reads its claim file."""
    from inferchip.review.claim_file import CLAIM_FILE, check_claim_chip, load_claim
    from inferchip.review.ranking import METRICS

    claim_doc = load_claim(cfg.claim_file)  # a bad claim file fails before any work
    if cfg.samples < 1 or cfg.samples > 1_000_000:
        raise InvalidSettingError(f"{named_as('samples', cfg.samples)}: allowed 1 to 1,000,000 Monte Carlo samples")
    if not 0 <= cfg.seed <= MAX_SEED:
        raise InvalidSettingError(f"{named_as('seed', cfg.seed)}: allowed 0 to {MAX_SEED} (a non-negative integer)")
    if cfg.metric not in METRICS:
        raise InvalidSettingError(f"{labelled('metric')}: unknown figure '{cfg.metric}'; allowed: {', '.join(METRICS)}")
    for name in cfg.slos:
        service_level(name, 0.0)
    for key, value in (("max_ttft_s", cfg.max_ttft_s), ("max_tpot_s", cfg.max_tpot_s)):
        positive(key, value)
        if value is not None and "interactive" not in cfg.slos:  # it would limit nothing
            raise InvalidSettingError(f"{named_as(key, value)} limits the interactive service level, which "
                                      f"{named_as('slos', ','.join(cfg.slos))} does not run; allowed: interactive")
    if not cfg.slos:
        raise InvalidSettingError(f"{labelled('slos')}: at least one service level is needed")
    if cfg.year is not None and cfg.chips is not None:
        default_chips(cfg.year)  # an unknown year is named as such first
        raise InvalidSettingError(f"{named_as('year', cfg.year)} picks the competitors of that year, but "
                                  f"{named('chips')} names the chips: give one of the two")
    chips = [chip_entry(c, cfg.domain_cap) for c in (cfg.chips if cfg.chips is not None else default_chips(cfg.year))]
    claim = None
    claim_ref = claim_doc.chip if cfg.claim == CLAIM_FROM_FILE else cfg.claim
    if cfg.claim == CLAIM_FROM_FILE:  # the file's chip is the claimed one: a name of no chip is the file's error
        check_claim_chip(claim_doc, None, f"{labelled('claim_file')}: {cfg.claim_file}" if cfg.claim_file is not None
                         else str(CLAIM_FILE))
    if claim_ref is not None:
        claim = chip_entry(claim_ref, cfg.domain_cap, is_claim=True)
        same = [c for c in chips if c.id == claim.id]
        # a chip file under a reviewed catalogue chip's id, with figures of its own
        if same and isinstance(claim_ref, str) and same[0].spec is not None and same[0].spec != claim.spec:
            raise InvalidSettingError(
                f"{named_as('claim', claim_ref)}: id = {claim.id!r}: the catalogue chip of that id is reviewed too "
                f"({named('chips')} or the year's competitors) and the file's figures differ from it; the results "
                "keep each chip by its id, so one would silently replace the other; allowed: an id of the file's own, "
                f"none of {', '.join(c.id for c in chips)}")
        if same:
            same[0].is_claim = True
            claim = same[0]
        else:
            chips.append(claim)
        deploy(claim, cfg, claim_doc)
    where = f"{labelled('claim_file')}: {cfg.claim_file}" if cfg.claim_file is not None else str(CLAIM_FILE)
    check_claim_chip(claim_doc, claim.id if claim is not None else None, where)
    ids = [c.id for c in chips]
    dup = sorted({i for i in ids if ids.count(i) > 1})
    if dup:
        raise InvalidSettingError(f"{labelled('chips')}: chip id(s) given twice: {', '.join(dup)}")
    if not chips:
        raise InvalidSettingError(f"{labelled('chips')}: no chip to review")
    _distinct_names(chips)
    models = [model_entry(m) for m in (cfg.models if cfg.models is not None else DEFAULT_MODELS)]
    if not models:
        raise InvalidSettingError(f"{labelled('models')}: no model to review")
    bound = claim_doc.max_total_params
    if claim is not None and cfg.judge and all(m.total_params > bound for m in models):
        sizes = ", ".join(f"{m.id} ({m.total_params / 1e9:,.1f}B)" for m in models)
        raise InvalidSettingError(
            f"{labelled('models')}: none of {sizes} is within the claim's bound max_total_params = {bound / 1e9:,.4g}B "
            f"parameters ({cfg.claim_file or 'review/claim.yaml'}), and the claim is judged on the models within it; "
            f"allowed: at least one model of at most {bound / 1e9:,.4g}B parameters, or {named_as('claim', 'none')} to "
            "rank the chips without judging the claim")
    return ReviewInputs(cfg, chips, models, claim, claim_doc)
