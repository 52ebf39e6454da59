"""The options ``serve`` and ``curve`` share, declared once: each an ``Annotated`` type whose metadata is the
option (name, help text, the check its callback makes), so the two commands cannot drift apart in either (until
stop 51 each command declared its own list, and ``serve`` said "Chip id or chip YAML." where ``curve`` said where
the ids are listed). A command names the type and writes the default beside it, as typer takes an ``Annotated``
option's default from the signature (``chip: Chip``, ``tp: Tp = None``); tests/test_serve_curve_options.py checks
that both commands' shared options have the same help, default and type. The options of one command alone
(``serve --rate``, ``--find-count``; ``curve --plot``) and the SLO limits, whose help says what each command does with
them (``serve`` judges the run, ``curve`` marks its points), stay in the command.
"""

from __future__ import annotations

from copy import copy
from pathlib import Path
from typing import Annotated, Any

from inferchip.interfaces.cli_options import curve_slo as cs
from inferchip.interfaces.cli_options import engine as eng_opts
from inferchip.interfaces.cli_options import options as opts
from inferchip.interfaces.cli_options import serving as so


def _in_annotated(info: Any) -> Any:
    """A factory's ``typer.Option`` made fit for ``Annotated``: its default left to the signature (typer refuses a
    default inside ``Annotated``, and would read it as the option's name)."""
    info = copy(info)
    info.default = ...
    return info


Chip = Annotated[str, _in_annotated(opts.chip_option())]
Model = Annotated[str, _in_annotated(opts.model_option())]
Count = Annotated[int | None, _in_annotated(opts.count_option(
    "Chips in the system (replicas = count / (tp*pp)); with --disagg the pools' chips.", default=None))]
Tp = Annotated[int | None, _in_annotated(opts.parallel_option("tp"))]
Pp = Annotated[int | None, _in_annotated(opts.parallel_option("pp"))]
Ep = Annotated[int | None, _in_annotated(opts.parallel_option("ep"))]
AttnDp = Annotated[bool | None, _in_annotated(opts.attn_dp_option())]
Weights = Annotated[str | None, _in_annotated(opts.format_option("--weights", opts.DEFAULT_WEIGHTS))]
Activations = Annotated[str | None, _in_annotated(opts.format_option("--activations"))]
Kv = Annotated[str | None, _in_annotated(opts.format_option("--kv"))]
InputTokens = Annotated[int, _in_annotated(opts.input_tokens_option())]
OutputTokens = Annotated[int, _in_annotated(opts.output_tokens_option())]
RangeRatio = Annotated[float, _in_annotated(opts.range_ratio_option())]
Seed = Annotated[int, _in_annotated(opts.seed_option())]
Calibration = Annotated[str | None, _in_annotated(opts.calibration_option())]
Assumptions = Annotated[Path | None, _in_annotated(so.assumptions_option())]
Engine = Annotated[str | None, _in_annotated(eng_opts.engine_option(so.DEFAULT_SCHEDULER))]
MoeKernel = Annotated[str | None, _in_annotated(eng_opts.moe_kernel_option())]
ChunkTokens = Annotated[int | None, _in_annotated(eng_opts.chunk_option())]
Mtp = Annotated[int | None, _in_annotated(so.mtp_option())]
MtpAcceptance = Annotated[float | None, _in_annotated(so.accept_option())]
Disagg = Annotated[str | None, _in_annotated(so.disagg_option())]
Software = Annotated[str | None, _in_annotated(so.software_option())]
KvLink = Annotated[float | None, _in_annotated(so.link_option())]
KvLinkLatency = Annotated[float | None, _in_annotated(so.latency_option())]
SloPercentile = Annotated[str | None, _in_annotated(cs.percentile_option())]
