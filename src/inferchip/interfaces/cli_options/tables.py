"""Designed tables for answers that were printed as a raw list of keys.

``serve``: the latency figures as one table (mean, p50, p90, p99 in milliseconds, each
column labelled with its unit), then throughput, memory, energy and money, and the run, each
row in words with its unit. Keys of the JSON answer keep their names (``_s`` = seconds).
``curve``: one row per concurrency, the Pareto front starred. ``serve``/``curve`` with ``--mtp``/``--disagg``:
one row per closed-loop case row.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import Any

from rich import box
from rich.table import Table

from inferchip.interfaces import fmt
from inferchip.units import percent

LATENCIES = (("TTFT", "ttft_s"), ("TPOT", "tpot_s"), ("inter-token latency", "itl_s"),
             ("end-to-end latency", "e2e_s"), ("queueing", "queue_s"))


def _ms(v: Any) -> str:
    return "-" if v is None or not math.isfinite(v) else f"{v * 1e3:,.1f}"


def _num(spec: str, unit: str = "") -> Callable[[Any], str]:
    def f(v: Any) -> str:
        if v is None or (isinstance(v, float) and not math.isfinite(v)):
            return "-"
        return f"{format(v, spec)}{(' ' + unit) if unit else ''}"
    return f


def _pct(v: Any) -> str:
    return "-" if v is None else f"{percent(v):.1f}%"


SECTIONS: tuple[tuple[str, tuple[tuple[str, str, Callable[[Any], str]], ...]], ...] = (
    ("requests", (
        ("simulated", "num_requests", _num(",d")), ("completed", "num_completed", _num(",d")),
        ("rejected (do not fit)", "num_rejected", _num(",d")), ("unfinished", "num_unfinished", _num(",d")),
        ("run first as warm-up, not read (--warmups)", "warmup_requests", _num(",d")),
        ("read by the percentiles (finished, not warm-up)", "percentile_requests", _num(",d")),
        ("of them the first wave (one a client)", "first_wave_requests", _num(",d")),
    )),
    ("throughput (measurement window)", (
        ("requests/s", "requests_per_s", _num(",.3f", "req/s")),
        ("output tokens/s (total)", "output_tokens_per_s", _num(",.1f", "tok/s")),
        ("output tokens/s per chip", "output_tokens_per_s_per_chip", _num(",.1f", "tok/s")),
        ("output tokens/s per user", "output_tokens_per_s_per_user", _num(",.1f", "tok/s")),
        ("input tokens/s", "input_tokens_per_s", _num(",.1f", "tok/s")),
        ("goodput (within SLO)", "goodput_requests_per_s", _num(",.3f", "req/s")),
        ("SLO attainment", "slo_attainment_fraction", _pct),
    )),
    ("memory and scheduling", (
        ("preemptions", "preemptions", _num(",d")),
        ("KV cache used (mean)", "kv_cache_used_fraction_mean", _pct),
        ("KV cache used (max)", "kv_cache_used_fraction_max", _pct),
        ("running sequences (mean)", "running_seqs_mean", _num(",.1f")),
        ("prefill chunk per step and chip", "prefill_chunk_tokens", _num(",d", "tokens")),
        ("running-batch cap per attention-DP rank", "running_batch_cap", _num(",d", "sequences")),
        ("activations kept per chip (one chunk)", "activations_bytes_per_chip", lambda v: f"{v / 1e6:,.1f} MB"),
    )),
    ("energy and money", (
        ("power per chip (board, window)", "power_w_per_chip", _num(",.0f", "W")),
        ("power per chip (wall share, window)", "wall_power_w_per_chip", _num(",.0f", "W")),
        ("energy, whole run", "energy_j", _num(",.0f", "J")),
        ("energy, measurement window", "energy_window_j", _num(",.0f", "J")),
        ("output tokens per joule (window)", "output_tokens_per_j", _num(",.3f", "tok/J")),
        ("joules per output token (window)", "j_per_output_token", _num(",.3f", "J/tok")),
        ("chip price", "chip_price_usd", _num(",.0f", "USD")),
        ("chip price source", "chip_price_source", str),
        ("TCO per chip", "tco_usd_per_hour_per_chip", _num(",.3f", "USD/h")),
        ("$ per million output tokens", "usd_per_million_tokens", _num(",.3f", "USD")),
        ("output tokens/s per $ capex", "output_tokens_per_s_per_usd_capex", _num(",.4f")),
    )),
    ("run", (
        ("measurement window start", "window_start_s", _num(",.2f", "s")),
        ("measurement window end", "window_end_s", _num(",.2f", "s")),
        ("makespan", "makespan_s", _num(",.2f", "s")),
        ("first half of the arrivals (open loop)", "ramp_s", _num(",.2f", "s")),
        ("fastest request, first step to last token", "service_s_min", _num(",.2f", "s")),
        ("steps", "num_steps", _num(",d")), ("step-model evaluations", "step_model_evaluations", _num(",d")),
        ("replicas", "num_replicas", _num(",d")), ("chips", "num_chips", _num(",d")),
        ("runtime devices per package (chips: devices)", "runtime_devices_per_package", _num(",d")),
        ("offered rate (open loop)", "offered_requests_per_s", _num(",.3g", "req/s")),
        ("most the system completes (bound)", "capacity_requests_per_s", _num(",.3g", "req/s")),
        ("  at a decode batch per replica of", "capacity_batch_per_replica", _num(",d")),
        ("  the batch limit (cap or KV cache)", "capacity_batch_limit", _num(",d")),
        ("  its decode step", "capacity_step_s", lambda v: f"{v * 1e3:,.2f} ms"),
        ("offered rate over the bound (saturated)", "over_capacity", lambda v: "yes" if v else "no"),
        ("typical end-to-end time at the load (estimate)", "e2e_s_estimate", _num(",.2f", "s")),
        ("  no steady state in the estimate", "load_beyond_estimate", lambda v: "yes" if v else "no"),
        ("ramp the load needs to settle (estimate)", "ramp_s_needed", _num(",.2f", "s")),
        ("saturated (queue grows)", "saturated", lambda v: "yes" if v else "no"),
        ("stopped at the time cap", "hit_time_cap", lambda v: "yes" if v else "no"),
    )),
)


FORMAT_KEYS = ("weights", "activations", "kv", "weights_source", "activations_source", "kv_source")  # formats_line


def formats_line(fields: dict[str, Any]) -> str:
    """The formats of a serve or curve run and where each came from, in one line."""
    return (f"formats (w/a/kv): {fields['weights']}/{fields['activations']}/{fields['kv']}; weights format from "
            f"{fields['weights_source']}; activations from {fields['activations_source']}; KV from "
            f"{fields['kv_source']}" + (f"; {fields['attention_source']}" if fields.get("attention_source") else ""))


SOURCE_KEYS = {"prefill_chunk_source": "prefill chunk", "running_batch_cap_source": "running-batch cap"}


def source_lines(summary: dict[str, Any]) -> list[str]:
    """Where ``serve``'s chunk and running-batch cap came from, as lines below its tables: a sentence with its
    source in a right-aligned table cell made the table ~350 columns wide in a pipe (every row padded to it) and
    wrapped it into a ragged right-aligned paragraph on a terminal. One line where both came from the same rule."""
    given = [(label, summary[key]) for key, label in SOURCE_KEYS.items() if summary.get(key)]
    if len(given) == 2 and given[0][1] == given[1][1]:
        return [f"{given[0][0]} and {given[1][0]} from: {given[0][1]}"]
    return [f"{label} from: {text}" for label, text in given]


def serve_tables(summary: dict[str, Any], title: str, marks: Mapping[str, str | None] | None = None) -> list[Table]:
    """The latency table and the table of everything else, for ``serve``'s summary; ``marks``: a key's figure to mark
    (in brackets after it, e.g. a $ per million tokens of a saturated run; None: unmarked)."""
    lat = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD)
    lat.add_column("latency (ms)", overflow="fold")
    for q in ("mean", "p50", "p90", "p99"):
        lat.add_column(q, justify="right", overflow="fold")
    for label, key in LATENCIES:
        if any(f"{key}_{q}" in summary for q in ("mean", "p50", "p90", "p99")):
            lat.add_row(label, *(_ms(summary.get(f"{key}_{q}")) for q in ("mean", "p50", "p90", "p99")))
    rest = Table(box=box.SIMPLE_HEAD, show_header=False)
    rest.add_column(overflow="fold")
    rest.add_column(justify="right", overflow="fold")
    shown = {k for _, k in LATENCIES}
    for section, rows in SECTIONS:
        present = [(label, key, f) for label, key, f in rows if key in summary]
        if not present:
            continue
        rest.add_row(f"[bold]{section}[/]", "")
        for label, key, f in present:
            v = summary[key]
            mark = (marks or {}).get(key)
            rest.add_row(f"  {label}", ("-" if v is None else f(v)) + (f" ({mark})" if mark and v is not None else ""))
            shown.add(key)
    known = ({k for _, rows in SECTIONS for _, k, _ in rows}
             | {"assumptions_file", "calibration_source", "engine", "tp", "pp", "ep", "attn_dp", "chip_id", "model_id",
                "slo", "tco_assumptions", "sizing", "capacity_rule", *FORMAT_KEYS,
                *SOURCE_KEYS})  # own lines; layout etc.: the title
    extra = [k for k in summary if k not in known and not any(k.startswith(p + "_") for _, p in LATENCIES)]
    if extra:  # a figure this table does not know yet: shown as it is, not dropped
        rest.add_row("[bold]other[/]", "")
        for k in extra:
            rest.add_row(f"  {k}", str(summary[k]))
    return [lat, rest]


def _or_dash(v: float | None, spec: str) -> str:
    """``v`` formatted, or '-' where it has no value (null in the JSON; NaN: no token follows the first)."""
    return "-" if v is None or math.isnan(v) else format(v, spec)


CURVE_COLUMNS = ("concur-\nrency", "tok/s\nper user", "tok/s\nper chip", "TTFT\nmean ms", "TTFT\np50 ms",
                 "TPOT\nmean ms", "W/chip", "tok/J", "$/Mtok", "tok/s per\n$ capex", "")
"""``curve``'s columns, each unit in its header (two lines) so the cells are bare numbers: the table fits a 100-column
terminal with no cell cut or wrapped (its one-line headers made it 133 columns: "concur…", "9.78 / ms"). With an SLO
at a percentile the two TTFT columns are the TTFT at it and a TPOT column at it follows the mean TPOT (the mean and
median TTFT stay in the JSON), then the SLO column: 99 columns."""


def _ms_bare(seconds: Any) -> str:
    return "-" if seconds is None else fmt.ms(seconds).removesuffix(" ms")


def curve_table(records: Sequence[Mapping[Hashable, Any]], title: str, slo: dict[str, Any] | None = None) -> Table:
    """``curve``'s points, one row each: throughput, latency, energy and money, ``*`` on the Pareto front; with an
    SLO (``slo``: ``curve_slo.mark_points``' key) a column ``SLO``: ``best``, ``ok`` or ``-``, and at a percentile the
    TTFT and TPOT at it (:data:`CURVE_COLUMNS`)."""
    from inferchip.interfaces.cli_options.curve_slo import cell, statistic_cells

    t = Table(title=f"{title} (* = Pareto front)", title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False,
              collapse_padding=True)
    at_header = statistic_cells(None, slo)  # () without an SLO or at the mean
    columns = list(CURVE_COLUMNS)
    if at_header:
        columns[3:5] = [at_header[0]]
        columns.insert(5, at_header[1])
    for c in (*columns, *(() if slo is None else ("SLO",))):
        t.add_column(c, justify="right", overflow="fold")

    for r in records:
        point = {str(k): v for k, v in r.items()}
        slo_cell = cell(point, slo)
        at = statistic_cells(point, slo)
        ttft = ((_ms_bare(at[0]),) if at else
                (_ms_bare(r.get("ttft_s_mean", float("nan"))), _ms_bare(r.get("ttft_s_p50", float("nan")))))
        t.add_row(f"{r.get('concurrency'):,}", _or_dash(r.get("output_tokens_per_s_per_user"), ",.1f"),
                  f"{r['output_tokens_per_s_per_chip']:,.1f}", *ttft,
                  _ms_bare(r.get("tpot_s_mean", float("nan"))), *(_ms_bare(v) for v in at[1:]),
                  _or_dash(r.get("power_w_per_chip"), ",.0f"),
                  _or_dash(r.get("output_tokens_per_j"), ",.3f"), _or_dash(r.get("usd_per_million_tokens"), ",.3f"),
                  _or_dash(r.get("output_tokens_per_s_per_usd_capex"), ".4f"), "*" if r.get("pareto") else "",
                  *(() if slo_cell is None else (slo_cell,)))
    return t


def case_rows_table(rows: list[dict[str, Any]], title: str, slo: dict[str, Any] | None = None) -> Table:
    """The closed-loop case rows of ``--mtp``/``--disagg``, one row per concurrency (``slo``: as in curve_table), the
    units in two-line headers and the cells bare numbers as in :func:`curve_table` (boxed one-line headers and
    ``ms`` in every cell made it 127 columns with an SLO)."""
    from inferchip.interfaces.cli_options.curve_slo import cell, statistic_cells

    t = Table(title=title + " (closed-loop benchmark of a case row)", title_justify="left", box=box.SIMPLE_HEAD,
              pad_edge=False, collapse_padding=True)
    for c in ("concur-\nrency", "TTFT\nmean ms", "TTFT\np50 ms", "TPOT\nmean ms", "tok/s\nper user",
              "tok/s\nper chip", "tokens\n/step", *statistic_cells(None, slo), *(() if slo is None else ("SLO",))):
        t.add_column(c, justify="right", overflow="fold")
    for r in rows:
        slo_cell = cell(r, slo)
        t.add_row(f"{r['concurrency']:,}", _ms_bare(r["ttft_s_mean"]), _ms_bare(r["ttft_s_p50"]),
                  _ms_bare(r["tpot_s_mean"]), _or_dash(r.get("output_tokens_per_s_per_user"), ",.1f"),
                  f"{r['output_tokens_per_s_per_chip']:,.1f}", f"{r['tokens_per_step']:.3g}",
                  *(_ms_bare(v) for v in statistic_cells(r, slo)), *(() if slo_cell is None else (slo_cell,)))
    return t


def system_text(chip_id: str, packages: int, devices_per_package: int) -> str:
    """``packages`` x ``chip_id`` as a title names the system, with the runtime devices they are where a package is
    several to its runtime (an MI250X: two GCDs; ``ChipParams.devices_per_package``), as predict, serve and curve
    title it."""
    n = devices_per_package
    return f"{packages:,} x {chip_id}" + ("" if n == 1 else f" ({packages * n:,} runtime devices)")


def devices_note(chip_id: str, packages: int, devices_per_package: int) -> list[str]:
    """serve's and curve's note on a package its runtime sees as several devices (none where it sees one): what the
    per-chip figures are, as predict's JSON key ``runtime_devices_per_package`` documents them."""
    n = devices_per_package
    return [] if n == 1 else [
        f"{chip_id}: its runtime sees each package as {n} devices (the chip file's memory.runtime_devices): "
        f"{packages} package(s) run as {packages * n} devices, and every per-chip figure (tokens/s, power, memory, "
        f"price, TCO) is one device's, the package's price shared by its {n} devices"]
