"""The serving-engine options every command spells the same way: ``--engine`` (an engine of
``catalog/engines.yaml``, resolved once into its calibration and the host time per request) and ``--moe-kernel``
(the expert kernel that engine serves a MoE model's experts with), with the engine's line and record in the
output."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from inferchip.interfaces.cli_options.options import GivenModel
    from inferchip.spec.engine import EngineSpec, SchedulerCaps
    from inferchip.spec.engine.padding import PaddingLadder
    from inferchip.spec.params import ChipParams

ENGINE_HELP = ("Serving engine of catalog/engines.yaml (dynamo, trtllm, vllm, atom, sglang): its host time per step "
               "replaces the calibration's, its kernel efficiencies scale the calibration's; refused on a chip of a "
               "family it does not run on (catalog/engine_hardware.yaml, the engines' own platform lists)")
VENDOR_HELP = ("on a chip the default engine does not run on (Groq, Cerebras, SambaNova, Tesla...), the chip vendor's "
               "own stack (catalog/engine_hardware.yaml vendor_stack), said in the output")


def engine_option(default_text: str, vendor: bool = True) -> Any:
    """--engine: one spelling in every command; ``default_text`` says what applies without it (``vendor``: and on a
    chip the default engine does not run on, the vendor stack: predict, serve, curve)."""
    return typer.Option(None, "--engine", help=f"{ENGINE_HELP}; default: {default_text}"
                        + (f"; {VENDOR_HELP}." if vendor else "."))


def engine_host(spec: Any, chip: str, weights: str | None, model: GivenModel, prompt_tokens: float) -> Any:
    """``--engine``'s host time per request for prompts of ``prompt_tokens`` tokens of ``model`` on ``chip`` with
    ``weights`` (None: what the checkpoint ships, :func:`_weights`) (:func:`~inferchip.catalog.engines.
    request_host_time`, the one resolution ``validate`` uses too; no ``software`` text, so no worker engine); None
    without ``--engine``."""
    if spec is None:
        return None
    from inferchip.catalog.engines import request_host_time

    return request_host_time(spec, prompt_tokens, chip, _weights(model, weights), "", model.name)


def _weights(model: GivenModel, weights: str | None) -> str:
    """The weight format the setting will resolve (``mapping.format_defaults.weight_choice``: ``weights`` as given,
    else what the checkpoint ships, a user's config as already read), for the engine's choices made before the
    setting is resolved."""
    from inferchip.mapping.format_defaults import weight_choice

    return weight_choice(model.name, weights, model.config)[0]


@dataclass(frozen=True)
class EngineChoice:
    """``--engine`` on one chip, resolved once (:func:`engine_choice`) and passed down: the calibration to use, the
    engine (None without ``--engine``), the chip's parameters (looked up once) and the running-batch cap and step
    budget per rank its scheduler runs there (``caps``: ``--engine``'s record, else the default engine record's, by
    its device rule, :meth:`~inferchip.spec.engine.EngineSpec.caps_on`, or the defaults of the engine's back end
    on the chip's family where it states them, :func:`~inferchip.spec.engine.hardware.platform_caps`, else, on a
    chip the default engine does not run on, the vendor-stack record's), read by predict, serve and curve alike.
    ``stack``: what a run without ``--engine`` assumes on a chip no catalogued engine runs on, in words for the
    output (None: the default engine runs there, or ``--engine`` was given). :meth:`padding_at`: the compiled step
    shapes of the engine's back end on the chip's family at the run's step budget."""

    calibration: Any
    spec: EngineSpec | None
    chip: ChipParams
    caps: SchedulerCaps
    stack: str | None = None

    def padding_at(self, chunk_tokens: int) -> PaddingLadder | None:
        """The back end's padding on this run (``catalog/engine_hardware.yaml`` hardware ``padding``: vLLM's TPU and
        Gaudi back ends; None where it pads nothing) at the running-batch cap and the ``chunk_tokens`` step budget the
        scheduler runs: :func:`~inferchip.sim.batching.scheduler.run_padding_at`, the one resolution (a setting's
        default, ``performance.setting.resolved.engine_padding``, is the default engine's)."""
        from inferchip.sim.batching.scheduler import run_padding_at

        return run_padding_at(self.spec, self.chip, chunk_tokens)

    def notes_at(self, chunk_tokens: int) -> list[str]:
        """:attr:`notes` and the back end's padding at the ``chunk_tokens`` step budget (:meth:`padding_at`)."""
        p = self.padding_at(chunk_tokens)
        return [*self.notes, *([] if p is None else [p.text])]

    def line(self, summary: dict[str, Any] | None, default_text: str) -> str:
        """:func:`engine_line` of the run: ``summary`` (:func:`engine_summary`'s) where ``--engine`` was given, else
        ``default_text`` (the command's words for the default engine's) where that engine runs on the chip, else the
        vendor stack's, whose reasons are in :attr:`notes`."""
        if summary is None and self.stack is not None:
            return (f"engine: none: no catalogued engine runs on {self.chip.id}; the figures assume the chip vendor's "
                    "own stack (note below)")
        return engine_line(summary, default_text)

    @property
    def notes(self) -> list[str]:
        """The output's notes of the choice: the vendor stack's reasons where it applies, else none."""
        return [] if self.stack is None else [self.stack]


def engine_choice(engine: str | None, calibration: Any, chip: str) -> EngineChoice:
    """:func:`engine_setting` on ``chip`` (an id or a chip file) with the chip looked up once and the scheduler's caps
    on it resolved from those parameters (:func:`~inferchip.sim.batching.scheduler.run_caps`). Without
    ``--engine`` on a chip the catalogue's default engine does not run on (Groq, Cerebras, Tesla:
    catalog/engine_hardware.yaml), the vendor-stack record: its caps, the calibration as given, and ``stack`` saying
    so."""
    from inferchip.catalog.chips import family_defaults, get_chip_params
    from inferchip.catalog.engines import default_engine_on, get_engine, load_engines
    from inferchip.sim.batching.scheduler import run_caps

    spec = None if engine is None else option_engine(engine)  # an unknown engine is named before the chip is read
    params = get_chip_params(chip)
    if spec is None and default_engine_on(params.family) is None:
        from inferchip.catalog.calibration_file import load_calibration

        stack, software = load_engines().vendor_stack, family_defaults(params.family).software
        caps = run_caps(None, params)  # the vendor stack's (one resolution with the Python API's serve)
        text = (f"no --engine: {get_engine(None).id} (the default) and no other catalogued engine runs on {params.id} "
                f"(family {params.family}; catalog/engine_hardware.yaml), so the figures assume {stack.name} "
                f"({software}): no engine record's host times (the calibration's per step, or the family's "
                "host_step_us), CUDA graphs or GEMM library rule; its running batch of <= "
                f"{caps.max_num_seqs:,} and {caps.chunk_tokens:,}-token prefill steps are an assumption "
                "(catalog/engine_hardware.yaml vendor_stack)")
        return EngineChoice(load_calibration(calibration), None, params, caps, text)
    return EngineChoice(_engine_on(spec, calibration, params), spec, params, run_caps(spec, params), None)


def engine_summary(spec: EngineSpec | None, scheduler_chunk: int | None, host: Any = None,
                   moe_kernel: str | None = None, caps: SchedulerCaps | None = None) -> dict[str, Any] | None:
    """What ``--engine`` changed, for the output (None without it): its id and name, the host time per step
    that replaced the calibration's, (serve and curve) the running-batch cap and the chunk the scheduler runs
    (``scheduler_chunk``, :func:`chunk_setting`'s: ``--chunk-tokens`` where given, not the record's own; None:
    no scheduler, as in predict), (``host``, :func:`engine_host`) the host time each request's TTFT and E2E
    include, and the expert kernel's note (``moe_kernel``, :func:`moe_kernel_setting`; None where none applies);
    ``caps`` (:attr:`EngineChoice.caps`): the running-batch cap the scheduler runs on the chip (None: the record's)."""
    if spec is None:
        return None
    out = {"id": spec.id, "name": spec.name, "step_overhead_s": spec.step_overhead_s,
           "kernel_efficiency": spec.kernel_efficiency.model_dump(), "moe_kernel": moe_kernel}
    if scheduler_chunk is not None:
        out.update(max_num_seqs=spec.max_num_seqs if caps is None else caps.max_num_seqs, chunk_tokens=scheduler_chunk)
    if host is not None:
        out["request_host"] = host.as_dict()
    return out


def chunk_option() -> Any:
    """--chunk-tokens: the prefill token budget of one step per chip (one spelling where a command has it)."""
    from inferchip.catalog.engines import load_engines
    from inferchip.interfaces.cli_options.options import int_range
    from inferchip.performance.mapped import DEFAULT_CHUNK_TOKENS
    from inferchip.performance.setting import MAX_CHUNK_TOKENS
    from inferchip.spec.engine.hardware import defaults_text

    own = defaults_text(load_engines().hardware, "vllm")
    return typer.Option(None, "--chunk-tokens", callback=int_range("--chunk-tokens", 1, MAX_CHUNK_TOKENS),
                        help="Prefill tokens one step runs per chip (vLLM --max-num-batched-tokens, SGLang "
                        "--chunked-prefill-size, TensorRT-LLM --max_num_tokens); the memory fit keeps the activations "
                        "of the largest step the run executes (a static batch: batch x prompt tokens, at most this); "
                        "default: the step budget --engine's record (else the default engine record, vllm) runs on the "
                        "chip by its device rule (catalog/engines.yaml device_batch: vLLM's "
                        f"{DEFAULT_CHUNK_TOKENS:,} on a device of >= 70 GiB not an A100, 2,048 elsewhere), or its back "
                        f"end's own on the chip (vllm: {own} sequences / tokens: catalog/engine_hardware.yaml "
                        "hardware defaults).")


def chunk_setting(chunk: int | None, caps: SchedulerCaps) -> tuple[int, str]:
    """(prefill chunk tokens per step, where they came from): ``--chunk-tokens`` where given, else the scheduler's
    budget on the chip (``caps``, :attr:`EngineChoice.caps`: ``--engine``'s record, else the default engine record's,
    by its device rule), one rule for predict, serve and curve."""
    if chunk is not None:
        return chunk, "--chunk-tokens"
    return int(caps.chunk_tokens), caps.reason


def engine_line(summary: dict[str, Any] | None, default_text: str) -> str:
    """One line saying which engine the figures are for."""
    if summary is None:
        return f"engine: none ({default_text}; --engine chooses one)"
    text = f"engine: {summary['id']} ({summary['name']}): host time {summary['step_overhead_s'] * 1e3:.2f} ms per step"
    if "max_num_seqs" in summary:
        text += f", running batch <= {summary['max_num_seqs']:,}, prefill chunk {summary['chunk_tokens']:,} tokens"
    if "request_host" in summary:
        text += "; " + summary["request_host"]["note"]
    if summary.get("moe_kernel"):
        text += "; " + summary["moe_kernel"]
    return text


def engine_setting(engine: str | None, calibration: Any, chip: str | None = None) -> tuple[Any, EngineSpec | None]:
    """(calibration to use, engine spec or None) for ``--engine`` over ``--calibration`` (a path, "none" or None),
    on ``chip`` (an id or a chip file; None: no chip, the calibration as given): :func:`engine_choice`'s two first
    fields where a chip is given."""
    if chip is None:
        if engine is None:
            return calibration, None
        from inferchip.catalog.calibration_file import load_calibration
        from inferchip.catalog.engines import engine_calibration

        spec = option_engine(engine)
        return engine_calibration(load_calibration(calibration), spec), spec
    choice = engine_choice(engine, calibration, chip)
    return choice.calibration, choice.spec


def _engine_on(spec: EngineSpec | None, calibration: Any, params: ChipParams) -> Any:
    """The calibration for ``--engine`` (``spec``) over ``--calibration`` on the chip of ``params``: the engine's
    16-bit GEMMs split K where it lists the chip's family (``split_k_16bit_families``), as the validated
    closed-loop and energy rows run them; an engine that does not run on the chip is refused. Without
    ``--engine``: the calibration with the 16-bit GEMM library of the catalogue's default engine on the chip's family
    (:func:`~inferchip.catalog.engines.default_gemm_calibration`), so that predict, serve and curve price a Hopper
    bf16 decode GEMM as cuBLASLt runs it, split K included."""
    from inferchip.catalog.calibration_file import load_calibration
    from inferchip.catalog.engines import (
        check_engine_runs_on,
        engine_calibration,
        family_kernel_calibration,
        loaded_calibration,
    )

    if spec is None:
        return loaded_calibration(calibration, params.family)
    check_engine_runs_on(spec, params.id, params.family)
    return family_kernel_calibration(engine_calibration(load_calibration(calibration), spec), spec, params.family)


def served_attention(spec: Any, model: GivenModel, weights: str | None) -> tuple[str, str | None, str] | None:
    """The attention formats ``--engine`` runs ``model``'s checkpoint with (``weights`` None: what it ships): the
    checkpoint the ``--model`` id names, else the catalogue's first with a note saying so
    (:func:`~inferchip.mapping.format_defaults.served_attention`, the rule validate's rows take); None where the
    engine has no entry for it."""
    from inferchip.mapping.format_defaults import served_attention as rule

    got = rule(spec, "", model.name, _weights(model, weights), model.name)  # no decode worker: q_b as the others
    return None if got is None else (got[0], got[1], got[3])


def moe_kernel_option() -> Any:
    """--moe-kernel: the expert kernel an engine serves a MoE model's experts with (one spelling everywhere)."""
    return typer.Option(None, "--moe-kernel", help="With --engine: the kernel serving the model's MXFP4 experts "
                        "(vllm: triton, marlin, flashinfer, flashinfer-cutlass, as the chip allows); default: the "
                        "engine's own pick on the chip (catalog/engines.yaml moe_kernels).")


def moe_kernel_setting(cal: Any, spec: EngineSpec | None, chip: ChipParams, weights: str | None, model: GivenModel,
                       choice: str | None) -> tuple[Any, str | None]:
    """``cal`` with the expert kernel ``--engine`` serves ``model``'s ``weights`` experts with on ``chip``
    (``weights`` None: what the checkpoint ships, :func:`_weights`; ``--moe-kernel``, else the engine's default
    there; :func:`~inferchip.performance.moe_kernel.moe_kernel_calibration`) and the note naming it (None where no
    kernel entry applies); ``chip``: :attr:`EngineChoice.chip`, the chip looked up once."""
    if spec is None and choice is None:
        return cal, None
    from inferchip.performance.moe_kernel import moe_kernel_calibration

    return moe_kernel_calibration(cal, spec, chip, _weights(model, weights), model.spec, choice)


def option_engine(engine: str) -> EngineSpec:
    """The engine ``--engine`` names; an unknown one is an UnknownIdError naming the option, the value and the
    engines allowed (as every option's error does)."""
    from inferchip.catalog.engines import get_engine
    from inferchip.errors import UnknownIdError

    try:
        return get_engine(engine)
    except UnknownIdError as exc:
        exc.args = (f"--engine: {exc.args[0]}",)
        raise
