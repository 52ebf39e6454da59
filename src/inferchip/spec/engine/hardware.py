"""Which serving engines run on which chips, as data (``catalog/engine_hardware.yaml``: ``hardware``, ``vendor_stack``):
each engine's platforms by chip family, each with the engine's own name for its back end there and the source, and
the record a run takes on a chip no catalogued engine runs on (the chip vendor's own stack). Read by
:mod:`inferchip.catalog.engines`, which checks the families against ``catalog/families.yaml``."""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict, Field

from inferchip.spec.engine.padding import StepPadding
from inferchip.spec.engine.record import SchedulerCaps

GENERIC_FAMILY = "generic"  # a user's own part (catalog/families.yaml): tied to no vendor's software, any engine


class PlatformDefaults(BaseModel):
    """An engine's own running-batch cap and step budget on one back end (a hardware plugin's), where they differ
    from the engine record's general rule (:meth:`~inferchip.spec.engine.EngineSpec.caps_on`): vLLM's TPU, Gaudi and
    Neuron platforms report no device memory to its per-device rule. They replace that rule on every chip of the
    record's families; ``source`` says whose code sets them. ``chunk_tokens`` None: the back end's step is not a
    budget the simulator's chunked scheduler runs (the Neuron plugin's one whole prompt per prefill step), so the
    general rule's chunk stays, and the output says so."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_num_seqs: int = Field(ge=1, le=65536, description="Running-batch cap per scheduler (per DP rank).")
    chunk_tokens: int | None = Field(None, ge=64, le=1_048_576, description="Step token budget per scheduler (per "
                                     "DP rank); none: the engine's general one (see the source for why).")
    source: str = Field(min_length=1)


class EngineHardware(BaseModel):
    """One platform an engine runs on: the chip families of it, the engine's back end there in its own words (CUDA,
    ROCm, a hardware plugin), and the source. An engine may have several (vLLM: CUDA, ROCm, TPU, Neuron, Gaudi,
    CPU); an engine with none runs on any chip. A chip of the family ``generic`` may take any engine."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    engine: str
    backend: str = Field(min_length=1, description="The engine's back end on these families, in its own words.")
    families: tuple[str, ...] = Field(min_length=1, description="Families of catalog/families.yaml.")
    source: str = Field(min_length=1)
    defaults: PlatformDefaults | None = Field(None, description="The back end's own running-batch cap and step "
                                              "budget (none: the engine record's general rule).")
    padding: StepPadding | None = Field(None, description="The back end's compiled step shapes a step is padded "
                                        "to (none: unpadded, or CUDA graphs: the engine record's buckets).")


class VendorStack(BaseModel):
    """What a run naming no engine assumes on a chip the catalogue's default engine does not run on: the chip
    vendor's own serving stack (the family's ``software`` text names it), priced by the analytic model alone: no
    engine host time (the family's ``host_step_us`` where it states one, else the calibration's), no CUDA-graph
    batch buckets, no GEMM library's tile rule, and the simulator's continuous batching with the running-batch cap
    and step budget here on every chip."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1)
    max_num_seqs: int = Field(ge=1, le=65536, description="Running-batch cap per scheduler (per DP rank).")
    chunk_tokens: int = Field(ge=64, le=1_048_576, description="Prefill token budget of one step (per DP rank).")
    source: str = Field(min_length=1)

    def caps_on(self, chip_id: str) -> SchedulerCaps:
        """The caps on ``chip_id`` (a chip no catalogued engine runs on), with why in words; the engine note of the
        run (``interfaces.cli_options.engine.engine_choice``) names the family and its stack."""
        return SchedulerCaps(self.max_num_seqs, self.chunk_tokens,
                             f"the vendor-stack record's (catalog/engine_hardware.yaml vendor_stack; no catalogued "
                             f"engine runs on {chip_id}): {self.source}")


def platform_of(hardware: Sequence[EngineHardware], engine: str, family: str) -> EngineHardware | None:
    """The ``hardware`` record under which ``engine`` runs on a chip of ``family``; None where none does (an engine
    with no record at all runs anywhere: see :func:`runs_on`)."""
    return next((h for h in hardware if h.engine == engine and family in h.families), None)


def runs_on(hardware: Sequence[EngineHardware], engine: str, family: str) -> bool:
    """Whether ``engine`` runs on a chip of ``family``: ``generic`` takes any engine; an engine with no record runs
    on any chip; else a record of it lists the family."""
    if family == GENERIC_FAMILY or not any(h.engine == engine for h in hardware):
        return True
    return platform_of(hardware, engine, family) is not None


def engines_on(hardware: Sequence[EngineHardware], engines: Sequence[str], family: str) -> list[str]:
    """The engines of ``engines`` (ids, in catalogue order) that run on a chip of ``family``."""
    return [e for e in engines if runs_on(hardware, e, family)]


def families_of(hardware: Sequence[EngineHardware], engine: str) -> list[str]:
    """The families ``engine``'s records list, in their order, each once."""
    return list(dict.fromkeys(f for h in hardware if h.engine == engine for f in h.families))


def defaults_text(hardware: Sequence[EngineHardware], engine: str) -> str:
    """The back ends of ``engine`` that state their own running-batch cap and step budget (``defaults``), in words
    for the help: "TPU 256 / 2,048; ..."; "" where none does."""
    return "; ".join(f"{h.backend.split(' (')[0]} {h.defaults.max_num_seqs:,} / "
                     + (f"{h.defaults.chunk_tokens:,}" if h.defaults.chunk_tokens is not None else "the general one")
                     for h in hardware if h.engine == engine and h.defaults is not None)


def platform_caps(platform: EngineHardware | None, general: SchedulerCaps, chip_id: str, family: str
                  ) -> SchedulerCaps:
    """The caps an engine runs with on ``chip_id`` (of ``family``) under the back end ``platform``
    (:func:`platform_of`; None: the engine has no platform records, or the chip is ``generic``), given the engine
    record's ``general`` caps there (:meth:`~inferchip.spec.engine.EngineSpec.caps_on`): the back end's
    ``defaults`` where it states them, each with its source; else ``general``, its reason saying the back end states
    none of its own."""
    if platform is None:
        return general
    d = platform.defaults
    if d is None:
        return SchedulerCaps(general.max_num_seqs, general.chunk_tokens,
                             f"{general.reason}; {platform.engine}'s {platform.backend} back end states no defaults of "
                             "its own (catalog/engine_hardware.yaml): the engine's general ones")
    chunk = general.chunk_tokens if d.chunk_tokens is None else d.chunk_tokens
    kept = ("" if d.chunk_tokens is not None else
            f"; its step budget is the engine's general one, {chunk:,} tokens ({general.reason})")
    return SchedulerCaps(d.max_num_seqs, chunk,
                         f"{platform.engine}'s {platform.backend} back end's own defaults on {chip_id} (family "
                         f"{family}; catalog/engine_hardware.yaml hardware defaults), not the engine record's general "
                         f"rule: {d.source}{kept}")


def platform_padding(platform: EngineHardware | None) -> tuple[StepPadding | None, str]:
    """(the compiled step shapes of ``platform``'s back end, or None where it states none; its owner in words for
    the output: "vllm's TPU (tpu-inference plugin, JAX / XLA) back end")."""
    if platform is None or platform.padding is None:
        return None, ""
    return platform.padding, f"{platform.engine}'s {platform.backend} back end"
