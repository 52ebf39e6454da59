"""The serving-engine options every command spells the same way: ``--engine`` (an engine of
``catalog/engines.yaml``) and ``--moe-kernel`` (the expert kernel that engine serves a MoE model's experts with),
with the engine's line in the output. Both are resolved where the Python API's ``engine=`` / ``moe_kernel=`` are,
once, by :func:`inferchip.performance.setting.engine.served_engine` (the calibration, the expert kernel's, the step
budget, the padding, the served attention formats and the host time per request)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from inferchip.performance.setting.engine import EngineChoice
    from inferchip.spec.engine import SchedulerCaps

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
    budget on the chip (``caps``, ``EngineChoice.caps``: ``--engine``'s record, else the default engine record's,
    by its device rule), one rule for predict, serve and curve."""
    if chunk is not None:
        return chunk, "--chunk-tokens"
    return int(caps.chunk_tokens), caps.reason


def choice_line(choice: EngineChoice, summary: dict[str, Any] | None, default_text: str) -> str:
    """:func:`engine_line` of the run: ``summary`` (``engine_summary``'s) where ``--engine`` was given, else
    ``default_text`` (the command's words for the default engine's) where that engine runs on the chip, else the
    vendor stack's, whose reasons are in the choice's notes."""
    if summary is None and choice.stack is not None:
        return (f"engine: none: no catalogued engine runs on {choice.chip.id}; the figures assume the chip vendor's "
                "own stack (note below)")
    return engine_line(summary, default_text)


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


def moe_kernel_option() -> Any:
    """--moe-kernel: the expert kernel an engine serves a MoE model's experts with (one spelling everywhere)."""
    return typer.Option(None, "--moe-kernel", help="With --engine: the kernel serving the model's MXFP4 experts "
                        "(vllm: triton, marlin, flashinfer, flashinfer-cutlass, as the chip allows); default: the "
                        "engine's own pick on the chip (catalog/engines.yaml moe_kernels).")
