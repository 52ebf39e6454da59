"""``serve`` and ``curve`` declare their shared options once (interfaces/cli_options/system_params.py, stop 51):
each shared option has the same names, help, default, type and check in both commands, so they cannot drift."""

from __future__ import annotations

import typer
from typer.main import get_command

from inferchip.interfaces.app import app
from inferchip.interfaces.cmd_curve import curve_cmd
from inferchip.interfaces.cmd_serve import serve_cmd

SHARED = {"chip", "model", "count_given", "tp", "pp", "ep", "attn_dp", "weights", "activations", "kv", "input_tokens",
          "output_tokens", "range_ratio", "seed", "calibration", "assumptions", "engine", "moe_kernel", "chunk_tokens",
          "mtp", "mtp_acceptance", "disagg", "software", "kv_link_gb_per_s", "kv_link_latency_us", "slo_percentile",
          "output"}


def _params(callback: object) -> dict[str, object]:
    one = typer.Typer()
    [info] = [c for c in app.registered_commands if c.callback is callback]
    one.registered_commands = [info]
    return {p.name: p for p in get_command(one).params}


def test_the_shared_options_are_the_same_in_both_commands():
    serve, curve = _params(serve_cmd), _params(curve_cmd)
    assert SHARED <= serve.keys() & curve.keys()
    for name in SHARED:
        s, c = serve[name], curve[name]
        assert (s.opts, s.secondary_opts, s.help, s.default, s.required, repr(s.bare_type), s.callback is None) == \
               (c.opts, c.secondary_opts, c.help, c.default, c.required, repr(c.bare_type), c.callback is None), name


def test_the_slo_limits_keep_each_command_s_own_help():
    serve, curve = _params(serve_cmd), _params(curve_cmd)
    assert serve["slo_ttft_ms"].help != curve["slo_ttft_ms"].help  # serve judges the run, curve marks its points
    assert "the run meets it" in serve["slo_ttft_ms"].help and "points" in curve["slo_ttft_ms"].help


def test_a_changed_shared_help_would_show():
    serve, curve = _params(serve_cmd), _params(curve_cmd)
    serve["tp"].help = "drifted"
    assert serve["tp"].help != curve["tp"].help  # the comparison above would catch it
