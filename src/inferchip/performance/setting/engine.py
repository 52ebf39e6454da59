"""The serving engine a setting runs under, resolved once: ``ic.resolve_setting(engine=, moe_kernel=)`` and the
command line's ``--engine`` / ``--moe-kernel`` (``interfaces.cli_options.engine``) both call :func:`served_engine`.

An engine of ``catalog/engines.yaml`` changes six things of a prediction: the calibration (its host time per step and
kernel efficiencies, split K on the families it lists: :func:`engine_choice`), the expert kernel's calibration
(:func:`moe_kernel_setting`), the step budget and running-batch cap its scheduler runs on the chip
(:attr:`EngineChoice.caps`), the back end's step padding at that budget (:meth:`EngineChoice.padding_at`), the
attention formats it serves the checkpoint with (:func:`served_attention`) and the host time each request's TTFT
and E2E include (:meth:`ServedEngine.host`). Errors name the setting as the interface running spells it
(``engine=`` in the API, ``--engine`` on the command line: :func:`inferchip.errors.named`)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Protocol

from inferchip.errors import InvalidSettingError, labelled, named

if TYPE_CHECKING:
    from inferchip.catalog.engines import RequestHostTime
    from inferchip.catalog.models import UserConfig
    from inferchip.performance.prediction import Prediction
    from inferchip.performance.question import Question
    from inferchip.sim.batching.scheduler import SchedulerConfig
    from inferchip.spec.calibration import Calibration
    from inferchip.spec.engine import EngineSpec, SchedulerCaps
    from inferchip.spec.engine.padding import PaddingLadder
    from inferchip.spec.model import ModelSpec
    from inferchip.spec.params import ChipParams


class NamedModel(Protocol):
    """A model as given (the command line's ``GivenModel``, the API's :class:`GivenModel`): the text given (a
    catalogue id or a config path, the id the engine's records are looked up by), its model and the user's config
    it was read from (None: a catalogue id)."""

    @property
    def name(self) -> str: ...

    @property
    def spec(self) -> ModelSpec: ...

    @property
    def config(self) -> UserConfig | None: ...


@dataclass(frozen=True)
class GivenModel:
    """:class:`NamedModel` of the Python API: ``name`` the id given (a ModelSpec's own id where one was given)."""

    name: str
    spec: ModelSpec
    config: UserConfig | None


@dataclass(frozen=True)
class EngineChoice:
    """An engine on one chip, resolved once (:func:`engine_choice`): the calibration to use, the engine (None: none
    named), the chip's parameters (looked up once) and the running-batch cap and step budget per rank its scheduler
    runs there (``caps``: the engine's record, else the default engine record's, by its device rule,
    :meth:`~inferchip.spec.engine.EngineSpec.caps_on`, or the defaults of the engine's back end on the chip's family
    where it states them, :func:`~inferchip.spec.engine.hardware.platform_caps`, else, on a chip the default engine
    does not run on, the vendor-stack record's). ``stack``: what a run naming no engine assumes on a chip no
    catalogued engine runs on, in words (None: the default engine runs there, or an engine was named).
    :meth:`padding_at`: the compiled step shapes of the engine's back end on the chip's family at a step budget."""

    calibration: Any
    spec: EngineSpec | None
    chip: ChipParams
    caps: SchedulerCaps
    stack: str | None = None

    def padding_at(self, chunk_tokens: int) -> PaddingLadder | None:
        """The back end's padding at the running-batch cap and the ``chunk_tokens`` step budget
        (:func:`~inferchip.sim.batching.scheduler.run_padding_at`, the one resolution; None where it pads nothing)."""
        from inferchip.sim.batching.scheduler import run_padding_at

        return run_padding_at(self.spec, self.chip, chunk_tokens)

    def notes_at(self, chunk_tokens: int) -> list[str]:
        """:attr:`notes` and the back end's padding at the ``chunk_tokens`` step budget (:meth:`padding_at`)."""
        p = self.padding_at(chunk_tokens)
        return [*self.notes, *([] if p is None else [p.text])]

    @property
    def notes(self) -> list[str]:
        """The notes of the choice: the vendor stack's reasons where it applies, else none."""
        return [] if self.stack is None else [self.stack]


def named_engine(engine: str) -> EngineSpec:
    """The engine ``engine`` names; an unknown one is an UnknownIdError naming the setting (``engine`` /
    ``--engine``), the value and the engines allowed."""
    from inferchip.catalog.engines import get_engine
    from inferchip.errors import UnknownIdError

    try:
        return get_engine(engine)
    except UnknownIdError as exc:
        exc.args = (f"{labelled('engine')}: {exc.args[0]}",)
        raise


def engine_choice(engine: str | None, calibration: Any, chip: str | ChipParams) -> EngineChoice:
    """``engine`` (an id, None: none named) over ``calibration`` (a path, "none", None or a Calibration) on ``chip``
    (an id, a chip file or its parameters), the chip looked up once and the scheduler's caps on it resolved from
    those parameters (:func:`~inferchip.sim.batching.scheduler.run_caps`). With no engine on a chip the catalogue's
    default engine does not run on (Groq, Cerebras, Tesla: catalog/engine_hardware.yaml), the vendor-stack record:
    its caps, the calibration as given, and ``stack`` saying so."""
    from inferchip.catalog.calibration_file import load_calibration
    from inferchip.catalog.chips import family_defaults, get_chip_params
    from inferchip.catalog.engines import default_engine_on, get_engine, load_engines
    from inferchip.sim.batching.scheduler import run_caps

    spec = None if engine is None else named_engine(engine)  # an unknown engine is named before the chip is read
    params = get_chip_params(chip) if isinstance(chip, str) else chip
    if spec is None and default_engine_on(params.family) is None:
        stack, software = load_engines().vendor_stack, family_defaults(params.family).software
        caps = run_caps(None, params)  # the vendor stack's (one resolution with the Python API's serve)
        text = (f"no {named('engine')}: {get_engine(None).id} (the default) and no other catalogued engine runs on "
                f"{params.id} (family {params.family}; catalog/engine_hardware.yaml), so the figures assume "
                f"{stack.name} ({software}): no engine record's host times (the calibration's per step, or the "
                "family's host_step_us), CUDA graphs or GEMM library rule; its running batch of <= "
                f"{caps.max_num_seqs:,} and {caps.chunk_tokens:,}-token prefill steps are an assumption "
                "(catalog/engine_hardware.yaml vendor_stack)")
        cal = calibration if _is_calibration(calibration) else load_calibration(calibration)
        return EngineChoice(cal, None, params, caps, text)
    return EngineChoice(_engine_on(spec, calibration, params), spec, params, run_caps(spec, params), None)


def _is_calibration(calibration: Any) -> bool:
    from inferchip.spec.calibration import Calibration

    return isinstance(calibration, Calibration)


def _engine_on(spec: EngineSpec | None, calibration: Any, params: ChipParams) -> Any:
    """The calibration for ``spec`` over ``calibration`` on the chip of ``params``: the engine's 16-bit GEMMs split K
    where it lists the chip's family (``split_k_16bit_families``), as the validated closed-loop and energy rows run
    them; an engine that does not run on the chip is refused. Without an engine: the calibration with the 16-bit GEMM
    library of the catalogue's default engine on the chip's family
    (:func:`~inferchip.catalog.engines.default_gemm_calibration`); a Calibration object is used as given there."""
    from inferchip.catalog.calibration_file import load_calibration
    from inferchip.catalog.engines import (
        check_engine_runs_on,
        engine_calibration,
        family_kernel_calibration,
        loaded_calibration,
    )

    if spec is None:
        return calibration if _is_calibration(calibration) else loaded_calibration(calibration, params.family)
    check_engine_runs_on(spec, params.id, params.family, named("engine"))
    base = calibration if _is_calibration(calibration) else load_calibration(calibration)
    return family_kernel_calibration(engine_calibration(base, spec), spec, params.family)


def model_weights(model: NamedModel, weights: str | None) -> str:
    """The weight format the setting will resolve (``mapping.format_defaults.weight_choice``: ``weights`` as given,
    else what the checkpoint ships), for the engine's choices made before the setting is resolved."""
    from inferchip.mapping.format_defaults import weight_choice

    return weight_choice(model.name, weights, model.config)[0]


def engine_host(spec: Any, chip: str, weights: str | None, model: NamedModel, prompt_tokens: float) -> Any:
    """The engine's host time per request for prompts of ``prompt_tokens`` tokens of ``model`` on ``chip`` (its id
    or the text given) with ``weights`` (None: what the checkpoint ships) (:func:`~inferchip.catalog.engines.
    request_host_time`, the one resolution ``validate`` uses too; no ``software`` text, so no worker engine); None
    without an engine."""
    if spec is None:
        return None
    from inferchip.catalog.engines import request_host_time

    return request_host_time(spec, prompt_tokens, chip, model_weights(model, weights), "", model.name)


def served_attention(spec: Any, model: NamedModel, weights: str | None) -> tuple[str, str | None, str] | None:
    """The attention formats the engine ``spec`` runs ``model``'s checkpoint with (``weights`` None: what it ships):
    the checkpoint the model's id names, else the catalogue's first with a note saying so
    (:func:`~inferchip.mapping.format_defaults.served_attention`, the rule validate's rows take); None where the
    engine has no entry for it."""
    from inferchip.mapping.format_defaults import served_attention as rule

    got = rule(spec, "", model.name, model_weights(model, weights), model.name)  # no decode worker: q_b as the others
    return None if got is None else (got[0], got[1], got[3])


def moe_kernel_setting(cal: Any, spec: EngineSpec | None, chip: ChipParams, weights: str | None, model: NamedModel,
                       choice: str | None) -> tuple[Any, str | None]:
    """``cal`` with the expert kernel the engine ``spec`` serves ``model``'s ``weights`` experts with on ``chip``
    (``weights`` None: what the checkpoint ships; ``choice``, else the engine's default there:
    :func:`~inferchip.performance.moe_kernel.moe_kernel_calibration`) and the note naming it (None where no kernel
    entry applies)."""
    if spec is None and choice is None:
        return cal, None
    from inferchip.performance.moe_kernel import moe_kernel_calibration

    return moe_kernel_calibration(cal, spec, chip, model_weights(model, weights), model.spec, choice)


@dataclass(frozen=True)
class ServedEngine:
    """An engine named for a setting (``engine=`` / ``--engine``), resolved once by :func:`served_engine`: the
    choice on the chip (:class:`EngineChoice`: its calibration with the expert kernel's, ``calibration`` here, its
    caps and padding), the expert kernel's note (``moe_note``, None where none applies), the attention formats it
    serves the checkpoint with (``attention``: (weights, output projection's, note), None where it has no entry), and
    what :meth:`host` needs: the chip as given (``accelerator``), the model as given and the weights asked."""

    choice: EngineChoice
    calibration: Calibration
    moe_note: str | None
    attention: tuple[str, str | None, str] | None
    accelerator: str
    model: NamedModel
    weights: str | None

    @property
    def spec(self) -> EngineSpec | None:
        return self.choice.spec

    def host(self, prompt_tokens: float, weights: str | None = None) -> RequestHostTime | None:
        """The host time each request of ``prompt_tokens`` prompt tokens spends (:func:`engine_host`), its weights
        ``weights`` (None: as asked)."""
        got: RequestHostTime | None = engine_host(self.spec, self.accelerator, weights or self.weights, self.model,
                                                  prompt_tokens)
        return got

    def limited(self, q: Question) -> Question:
        """``q`` as this engine serves it: its TTFT limit less the host time of a request of its mean prompt (the
        steps' share of the limit; a limit within the host time is an InvalidSettingError), its attention-DP prompts
        balanced over the ranks where the engine holds them for that (``attention_dp_balance``)."""
        if self.spec is not None and self.spec.attention_dp_balance is not None:
            q = replace(q, dp_prompts_balanced=True)
        limit = q.max_ttft_s
        host = None if limit is None else self.host(q.inputs.mean)
        if limit is None or host is None:
            return q
        if limit <= host.total_s:
            raise InvalidSettingError(f"max_ttft_s (seconds) {limit:g}: no TTFT meets it; {host.text()}")
        return replace(q, max_ttft_s=limit - host.total_s)

    def with_host(self, pred: Prediction, prompt_tokens: float) -> Prediction:
        """``pred`` with the host time of a request of ``prompt_tokens`` in its TTFT and E2E, as a client measures
        them (``Prediction.add_request_host``)."""
        host = self.host(prompt_tokens)
        if host is not None:
            pred.add_request_host(host.total_s)
        return pred

    def summary(self, scheduler_chunk: int | None, host: Any = None, caps: SchedulerCaps | None = None
                ) -> dict[str, Any] | None:
        """:func:`engine_summary` of this engine with its expert kernel's note."""
        return engine_summary(self.spec, scheduler_chunk, host=host, moe_kernel=self.moe_note, caps=caps)


def served_engine(engine: str | None, moe_kernel: str | None, calibration: Any, chip: str | ChipParams,
                  model: NamedModel, weights: str | None) -> ServedEngine:
    """``engine`` (an id of catalog/engines.yaml; None: none named) and ``moe_kernel`` (its expert kernel; None: its
    default on the chip) over ``calibration`` on ``chip`` for ``model`` at ``weights`` (None: what the checkpoint
    ships): the one resolution of the API's ``engine=`` and the command line's ``--engine``."""
    choice = engine_choice(engine, calibration, chip)
    cal, note = moe_kernel_setting(choice.calibration, choice.spec, choice.chip, weights, model, moe_kernel)
    attention = None if choice.spec is None else served_attention(choice.spec, model, weights)
    return ServedEngine(choice, cal, note, attention, chip if isinstance(chip, str) else chip.id, model, weights)


def engine_summary(spec: EngineSpec | None, scheduler_chunk: int | None, host: Any = None,
                   moe_kernel: str | None = None, caps: SchedulerCaps | None = None) -> dict[str, Any] | None:
    """What the engine changed, for the output (None without one): its id and name, the host time per step that
    replaced the calibration's, (serve and curve) the running-batch cap and the chunk the scheduler runs
    (``scheduler_chunk``; None: no scheduler, as in predict), (``host``, :func:`engine_host`) the host time each
    request's TTFT and E2E include, and the expert kernel's note (``moe_kernel``; None where none applies); ``caps``
    (:attr:`EngineChoice.caps`): the running-batch cap the scheduler runs on the chip (None: the record's)."""
    if spec is None:
        return None
    out = {"id": spec.id, "name": spec.name, "step_overhead_s": spec.step_overhead_s,
           "kernel_efficiency": spec.kernel_efficiency.model_dump(), "moe_kernel": moe_kernel}
    if scheduler_chunk is not None:
        out.update(max_num_seqs=spec.max_num_seqs if caps is None else caps.max_num_seqs, chunk_tokens=scheduler_chunk)
    if host is not None:
        out["request_host"] = host.as_dict()
    return out


def engine_setting(engine: str | None, calibration: Any, chip: str | None = None) -> tuple[Any, EngineSpec | None]:
    """(calibration to use, engine spec or None) for ``engine`` over ``calibration`` (a path, "none" or None), on
    ``chip`` (an id or a chip file; None: no chip, the calibration as given, with the engine's where one is named):
    :func:`engine_choice`'s two first fields where a chip is given."""
    if chip is None:
        if engine is None:
            return calibration, None
        from inferchip.catalog.calibration_file import load_calibration
        from inferchip.catalog.engines import engine_calibration

        spec = named_engine(engine)
        return engine_calibration(load_calibration(calibration), spec), spec
    choice = engine_choice(engine, calibration, chip)
    return choice.calibration, choice.spec


def engine_scheduler(spec: EngineSpec | None, ranks: int, caps: SchedulerCaps, chunk_tokens: int) -> SchedulerConfig:
    """The scheduler of a run on ``ranks`` attention-DP ranks: ``caps``' running-batch cap and ``chunk_tokens`` per
    rank (:func:`~inferchip.sim.batching.scheduler.rank_scheduler`) and, with an engine ``spec``, its loop's intake
    per request in series with the steps (``request_intake_s``, as validate's closed-loop rows run it)."""
    from inferchip.sim.batching.scheduler import rank_scheduler

    cfg = rank_scheduler(ranks, caps.max_num_seqs, chunk_tokens)
    return cfg if spec is None else cfg.model_copy(update={"request_intake_s": spec.request_intake_s})
