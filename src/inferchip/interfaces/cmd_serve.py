"""``inferchip serve`` and ``inferchip curve``: the serving simulator on the core model (the system they
simulate: :mod:`inferchip.interfaces.serve_system`; their ``--mtp``/``--disagg`` case rows:
:mod:`inferchip.interfaces.serve_rows`)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from inferchip.errors import InternalError, InvalidSettingError
from inferchip.interfaces import fmt
from inferchip.interfaces.app import app
from inferchip.interfaces.cli_options import curve_slo as cs
from inferchip.interfaces.cli_options import engine as eng_opts
from inferchip.interfaces.cli_options import files, fleet
from inferchip.interfaces.cli_options import options as opts
from inferchip.interfaces.cli_options import output as out
from inferchip.interfaces.cli_options import serving as so
from inferchip.interfaces.cli_options import system_params as sp
from inferchip.interfaces.cli_options.fleet import fleet_help
from inferchip.interfaces.cli_options.tables import (
    case_rows_table,
    devices_note,
    formats_line,
    serve_tables,
    source_lines,
    system_text,
)
from inferchip.interfaces.cmd_predict import OutputFormat
from inferchip.interfaces.serve_system import (
    calibration_source,
    layout_keys,
    layout_text,
    mean_prompt_tokens,
    resolver,
    shortest_trace_prompt,
    step_fields,
    system,
    trace_load,
    trace_text,
)
from inferchip.sim.load.lengths import RANGE_RATIO

if TYPE_CHECKING:
    from inferchip.interfaces.serve_rows import Pool
    from inferchip.performance.setting import Setting
    from inferchip.sim.load.arrivals import ArrivalsLike


def progress_bar(label: str) -> Progress:
    """A bar on stderr where it is a terminal; none elsewhere (a transient bar on a pipe or a file still ends with a
    newline: one blank line a run, 70 of them in a --find-count's log)."""
    con = Console(stderr=True)
    return Progress(TextColumn(label), BarColumn(), TextColumn("{task.percentage:>3.0f}%"), TimeElapsedColumn(),
                    transient=True, console=con, disable=not con.is_terminal)


def assumptions_file(path: Path | None) -> str:
    """The assumptions file the energy and money figures use (a user file is merged over the bundled one)."""
    from inferchip.catalog.assumptions import BUNDLED_PATH

    return str(BUNDLED_PATH) if path is None else f"{path} (merged over {BUNDLED_PATH})"


def row_summary(chip: str, model: opts.GivenModel, count: int, count_given: int | None, tp: int | None,
                 pp: int | None, ep: int | None, attn_dp: bool | None, weights: str | None, activations: str | None,
                 kv: str | None, calibration: str | None, engine: str | None, mtp: int | None, acceptance: float | None,
                 pools: tuple[Pool, Pool] | None, link_gb_per_s: float | None, link_latency_us: float | None,
                 input_tokens: int, output_tokens: int, concurrencies: list[int] | tuple[int, ...],
                 software: str | None) -> list[dict[str, Any]]:
    """``--mtp``/``--disagg``: each concurrency's closed-loop case row predicted as ``validate`` predicts it
    (:mod:`inferchip.interfaces.serve_rows`); the layout is searched as without them where none is given.
    ``model``: ``--model`` read once; ``count_given``: ``--count`` as given, None for the default; ``pools``: parsed."""
    from inferchip.catalog.models import mtp_modules
    from inferchip.interfaces import serve_rows as sr
    from inferchip.mapping.format_defaults import format_sources, stated_formats
    from inferchip.validation.plan import case_formats

    # the notes serve's and curve's other paths print: no context window stated, a user config's parser notes
    model_notes = [n for n in (opts.check_context(model, input_tokens, output_tokens), *opts.config_notes(model)) if n]
    n = sr.package_devices(chip)  # the rows count the runtime's devices (an MI250X's GCDs), --count packages
    sr.disagg_layout_conflict(pools, count_given, any(x is not None for x in (tp, pp, ep, attn_dp)), n)
    weights, source, kv, kv_source = stated_formats(model.name, weights, kv, model.config)  # a row states them
    from inferchip.performance.setting.engine import engine_choice, named_engine

    engine_id = None if engine is None else named_engine(engine).id
    v = sr.row_validator(calibration, engine_id, mtp, acceptance, link_gb_per_s, link_latency_us, software, model)
    sr.check_row_engine(v.engine_spec, chip, "--engine" if engine_id else "--software" if software else
                        "--mtp/--disagg (an engine's benchmark; without --engine the default engine)")
    over_limit = []
    # the back end's compiled step sizes (vLLM's TPU and Gaudi back ends), as the rows resolve them (validation.
    # closed_loop.EngineReplica: at the engine's cap and step budget on the chip): the layout search prices them too
    choice = engine_choice(engine_id or v.engine_spec.id, calibration, chip)
    padding = choice.padding_at(int(choice.caps.chunk_tokens))
    if pools is None and (len(concurrencies) > 1 or (tp is None and pp is None and ep is None)):
        cal = choice.calibration  # the engine's (else the default engine's) on the chip
        step, replicas, _ = system(chip, model, count, tp, pp, ep, weights, activations, kv, cal,
                                   None, attn_dp, input_tokens, output_tokens, searched_rows=True, padding=padding)
        lay = step.mm.layout
        tp, pp, ep, attn_dp = lay.tp, lay.pp, lay.ep, lay.attn_dp
        over_limit = sr.memory_limit_note(step.kv_capacity_tokens, replicas, input_tokens, output_tokens,
                                          concurrencies)
    sr.check_row_layout(pp, attn_dp)
    if ep is None and attn_dp and tp:  # --attn-dp's --ep default is --tp, as predict and plain serve read it
        ep = tp
    mtp_key, mtp_notes = (None, []) if mtp is None else sr.mtp_setting(mtp, v.engine_spec)
    extra = {"mtp": mtp_key, "disagg": sr.disagg_keys(pools, v.kv_link)}
    rows, act_source = [], None
    no_module = [] if not mtp or mtp_modules(model.name, model.config) != 0 else [
        f"model {model.name}: its config states no MTP module (num_nextn_predict_layers); --mtp prices {mtp} draft "
        "token(s) verified per step as if a drafter proposed them at no cost"]
    for c in concurrencies:
        case = sr.closed_loop_case(chip, model.name, count=count * n, tp=tp or 1, pp=pp or 1, ep=ep or 1,
                                   attn_dp=bool(attn_dp), weights=weights, activations=activations, kv=kv,
                                   engine_id=engine_id, input_tokens=input_tokens, output_tokens=output_tokens,
                                   concurrency=c, mtp=bool(mtp), disagg=pools, software=software)
        row = sr.run_row(v, case)
        if act_source is None:  # from the formats the rows ran (case_formats: one for every concurrency)
            act_source = format_sources(case_formats(case, model.config)[0], activations, kv, source)[0]
        rows.append({**row, "weights": weights, "weights_source": source, "activations_source": act_source,
                     "kv_source": kv_source, "runtime_devices_per_package": n, **extra, "notes": [
                         *row["notes"], *mtp_notes, *no_module, *over_limit, *model_notes,
                         *([padding.text] if padding else []),
                         *devices_note(chip, row["num_chips"] // n, n)]})
    return rows


@app.command("serve")
def serve_cmd(
    chip: sp.Chip,
    model: sp.Model,
    count_given: sp.Count = None,
    tp: sp.Tp = None, pp: sp.Pp = None, ep: sp.Ep = None, attn_dp: sp.AttnDp = None,
    weights: sp.Weights = None, activations: sp.Activations = None, kv: sp.Kv = None,
    rate: float | None = typer.Option(None, "--rate", help=opts.RATE_HELP,
                                         callback=opts.float_range("--rate", opts.MAX_RATE_PER_S,
                                                                   lo=opts.MIN_RATE_PER_S, lo_open=False)),
    concurrency: int | None = so.concurrency_option(),
    trace: Path | None = typer.Option(None, "--trace", help="CSV/JSONL with arrival_s,input_tokens,output_tokens."),
    input_tokens: sp.InputTokens = opts.DEFAULT_INPUT_TOKENS,
    output_tokens: sp.OutputTokens = opts.DEFAULT_OUTPUT_TOKENS,
    range_ratio: sp.RangeRatio = RANGE_RATIO,
    duration: float | None = typer.Option(None, "--duration", help=opts.DURATION_HELP,
                                             callback=opts.float_range("--duration", opts.MAX_DURATION_S,
                                                                       lo=opts.MIN_DURATION_S, lo_open=False)),
    requests: int | None = typer.Option(None, "--requests", help=opts.REQUESTS_HELP,
                                           callback=opts.int_range("--requests", 1, opts.MAX_REQUESTS)),
    warmups: int = typer.Option(0, "--warmups", help=opts.WARMUPS_HELP,
                                callback=opts.int_range("--warmups", 0, opts.MAX_REQUESTS - 1)),
    slo_ttft_ms: float | None = opts.ms_option("--slo-ttft-ms"),
    slo_tpot_ms: float | None = opts.ms_option("--slo-tpot-ms"),
    slo_percentile: sp.SloPercentile = None,
    find_count: bool = typer.Option(False, "--find-count", help=fleet_help()),
    seed: sp.Seed = 0,
    calibration: sp.Calibration = None,
    assumptions: sp.Assumptions = None,
    engine: sp.Engine = None, moe_kernel: sp.MoeKernel = None, chunk_tokens: sp.ChunkTokens = None,
    mtp: sp.Mtp = None, mtp_acceptance: sp.MtpAcceptance = None,
    disagg: sp.Disagg = None, software: sp.Software = None,
    kv_link_gb_per_s: sp.KvLink = None, kv_link_latency_us: sp.KvLinkLatency = None,
    output: OutputFormat = typer.Option(OutputFormat.table, "--format"),
) -> None:
    """Simulate serving under load: continuous batching, chunked prefill, paged KV cache, preemption.

    Unless --tp/--pp/--ep are given, the layouts that carry the load are ordered by their mean end-to-end latency
    (--concurrency C: C clients, where that is also the most throughput, requests/s = C / E2E; --rate R or
    --trace: R or the trace's mean rate). Without an SLO the first is run; with --slo-ttft-ms/--slo-tpot-ms they
    are run in that order (at most 8) and the first whose run meets the SLO at --slo-percentile (default p99, as
    MLPerf's Server scenario reads a run) is kept, else the first; the note 'layout:' says which rule chose it.
    """
    count = 1 if count_given is None else count_given
    from inferchip.interfaces.serve_rows import check_options, no_recipe_options_with_rows, parse_disagg, rows_system
    from inferchip.sim import PoissonArrivals, TraceArrivals, benchmark_clients, simulate_client
    from inferchip.sim.runs.simulate import checked_warmups, unread_warmups

    given = [x is not None for x in (rate, concurrency, trace)]
    if sum(given) != 1:
        raise InvalidSettingError("give exactly one of --rate R, --concurrency C or --trace FILE")
    pools = parse_disagg(disagg)  # once (its option's callback checked the form)
    check_options(mtp, mtp_acceptance, pools, kv_link_gb_per_s, kv_link_latency_us,
                  concurrency=concurrency, range_ratio=range_ratio, software=software,
                  given={"--requests": requests is not None, "--duration": duration is not None,
                         "--assumptions": assumptions is not None, "--warmups": warmups > 0})
    no_recipe_options_with_rows(moe_kernel, chunk_tokens, mtp, disagg)
    stat = cs.statistic(slo_percentile, slo_ttft_ms, slo_tpot_ms)  # the SLO's percentile, refused without a limit
    fleet.check_find_count(find_count, slo_ttft_ms, slo_tpot_ms, mtp is not None or disagg is not None)
    loaded = opts.read_model(model)  # a user's config.json read once, for every step below, the rows' too
    if mtp is not None or disagg is not None:
        if concurrency is None:
            raise InternalError("check_options refuses --mtp/--disagg without --concurrency")
        row = row_summary(chip, loaded, count, count_given, tp, pp, ep, attn_dp, weights, activations, kv, calibration,
                           engine, mtp, mtp_acceptance, pools, kv_link_gb_per_s, kv_link_latency_us, input_tokens,
                           output_tokens, [concurrency], software)[0]
        row["slo"] = cs.judge_run(row, slo_ttft_ms, slo_tpot_ms, stat)  # the row's figures at the SLO's percentile
        print_rows([row], f"{model} on {rows_system(chip, row, pools)}", output)
        return
    if duration is None and requests is None and trace is None:
        requests = 1000
    opts.check_load(rate, duration)
    if trace is not None:
        files.check_readable_text(trace, "--trace")
    context_note = opts.check_context(loaded, input_tokens, output_tokens, trace)
    from inferchip.performance.fleet import FleetQuestion, served_load
    from inferchip.performance.serving import serving_economics
    from inferchip.performance.serving.capacity import OVER_CAPACITY_RATIO, capacity_bound, with_capacity

    resolve = resolver(chip, loaded, weights, activations, kv, calibration,
                       None if assumptions is None else str(assumptions), engine, moe_kernel, chunk_tokens)
    # the engine's six changes (engine=, moe_kernel=) read from a setting, resolved once with it as ic.serve and
    # ic.find_count resolve them: the load's running cap, the output's caps, notes and engine record; --find-count's
    # search starts from one replica, so it is read from one replica's setting (attention DP then judged per count)
    searched = tp is None and pp is None and ep is None
    first = resolve(count=(tp or 1) * (pp or 1) if find_count else count, tp=tp, pp=pp, ep=ep,
                    attn_dp=None if find_count and searched else attn_dp)
    served, choice, cal_source = first.engine, first.choice, calibration_source(calibration)
    caps = choice.caps
    chunk, chunk_source = eng_opts.chunk_setting(chunk_tokens, caps)
    slo_s = (None if slo_ttft_ms is None else slo_ttft_ms / 1e3, None if slo_tpot_ms is None else slo_tpot_ms / 1e3)
    rate_at, lengths = (rate, (input_tokens, output_tokens)) if trace is None else trace_load(trace)
    shortest_prompt = lengths[0] if trace is None else shortest_trace_prompt(trace)  # the capacity bound's context
    load = served_load(*lengths, concurrency=concurrency, rate_per_s=rate_at, running_cap=caps.max_num_seqs,
                       text=None if trace is None else trace_text(rate_at, lengths))

    def simulate(setting: Setting) -> tuple[Any, int, dict[str, str], Any, Any, Any]:
        """A one-layout setting's run: (step model, replicas, formats, engine host, result, the most requests/s the
        system completes: an open loop's capacity bound, None in a closed loop)."""
        step, replicas, formats = step_fields(setting)
        arr: ArrivalsLike
        if rate is not None:
            arr = PoissonArrivals(rate_per_s=rate, input_tokens=input_tokens, output_tokens=output_tokens)
        elif concurrency is not None:
            arr = benchmark_clients(concurrency, input_tokens, output_tokens, range_ratio)
        else:
            arr = TraceArrivals(path=str(trace))
        host = None if setting.engine is None else setting.engine.host(  # a trace is read for its mean prompt only
            mean_prompt_tokens(trace, input_tokens), step.mm.formats.weights)  # with --engine
        with progress_bar(f"simulating {setting.count:,} chips") as prog:
            task = prog.add_task("sim", total=1.0)
            res = simulate_client(step, arr, 0.0 if host is None else host.outside_loop_s, duration_s=duration,
                                  num_requests=requests, seed=seed, replicas=replicas,
                                  scheduler_config=(config := setting.scheduler(step.ranks)), slo_ttft_s=slo_s[0],
                                  slo_tpot_s=slo_s[1], progress=lambda f: prog.update(task, completed=f))
        res = unread_warmups(res, checked_warmups(warmups, requests, "warmups"), "warmups")  # named --warmups
        bound = None if rate_at is None else capacity_bound(step, replicas, config, shortest_prompt, lengths[1],
                                                             lengths[0])
        return step, replicas, formats, host, res, bound

    def verdict(r: tuple[Any, ...]) -> dict[str, Any]:
        return cs.judge_run(with_capacity(r[4].summary(), rate_at, r[5]), slo_ttft_ms, slo_tpot_ms, stat) or {}

    # one search with ic.find_count: the layout given, or at each count the candidates that carry the load run in
    # order of their mean end-to-end latency until one meets the SLO at its percentile
    question = FleetQuestion(resolve, None if tp is None and pp is None and ep is None else
                             {"tp": tp, "pp": pp, "ep": ep, "attn_dp": attn_dp}, load, simulate,
                             None if slo_s == (None, None) else lambda r: bool(verdict(r).get("meets")), stat,
                             attn_dp_given=attn_dp)
    sizing = None
    if find_count:  # the fewest chips whose run meets the SLO at its percentile (the search's runs, one table)
        count, sizing = fleet.smallest_count(question, count, verdict, slo_ttft_ms, slo_tpot_ms)
    (step, replicas, formats, host, res, bound), layout_rule = sizing.pop("run") if sizing else question.run(count)
    layout_rule = layout_rule or None  # how the layout was searched: a note
    summary = with_capacity(res.summary(), rate_at, bound)  # an offered rate over the bound: saturated
    if "power_w_per_chip" in summary:
        summary.update(serving_economics(step, summary, res.num_chips))
    summary.update(formats, assumptions_file=assumptions_file(assumptions), calibration_source=cal_source)
    summary["engine"] = None if served is None else served.summary(chunk, host=host, caps=caps)
    summary.update(running_batch_cap=caps.max_num_seqs, running_batch_cap_source=caps.reason)  # per rank
    # continuous batching: the KV pool leaves room for one chunk's activations (flat keys, as the summary's)
    summary.update(prefill_chunk_tokens=chunk, prefill_chunk_source=chunk_source,
                   activations_bytes_per_chip=float(step.mm.chunk_activation_bytes()),
                   **layout_keys(step),  # the layout the title names (searched unless given)
                   chip_id=step.mm.chip.id, model_id=step.mm.model.id)  # what was simulated, as predict's JSON
    n = summary["runtime_devices_per_package"] = step.mm.chip.devices_per_package  # as predict's JSON
    summary["sizing"] = sizing  # --find-count's search (None without it)
    slo = summary["slo"] = cs.judge_run(summary, slo_ttft_ms, slo_tpot_ms, stat)  # the run at the SLO's percentile
    summary["tco_assumptions"] = so.tco_assumptions(step, summary)  # the $ figures' terms (None: no TDP, no money)
    notes = so.serve_notes([*choice.notes_at(chunk), *devices_note(step.mm.chip.id, count, n), context_note,
                            *opts.config_notes(loaded), layout_rule], slo_tpot_ms, res.requests["output_tokens"])
    if output == OutputFormat.json:  # the same notes as the text's
        typer.echo(fmt.to_json({**out.with_all_keys(summary, out.SERVE_ENERGY_KEYS), "notes": notes}))
        return
    title = f"{step.mm.model.id} on {system_text(step.mm.chip.id, count, n)} ({layout_text(step, replicas)})"
    con = out.console()
    for t in serve_tables(summary, title, {"usd_per_million_tokens": so.money_mark(summary)}):
        con.print(t)
    text = Console()  # prose lines, wrapped at 100 columns in a pipe (out.print_text)
    for line in [*source_lines(summary), formats_line(summary)]:
        out.print_text(text, line)
    out.print_text(text, summary["assumptions_file"], "assumptions")
    out.print_text(text, cal_source, "calibration")
    if summary["tco_assumptions"]:
        out.print_text(text, summary["tco_assumptions"], "money")
    # the cap: its table row
    out.print_text(text, eng_opts.choice_line(choice, summary["engine"], so.DEFAULT_SCHEDULER))
    if slo is not None:
        out.print_text(text, cs.run_line(slo))
    if sizing is not None:
        out.print_text(text, fleet.sizing_line(sizing))
    opts.print_notes(text, list(notes))
    if "power_w_per_chip" not in summary:
        out.print_text(text, f"{chip} publishes no TDP, so power, tokens/J and $ are unavailable", "no energy",
                       "yellow")
    warm, fastest = summary.get("ramp_s"), summary.get("service_s_min")
    if summary["over_capacity"]:
        out.print_text(text, f"the offered {rate_at:,.3g} requests/s is more than this system completes, at most "
                       f"{summary['capacity_rule']}, by more than the {1 - OVER_CAPACITY_RATIO:.0%} the saturation "
                       "test allows: the queue grows, whatever the run's length", "saturated", "yellow")
    elif summary.get("saturated") and summary.get("load_beyond_estimate") is False and warm is not None and (
            summary.get("ramp_s_needed") is not None and warm < summary["ramp_s_needed"]):
        out.print_text(text, f"the queue grew, but within the ramp of a run too short to tell: the first half of its "
                       f"arrivals ({warm:,.1f} s) ends before the {summary['ramp_s_needed']:,.1f} s its load needs to "
                       "settle (the step model's estimate); lengthen it (--duration)", "saturated", "yellow")
    elif summary.get("saturated") and summary.get("ramp_s_needed") is None and warm is not None and (
            fastest is not None and warm < fastest):
        out.print_text(text, f"the queue grew, but within the ramp of a run too short to tell: the first half of its "
                       f"arrivals ({warm:,.1f} s) ends before its fastest request could finish ({fastest:,.1f} s); "
                       "lengthen it (--duration)", "saturated", "yellow")
    elif summary.get("saturated"):
        out.print_text(text, "the queue grows; this load exceeds what the system sustains", "saturated", "yellow")


def print_rows(rows: list[dict[str, Any]], title: str, output: OutputFormat, curve: bool = False,
                slo: dict[str, Any] | None = None) -> None:
    """The closed-loop rows of ``--mtp``/``--disagg`` as JSON (``serve``: the one row; ``curve``: ``points``) or a
    table with the notes the validator gave the row."""
    if output == OutputFormat.json:
        # curve: the notes the text prints (the last row's) as the top-level key serve's row and curve's JSON have
        typer.echo(fmt.to_json({"engine": rows[0]["engine"], "points": rows, "slo": slo, "notes": rows[-1]["notes"]}
                               if curve else rows[0]))
        return
    con = out.console()
    con.print(case_rows_table(rows, title, slo))
    cs.print_line(con, slo, len(rows))
    if not curve and rows[0].get("slo"):  # serve's row judged at the SLO's percentile
        con.print(cs.run_line(rows[0]["slo"], goodput=False), markup=False)
    out.print_text(con, rows[0]["engine"], "engine")
    opts.print_notes(con, rows[-1]["notes"])
