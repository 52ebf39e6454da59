"""Options shared by the commands, each with one default, one help text and its bounds.

A value outside the bounds is a usage error that names the option, the value and what is
allowed (click prints ``Invalid value for '--rate': ...``; the CLI exits 2). The bounds keep
every run finite: a rate of ``inf``, a seed of -1 or a duration of 1e9 seconds is refused
here, before any work, instead of hanging or failing deep inside the model.
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from inferchip.sim.load.lengths import RANGE_RATIO
from inferchip.workload.limits import MAX_BATCH as MAX_BATCH
from inferchip.workload.limits import MAX_CHIPS as MAX_CHIPS
from inferchip.workload.limits import MAX_CONCURRENCY as MAX_CONCURRENCY
from inferchip.workload.limits import MAX_DURATION_S as MAX_DURATION_S  # serve, drive and ic.drive share them
from inferchip.workload.limits import MAX_REQUESTS as MAX_REQUESTS
from inferchip.workload.limits import MAX_SEED as MAX_SEED
from inferchip.workload.limits import MAX_TOKENS as MAX_TOKENS
from inferchip.workload.limits import MIN_DURATION_S as MIN_DURATION_S

if TYPE_CHECKING:
    from inferchip.catalog.models import UserConfig
    from inferchip.spec.model import ModelSpec

# Bounds: generous for any real system, small enough that a run ends. Seeds, requests and users of a
# serving run: the simulator's own (inferchip.workload.limits), so the CLI and the API agree; chips
# (and tp/pp/ep), tokens of a request (the model's context window is checked too) and batch: the case files' too.
MAX_RATE_PER_S = 1_000_000.0
MIN_RATE_PER_S = 1e-6  # one request in 11.6 days; slower rates lose the arrival times to rounding
MAX_ID_LENGTH = 200  # longer than any catalogue id; also under any file-system name limit

# serve's load options: together, --duration and --requests end the arrivals at whichever limit comes first
# (sim/load/arrivals.py: Poisson arrivals cut at the count and at the duration; closed-loop clients stop sending
# at either).
_WHICHEVER = "given with --{other}, the arrivals stop at whichever limit comes first; requests in flight then finish"
RATE_HELP = ("Poisson arrivals, requests/s; they stop after --requests (default 1000) or --duration, or at whichever "
             "comes first when both are given.")
DURATION_HELP = "Seconds of arrivals; " + _WHICHEVER.format(other="requests") + "."
WARMUPS_HELP = ("The first N requests sent run (they load the engine) but are not read by the percentiles: TTFT, "
                "TPOT, E2E and ITL (their tokens' gaps) read the steady tail; the record says how many each "
                "percentile read (default 0: every request, as benchmark_serving reads a run; vLLM's --num-warmups "
                "sends its own before the timed run, whose first wave still queues). Not with --mtp / --disagg: "
                "their case-row benchmark simulates rounds of clients, not each request")
CURVE_REQUESTS_PER_CLIENT = 8  # curve's requests per client at each point (sim.runs.curve's default), said in a note
WARMUPS_PER_USER_HELP = ("Each point's first N requests a client run but are not read by its percentiles, ITL's "
                         "too (1: the "
                         f"first wave, every client sending at once); 0 to {CURVE_REQUESTS_PER_CLIENT - 1} (a point "
                         f"runs {CURVE_REQUESTS_PER_CLIENT} a client), default 0: every request")
REQUESTS_HELP = ("Number of requests (default 1000 without --duration); " + _WHICHEVER.format(other="duration")
                 + ".")

# One default per option across commands.
DEFAULT_INPUT_TOKENS = 1024
DEFAULT_OUTPUT_TOKENS = 1024
DEFAULT_WEIGHTS = None  # what the checkpoint ships (mapping.format_defaults.weight_choice); review: fp8, vision: int8
ESTIMATES = ("low", "central", "high")


def _bad(option: str, value: Any, allowed: str) -> typer.BadParameter:
    """The refusal of ``option``'s ``value``; an infinite float is said to be one, or a number past the largest a
    float holds (click reads ``1e400`` as ``inf``, so the message showed "inf" for a value the user never typed)."""
    shown = (f"{value!r} (infinite, or past the largest number a float holds, {sys.float_info.max:.4g})"
             if isinstance(value, float) and math.isinf(value) else repr(value))
    return typer.BadParameter(f"{shown}; allowed: {allowed}", param_hint=f"'{option}'")


def int_range(option: str, lo: int, hi: int) -> Callable[[int | None], int | None]:
    """A check of a whole number in ``[lo, hi]`` (None passes: the option was not given)."""
    allowed = f"a whole number from {lo:,} to {hi:,}"

    def check(value: int | None) -> int | None:
        if value is not None and not lo <= value <= hi:
            raise _bad(option, value, allowed)
        return value
    check.allowed = allowed  # type: ignore[attr-defined]  # read by boundary.conversion_message
    return check


def _bound(x: float) -> str:
    """A bound as a person reads it: whole numbers with separators (10,000 and 1,000,000,000, not 10000 and 1e+09)."""
    return f"{int(x):,}" if float(x).is_integer() and abs(x) < 1e18 else f"{x:,.6g}"


def float_range(option: str, hi: float, *, lo: float = 0.0,
                lo_open: bool = True) -> Callable[[float | None], float | None]:
    """A check of a finite number above ``lo`` (or from it) up to ``hi``; nan and inf are refused."""
    allowed = f"a finite number {'above' if lo_open else 'from'} {_bound(lo)} up to {_bound(hi)}"

    def check(value: float | None) -> float | None:
        if value is None:
            return value
        low_ok = value > lo if lo_open else value >= lo
        if not math.isfinite(value) or not low_ok or value > hi:
            raise _bad(option, value, allowed)
        return value
    check.allowed = allowed  # type: ignore[attr-defined]  # read by boundary.conversion_message
    return check


def identifier(option: str) -> Callable[[str | None], str | None]:
    """A catalogue id or a path: not blank, no NUL, not longer than any id or file name can be."""
    def check(value: str | None) -> str | None:
        if value is None:
            return value
        if not value.strip():
            raise _bad(option, value, "an id from the catalogue or a path to a file")
        if "\0" in value or len(value) > MAX_ID_LENGTH and not os.path.isfile(value):
            kind = option.lstrip("-").rstrip("s")
            shown = value if len(value) <= 60 else value[:57] + "..."
            raise typer.BadParameter(f"unknown {kind} {shown!r} ({len(value)} characters; no id is that long); "
                                     f"see `inferchip {kind}s`", param_hint=f"'{option}'")
        if value.strip().lower().endswith(".onnx"):
            return value  # a binary ONNX graph: its reader (workload/vision/onnx_import.py) checks it
        checked: str | None = input_file(option, ())(value)  # a chip YAML or config.json given by path: UTF-8 text
        return checked
    return check


def choice(option: str, allowed: tuple[str, ...]) -> Callable[[str | None], str | None]:
    def check(value: str | None) -> str | None:
        if value is not None and value not in allowed:
            raise _bad(option, value if len(value) <= 60 else value[:57] + "...", ", ".join(allowed))
        return value
    return check


# ------------------------------------------------------------------ option factories
def chip_identifier(option: str) -> Callable[[str | None], str | None]:
    """:func:`identifier` for a chip: a catalogue id in any case comes back as the catalogue spells it
    (``catalog.chips.resolve_chip_id``), so that every lookup by id (engines, calibration) finds it."""
    check = identifier(option)

    def resolve(value: str | None) -> str | None:
        checked = check(value)
        if checked is None:
            return None
        from inferchip.catalog.chips import resolve_chip_id

        return resolve_chip_id(checked)
    return resolve


def chip_option(help: str = "Chip id from `inferchip chips` (any case), or a path to a chip YAML.",
                default: Any = ...) -> Any:
    return typer.Option(default, "--chip", help=help, callback=chip_identifier("--chip"))


def model_option(help: str = "Hugging Face id from `inferchip models`, or a path to a config.json.") -> Any:
    return typer.Option(..., "--model", help=help, callback=identifier("--model"))


def count_option(help: str = "Chips in the system.", default: int | None = 1) -> Any:
    """``--count``; ``default=None`` where a command tells a given count from none (``serve --disagg``)."""
    return typer.Option(default, "--count", help=f"{help} 1 to {MAX_CHIPS:,}" + ("." if default else " (default 1)."),
                        callback=int_range("--count", 1, MAX_CHIPS))


LAYOUT_SEARCHED = ("searched: the layout with the most output tokens/s at --input-tokens/--output-tokens that fits; "
                   "any of --tp/--pp/--ep given fixes the layout, the others 1")
PARALLEL_HELP = {
    "tp": f"Tensor-parallel size (default {LAYOUT_SEARCHED}).",
    "pp": "Pipeline-parallel size (default: searched, as --tp).",
    "ep": "Expert-parallel size, divides tp (default: searched, as --tp; under --attn-dp it is --tp).",
}


def parallel_option(name: str) -> Any:
    """--tp, --pp, --ep: one default in every command (None: the layout is searched)."""
    return typer.Option(None, f"--{name}", help=PARALLEL_HELP[name], callback=int_range(f"--{name}", 1, MAX_CHIPS))


def attn_dp_option() -> Any:
    """--attn-dp/--no-attn-dp: one default in every command (None: searched with the layout)."""
    return typer.Option(None, "--attn-dp/--no-attn-dp",
                        help="Attention data-parallel over the tp chips, experts over the same chips: expert-parallel "
                             "with --ep = --tp, or each expert split tp/ep ways with a smaller --ep (tokens "
                             "all-gathered) (MLA/MoE models; default: searched with the layout).")


def input_tokens_option() -> Any:
    return typer.Option(DEFAULT_INPUT_TOKENS, "--input-tokens",
                        help="Input (prompt) tokens per request; input + output must fit the model's context window.",
                        callback=int_range("--input-tokens", 1, MAX_TOKENS))


def output_tokens_option() -> Any:
    return typer.Option(DEFAULT_OUTPUT_TOKENS, "--output-tokens",
                        help="Output (generated) tokens per request; the same default in every command.",
                        callback=int_range("--output-tokens", 1, MAX_TOKENS))


def range_ratio_option() -> Any:
    return typer.Option(RANGE_RATIO, "--range-ratio",
                        help="Closed loop: each request's input and output tokens drawn uniformly between "
                             "ratio x L and L (--input-tokens, --output-tokens), as benchmark_serving's "
                             "--random-range-ratio (InferenceMAX: 0.8); 1 sends fixed lengths.",
                        callback=float_range("--range-ratio", 1.0))


def seed_option() -> Any:
    return typer.Option(0, "--seed", help=f"Random seed, 0 to {MAX_SEED:,}.", callback=int_range("--seed", 0, MAX_SEED))


def estimate_option() -> Any:
    return typer.Option("central", "--estimate", help="For estimated chip figures: low, central or high.",
                        callback=choice("--estimate", ESTIMATES))


_MS_HELP = {
    "--max-ttft-ms": "Limit on TTFT, ms: the concurrency (and layout) with the most output tokens/s that meets it "
                     "(implies --max-throughput, as the Python API's max_ttft_s).",
    "--max-tpot-ms": "Limit on TPOT, ms: the concurrency (and layout) with the most output tokens/s that meets it "
                     "(implies --max-throughput, as the Python API's max_tpot_s).",
    "--slo-ttft-ms": "SLO on TTFT, ms: the run meets it by its TTFT at --slo-percentile (default p99); goodput and "
                     "SLO attainment count the requests within every limit given.",
    "--slo-tpot-ms": "SLO on TPOT, ms: the run meets it by its TPOT at --slo-percentile (default p99); goodput and "
                     "SLO attainment count the requests within every limit given.",
}
_FORMAT_HELP = {"--weights": "Weight format: bf16, fp16, fp8, int8, fp4 (NVFP4; nvfp4), mxfp4, int4 (any case; e4m3, "
                             "e5m2, bfloat16, float16 read as fp8, bf16, fp16); default: what the "
                             "checkpoint ships (its config's quantization_config, else its torch_dtype).",
                "--activations": "Activation format (default follows weights).",
                "--kv": "KV-cache format (default follows activations)."}


def ms_option(name: str, help: str | None = None) -> Any:
    """A latency limit in milliseconds (--max-ttft-ms, --slo-tpot-ms, ...), with its help."""
    return typer.Option(None, name, help=help or _MS_HELP.get(name), callback=float_range(name, 1e9))


def format_option(name: str, default: str | None = None) -> Any:
    """--weights, --activations or --kv, with the same help in every LLM command; a format in any case comes back
    as the catalogue spells it (``spec.formats.canonical_format``: FP8 -> fp8), an unknown one as given (the
    setting's check refuses it, naming the option)."""
    return typer.Option(default, name, help=_FORMAT_HELP[name], callback=_format_name)


def _format_name(value: str | None) -> str | None:
    from inferchip.spec.formats import canonical_format

    return None if value is None else canonical_format(value)


def calibration_option() -> Any:
    return typer.Option(None, "--calibration", help="none, or a calibration YAML (default: the shipped one).",
                        callback=input_file("--calibration"))


def workers(requested: int, option: str = "--workers") -> int:
    """``requested`` processes, capped at the cores there are (a note says so on stderr)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    if requested > cores:
        from rich.console import Console

        Console(stderr=True).print(f"note: {option} {requested:,} capped at {cores} (the cores there are)",
                                   highlight=False, soft_wrap=True)
        return cores
    return requested


@dataclass(frozen=True)
class GivenModel:
    """``--model`` read once (:func:`read_model`): the text given (a catalogue id or a config path, the id the
    engine's records are looked up by), its model, and the user's config file it was read from (None: a catalogue
    id), from which the checkpoint's formats are read too; every step of a command takes this record, so a user's
    ``config.json`` is read once."""

    name: str
    spec: ModelSpec
    config: UserConfig | None


def read_model(model: str) -> GivenModel:
    """``--model`` as a :class:`GivenModel` (``catalog.models.load_model_config``: an unknown id or a bad file is
    the error that names it)."""
    from inferchip.catalog.models import load_model_config

    spec, config = load_model_config(model)
    return GivenModel(model, spec, config)


DOUBT_PREFIX = "inferchip: "  # catalog.hf_config: the conventions a config leaves implicit, added to ModelSpec.doubts


def config_notes(model: GivenModel) -> list[str]:
    """The conventions the parser supplied for a user's ``config.json`` (``catalog.hf_config``: a key it does not
    read, a width or tie the family's code implies), one note each naming the file; none for a catalogue id, whose
    bundled configs document them (``catalog/models``)."""
    if model.config is None:
        return []
    return [f"{model.config.path}: {d[len(DOUBT_PREFIX):]}" for d in model.spec.doubts if d.startswith(DOUBT_PREFIX)]


def print_notes(con: Any, notes: Sequence[str | None]) -> None:
    """Print each note given (None: none), as ``note: ...`` lines wrapped at the terminal's width, or at 100 columns
    in a pipe or file (:func:`.output.print_text`)."""
    from inferchip.interfaces.cli_options.output import print_text

    for note in notes:
        if note:
            print_text(con, note, "note", "yellow")


def check_context(model: GivenModel, input_tokens: int, output_tokens: int, trace: Path | None = None) -> str | None:
    """Refuse a request longer than the model's context window (``ModelSpec.check_context``): the lengths given,
    or with ``trace`` every request of the trace (naming its row); a note (returned) when the model states none."""
    spec = model.spec
    if spec.max_context_tokens is None:
        given = "the trace's" if trace is not None else f"{input_tokens + output_tokens:,}"
        return (f"{spec.id} states no context window (max_position_embeddings); "
                f"{given} tokens per request are not checked against one")
    if trace is not None:
        from inferchip.sim.load.trace import load_trace

        load_trace(trace, spec.max_context_tokens, spec.id)
        return None
    spec.check_context(input_tokens + output_tokens,
                       f"--input-tokens {input_tokens:,} + --output-tokens {output_tokens:,}")
    return None


def check_load(rate: float | None, duration: float | None) -> None:
    """Refuse a Poisson load whose expected number of requests would not end (``--rate`` x ``--duration``)."""
    from inferchip.errors import InvalidSettingError

    if rate is not None and duration is not None and rate * duration < 1:
        raise InvalidSettingError(
            f"--rate {rate:g} x --duration {duration:g} = {rate * duration:.3g} requests expected; "
            "allowed: at least 1 (lengthen --duration or give --requests)")
    if rate is not None and duration is not None and rate * duration > MAX_REQUESTS:
        raise InvalidSettingError(
            f"--rate {rate:g} x --duration {duration:g} = {rate * duration:,.0f} requests expected; "
            f"allowed: at most {MAX_REQUESTS:,} (shorten --duration or give --requests)")


def input_file(option: str, keywords: tuple[str, ...] = ("none",)) -> Callable[[Any], Any]:
    """A YAML or CSV the command reads (or one of ``keywords``): not blank, UTF-8 text when it exists
    (a missing file is reported by the reader, with its name)."""
    def check(value: Any) -> Any:
        if value is None or str(value) in keywords:
            return value
        text = str(value)
        if not text.strip() or text == ".":
            raise _bad(option, text, "a path to a file" + (f" or {', '.join(keywords)}" if keywords else ""))
        try:
            data = open(text, "rb").read() if os.path.isfile(text) else None
        except OSError as exc:
            raise typer.BadParameter(f"{text}: cannot read ({exc.strerror})", param_hint=f"'{option}'") from None
        if data is not None:
            try:
                data.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise typer.BadParameter(f"{text}: not UTF-8 text (byte {exc.start}: {exc.reason})",
                                         param_hint=f"'{option}'") from None
        return value
    return check


def number_format(option: str) -> Callable[[str | None], str | None]:
    """A number format (bf16, fp8, ...; any case: FP8 is fp8), checked before any work."""
    def check(value: str | None) -> str | None:
        from inferchip.spec.formats import ALL_FORMATS, canonical_format, unknown_format_reason

        why = None if value is None else unknown_format_reason(value)
        if why is not None:
            raise typer.BadParameter(f"{value!r}: {why}; allowed: {', '.join(ALL_FORMATS)}", param_hint=f"'{option}'")
        return choice(option, ALL_FORMATS)(None if value is None else canonical_format(value))
    return check
