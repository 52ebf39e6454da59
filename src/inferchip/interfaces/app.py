"""The typer application object every command module registers on."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="inferchip",
    help="Model AI inference chips: latency, throughput, memory fit, energy and cost of LLM inference.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
