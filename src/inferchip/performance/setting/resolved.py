"""The resolved setting: the system and the model, checked once (:func:`~inferchip.performance.setting.resolve.
resolve_setting` builds it) and passed down, with what the performance layer caches for it (mapped models, sweeps,
the fast path) and the step shapes its steps are padded to, with their source."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cached_property
from numbers import Integral
from typing import TYPE_CHECKING, TypedDict

from inferchip.errors import InvalidSettingError, named
from inferchip.mapping.format_defaults import ACTIVATIONS_GIVEN, KV_GIVEN, WEIGHTS_GIVEN
from inferchip.mapping.layout import Layout
from inferchip.mapping.memory_fit import Formats
from inferchip.performance.mapped import DEFAULT_CHUNK_TOKENS, MappedModel, map_model
from inferchip.performance.phases import PhaseMetrics
from inferchip.performance.prediction import CHUNK_GIVEN, setting_text
from inferchip.spec.assumptions import Assumptions
from inferchip.spec.calibration import Calibration
from inferchip.spec.chip import ChipParams, ChipSpec, EstimateLevel
from inferchip.spec.model import ModelSpec

if TYPE_CHECKING:  # cost.economics is imported where a setting is priced
    from inferchip.cost.economics import ChipEconomy, ChipMoney
    from inferchip.performance.question import LengthDist
    from inferchip.performance.setting.engine import EngineChoice, ServedEngine
    from inferchip.sim.batching.scheduler import SchedulerConfig
    from inferchip.spec.engine import SchedulerCaps
    from inferchip.spec.engine.padding import PaddingLadder

# A question's lengths and load (inputs, outputs, beams, queue wait, whole sequences per chip, running-batch cap per
# rank, attention-DP prompts balanced, coarse grid, with TTFT) -> {layout -> its concurrency sweep}:
# operating.operating_point's cache, kept here.
SweepKey = tuple["LengthDist", "LengthDist", int, bool, bool, float | None, bool, bool, bool]
Sweeps = dict[SweepKey, dict[Layout, PhaseMetrics]]


class Derived(TypedDict, total=False):
    """What the performance layer keeps with a setting (fast_path.fast_layout)."""

    fast: tuple[object]  # fast_path.FastLayout once made, None where it does not apply (it imports this module)
    asked: int  # questions asked of the setting before then


MAX_CHUNK_TOKENS = 1_048_576  # spec.engine.EngineSpec.chunk_tokens' bound
# where a setting's step padding came from (Setting.padding_source)
PADDING_ENGINE = "the default engine's back end on the chip, at its running-batch cap and the step budget"
PADDING_SERVED = "the engine's back end on the chip, at its running-batch cap and the step budget"
PADDING_GIVEN = "given"
PADDING_NONE = "none asked (padding=None)"


@dataclass(frozen=True, eq=False)
class Setting:
    """A resolved, checked setting (immutable; build it with :func:`resolve_setting`).

    ``chip``: parameters at the ``estimate`` corner; ``chip_spec``: its full spec (memory type, node, price) or None
    (energy then assumes defaults, said in the notes); ``formats``: weights, activations and KV with the defaults
    filled in; ``weights_source``: where the weight format came from (``WEIGHTS_GIVEN`` where given, else the
    checkpoint's ``quantization_config`` or ``torch_dtype``: :func:`checkpoint_choice`);
    ``activations_source``/``kv_source``: where those came from (:func:`format_sources`: the option, the default for a
    ``--weights`` given, or what the engines do with the checkpoint by default); ``compute_format``: the format the
    GEMMs run in on this chip (the next wider one where it has no units for the wanted one); ``layouts``: the one
    layout given (``layout_given``) or every candidate the search weighs, each with its replicas filling ``count``
    chips; ``padding``: the compiled step shapes every step is padded to (None: unpadded), ``padding_source``:
    where they came from (:data:`PADDING_ENGINE`: the default engine's back end on the chip at the step budget,
    :func:`engine_padding`, made anew with the budget by :meth:`with_chunk`; :data:`PADDING_GIVEN`;
    :data:`PADDING_NONE`);
    ``chunk_tokens``: a step's prefill budget per chip, ``chunk_source``: given, or the default engine's on the chip."""

    chip: ChipParams
    chip_spec: ChipSpec | None
    model: ModelSpec
    formats: Formats
    compute_format: str
    format_notes: tuple[str, ...]
    count: int
    layouts: tuple[Layout, ...]
    layout_given: bool
    estimate: EstimateLevel
    calibration: Calibration
    assumptions: Assumptions
    assumptions_path: str | None = None
    weights_source: str = WEIGHTS_GIVEN
    activations_source: str = ACTIVATIONS_GIVEN
    kv_source: str = KV_GIVEN
    chunk_tokens: int = DEFAULT_CHUNK_TOKENS  # the per-step prefill token budget (predict --chunk-tokens)
    padding: PaddingLadder | None = None
    chunk_source: str = CHUNK_GIVEN  # where chunk_tokens came from (resolve_setting: given, else the engine's)
    padding_source: str = PADDING_NONE  # where padding came from (resolve_setting's default: PADDING_ENGINE)
    engine: ServedEngine | None = None  # the engine named (resolve_setting's engine=), None: none
    _mapped: dict[Layout, MappedModel] = field(default_factory=dict, repr=False, compare=False)
    sweeps: Sweeps = field(default_factory=dict, repr=False, compare=False)  # see operating.operating_point
    derived: Derived = field(default_factory=lambda: Derived(), repr=False, compare=False)  # fast_path's

    def __repr__(self) -> str:  # a summary: the dataclass's printed every field whole, ~47,000 characters
        return setting_text(self)

    @property
    def layout(self) -> Layout:
        """The layout of a setting that fixes one (the first candidate otherwise)."""
        return self.layouts[0]

    @property
    def notes(self) -> list[str]:
        """What the user should know about the setting: format fallbacks, W4A4, the chip's notes."""
        return list(self.format_notes) + list(self.chip.notes)

    @cached_property
    def money(self) -> ChipMoney:
        """The chip's price for TCO (``cost.economics.chip_money`` at the estimate corner)."""
        from inferchip.cost.economics import chip_money, device_money

        return device_money(chip_money(self.chip_spec, self.assumptions, self.estimate), self.chip.devices_per_package)

    @cached_property
    def economy(self) -> ChipEconomy:
        """Power and money constants of the setting (``cost.economics.chip_economy``), for a chip with a TDP."""
        from inferchip.cost.economics import chip_economy

        mem_type = self.chip_spec.memory.technology() if self.chip_spec is not None else "HBM3"
        return chip_economy(self.chip_spec, mem_type, self.chip.tdp_w, self.chip.idle_w, self.money, self.assumptions,
                            self.chip.devices_per_package)

    @property
    def caps(self) -> SchedulerCaps:
        """The running-batch cap and step budget per rank the scheduler runs on the chip: the engine's
        (:attr:`engine`), else the default engine's (:func:`~inferchip.sim.batching.scheduler.run_caps`)."""
        from inferchip.sim.batching.scheduler import run_caps

        return run_caps(None, self.chip) if self.engine is None else self.engine.choice.caps

    @property
    def choice(self) -> EngineChoice:
        """The engine the setting runs on its chip, resolved with it: the named one's (:attr:`engine`), else the
        default engine's there (its caps, :attr:`caps`; the vendor stack's note where no catalogued engine runs on the
        chip: :func:`~inferchip.performance.setting.engine.engine_choice`), its padding and notes for the output."""
        from inferchip.performance.setting.engine import engine_choice

        return self.engine.choice if self.engine is not None else engine_choice(None, self.calibration, self.chip)

    def scheduler(self, ranks: int) -> SchedulerConfig:
        """The scheduler a run of this setting takes on ``ranks`` attention-DP ranks: :attr:`caps`' running-batch cap
        and :attr:`chunk_tokens` per rank and, with an engine named, its loop's intake per request in series with
        the steps (``request_intake_s``), as ``inferchip serve --engine`` runs it."""
        from inferchip.performance.setting.engine import engine_scheduler

        return engine_scheduler(None if self.engine is None else self.engine.spec, ranks, self.caps,
                                self.chunk_tokens)

    def mapped(self, layout: Layout) -> MappedModel:
        """The model mapped onto ``layout`` (cached: the same object for the same layout)."""
        mm = self._mapped.get(layout)
        if mm is None:
            mm = map_model(self.model, self.chip, layout, self.formats, self.calibration)
            if self.chunk_tokens != mm.chunk_tokens or self.padding is not None:
                mm = replace(mm, chunk_tokens=self.chunk_tokens, padding=self.padding)
            self._mapped[layout] = mm
        return mm

    def with_chunk(self, chunk_tokens: int | None, source: str = CHUNK_GIVEN) -> Setting:
        """This setting with a prefill chunk of ``chunk_tokens`` per step and chip from ``source`` (None: itself), its
        mapped models and sweeps made anew (kept for the same chunk). InvalidSettingError: :func:`checked_chunk`."""
        chunk = self.chunk_tokens if chunk_tokens is None else checked_chunk(chunk_tokens)
        if chunk == self.chunk_tokens:  # the same mapped models and sweeps
            return self if chunk_tokens is None or source == self.chunk_source else replace(self, chunk_source=source)
        # the default engine's padding is resolved at the step budget (tpu-inference pads a step's tokens up to it)
        padding = (engine_padding(self.chip, chunk) if self.padding_source == PADDING_ENGINE else
                   self.engine.choice.padding_at(chunk) if self.padding_source == PADDING_SERVED and self.engine
                   else self.padding)
        return replace(self, chunk_tokens=chunk, chunk_source=source, padding=padding, _mapped={}, sweeps={},
                       derived=Derived())


def engine_padding(chip: ChipParams, chunk_tokens: int) -> PaddingLadder | None:
    """The compiled step shapes the default engine's back end pads a step on ``chip`` to (vLLM's TPU and Gaudi back
    ends; None elsewhere) at its running-batch cap and the ``chunk_tokens`` step budget, resolved as serve and curve
    resolve them (:func:`~inferchip.sim.batching.scheduler.run_padding_at`): :data:`PADDING_ENGINE`'s shapes."""
    from inferchip.sim.batching.scheduler import run_padding_at

    return run_padding_at(None, chip, chunk_tokens)


def checked_chunk(chunk_tokens: int) -> int:
    """``chunk_tokens`` as a prefill chunk; InvalidSettingError unless a whole number from 1 to 1,048,576."""
    if isinstance(chunk_tokens, bool) or not isinstance(chunk_tokens, Integral) or \
            not 1 <= chunk_tokens <= MAX_CHUNK_TOKENS:
        raise InvalidSettingError(f"{named('chunk_tokens')} must be a whole number of tokens from 1 to "
                                  f"{MAX_CHUNK_TOKENS:,}, got {chunk_tokens!r}")
    return int(chunk_tokens)
