"""``inferchip curve``: the throughput-interactivity curve on the serving simulator (``serve``'s system,
:mod:`inferchip.interfaces.cmd_serve`; its ``--mtp``/``--disagg`` case rows: :mod:`inferchip.interfaces.serve_rows`),
its points judged against an SLO at the percentile the user names
(:mod:`inferchip.interfaces.cli_options.curve_slo`)."""

from __future__ import annotations

from pathlib import Path

import typer

from inferchip.interfaces import fmt
from inferchip.interfaces.app import app
from inferchip.interfaces.cli_options import curve_slo as cs
from inferchip.interfaces.cli_options import engine as eng_opts
from inferchip.interfaces.cli_options import files
from inferchip.interfaces.cli_options import options as opts
from inferchip.interfaces.cli_options import output as out
from inferchip.interfaces.cli_options import serving as so
from inferchip.interfaces.cli_options import system_params as sp
from inferchip.interfaces.cli_options.tables import curve_table, devices_note, formats_line, system_text
from inferchip.interfaces.cmd_predict import OutputFormat
from inferchip.interfaces.cmd_serve import assumptions_file, print_rows, progress_bar, row_summary
from inferchip.interfaces.serve_system import (
    calibration_source,
    engine_config,
    layout_keys,
    layout_text,
    replicas_note,
    resolver,
    system,
)
from inferchip.sim.load.lengths import RANGE_RATIO


@app.command("curve")
def curve_cmd(
    chip: sp.Chip, model: sp.Model,
    count_given: sp.Count = None,
    tp: sp.Tp = None, pp: sp.Pp = None, ep: sp.Ep = None, attn_dp: sp.AttnDp = None,
    weights: sp.Weights = None, activations: sp.Activations = None, kv: sp.Kv = None,
    input_tokens: sp.InputTokens = opts.DEFAULT_INPUT_TOKENS,
    output_tokens: sp.OutputTokens = opts.DEFAULT_OUTPUT_TOKENS,
    range_ratio: sp.RangeRatio = RANGE_RATIO,
    seed: sp.Seed = 0,
    calibration: sp.Calibration = None,
    assumptions: sp.Assumptions = None,
    engine: sp.Engine = None, moe_kernel: sp.MoeKernel = None, chunk_tokens: sp.ChunkTokens = None,
    mtp: sp.Mtp = None, mtp_acceptance: sp.MtpAcceptance = None,
    disagg: sp.Disagg = None, software: sp.Software = None,
    kv_link_gb_per_s: sp.KvLink = None, kv_link_latency_us: sp.KvLinkLatency = None,
    slo_ttft_ms: float | None = cs.slo_option("--slo-ttft-ms"),
    slo_tpot_ms: float | None = cs.slo_option("--slo-tpot-ms"),
    slo_percentile: sp.SloPercentile = None,
    warmups_per_user: int = typer.Option(0, "--warmups-per-user", help=opts.WARMUPS_PER_USER_HELP,
                                         callback=opts.int_range("--warmups-per-user", 0,
                                                                  opts.CURVE_REQUESTS_PER_CLIENT - 1)),
    plot: Path | None = typer.Option(None, "--plot", help="Write an HTML plot of the curve here."),
    output: OutputFormat = typer.Option(OutputFormat.table, "--format"),
) -> None:
    """Throughput-interactivity curve: output tok/s per chip against tok/s per user, concurrency 1 up to the memory
    limit or the running-batch cap (max_num_seqs x replicas), whichever is less.

    Each point is the closed-loop benchmark `serve --concurrency C --requests 8C` runs (8 requests a client; lengths
    from --range-ratio)."""
    count = 1 if count_given is None else count_given
    from inferchip.interfaces.serve_rows import (
        CURVE_CONCURRENCIES,
        CURVE_REQUESTS_PER_CLIENT,
        check_options,
        no_recipe_options_with_rows,
        parse_disagg,
        rows_system,
    )
    from inferchip.performance.serving import serving_economics
    from inferchip.sim import throughput_interactivity_curve
    from inferchip.sim.load.lengths import uniform_length

    if plot is not None:
        plot = files.check_writable(plot, "--plot", suffixes=files.HTML_SUFFIXES)  # before the sweep, not after it
    loaded = opts.read_model(model)  # a user's config.json read once, for every step below and the setting
    context_note = opts.check_context(loaded, input_tokens, output_tokens)
    pools = parse_disagg(disagg)  # once (its option's callback checked the form)
    check_options(mtp, mtp_acceptance, pools, kv_link_gb_per_s, kv_link_latency_us,
                  concurrency=1, range_ratio=range_ratio, software=software,
                  given={"--plot": plot is not None, "--assumptions": assumptions is not None,
                         "--warmups-per-user": warmups_per_user > 0})
    no_recipe_options_with_rows(moe_kernel, chunk_tokens, mtp, disagg)
    stat = cs.statistic(slo_percentile, slo_ttft_ms, slo_tpot_ms)  # the SLO's percentile, refused without a limit
    if mtp is not None or disagg is not None:
        rows = row_summary(chip, loaded, count, count_given, tp, pp, ep, attn_dp, weights, activations, kv,
                            calibration, engine, mtp, mtp_acceptance, pools, kv_link_gb_per_s, kv_link_latency_us,
                            input_tokens, output_tokens, CURVE_CONCURRENCIES, software)
        print_rows(rows, f"{model} on {rows_system(chip, rows[0], pools)}: throughput vs interactivity", output,
                    curve=True, slo=cs.mark_points(rows, slo_ttft_ms, slo_tpot_ms, stat))
        return
    # the engine's six changes (engine=, moe_kernel=) read from the setting the curve runs, resolved once with it as
    # ic.curve resolves them (system() resolves the same arguments again from the settings' cache): the search's
    # running cap and the output's caps, notes and engine record
    first = resolver(chip, loaded, weights, activations, kv, calibration,
                     None if assumptions is None else str(assumptions), engine, moe_kernel,
                     chunk_tokens)(count=count, tp=tp, pp=pp, ep=ep, attn_dp=attn_dp)
    served, choice, cal_source = first.engine, first.choice, calibration_source(calibration)
    caps = choice.caps
    chunk, chunk_source = eng_opts.chunk_setting(chunk_tokens, caps)  # one chunk for the memory fit and scheduler
    step, replicas, formats = system(chip, loaded, count, tp, pp, ep, weights, activations, kv, calibration,
                             None if assumptions is None else str(assumptions), attn_dp, input_tokens, output_tokens,
                             engine, chunk_tokens, running_cap=caps.max_num_seqs, moe_kernel=moe_kernel)
    host = None if served is None else served.host(input_tokens, step.mm.formats.weights)
    used_engine = None if served is None else served.summary(chunk, host=host, caps=caps)
    with progress_bar("simulating concurrencies") as prog:
        task = prog.add_task("curve", total=1.0)
        cur = throughput_interactivity_curve(step, uniform_length(input_tokens, range_ratio),
                                             uniform_length(output_tokens, range_ratio), seed=seed, replicas=replicas,
                                             requests_per_user=CURVE_REQUESTS_PER_CLIENT,
                                             scheduler_config=engine_config(choice.spec, step, chunk, caps),
                                             request_host_s=0.0 if host is None else host.outside_loop_s,
                                             progress=lambda f: prog.update(task, completed=f),
                                             warmups_per_user=warmups_per_user)
    chips = replicas * step.num_chips
    for p in cur.points:
        if "power_w_per_chip" in p:
            p.update(serving_economics(step, p, chips))
    slo = cs.mark_points(cur.points, slo_ttft_ms, slo_tpot_ms, stat)  # each point's meets_slo, the best among them
    df = cur.to_dataframe()
    devices = step.mm.chip.devices_per_package
    title = (f"{step.mm.model.id} on {system_text(step.mm.chip.id, count, devices)} ({layout_text(step, replicas)}): "
             "throughput vs interactivity")  # the layout named, as serve's and predict's titles name theirs
    per_client = (f"each point runs {CURVE_REQUESTS_PER_CLIENT} requests a client: `serve --concurrency C --requests "
                  f"{CURVE_REQUESTS_PER_CLIENT}C` with the same options runs it (serve's default, 1,000 requests, "
                  "measures another window: its TTFT can differ)")
    notes = [n for n in (*choice.notes_at(chunk), *devices_note(step.mm.chip.id, count, devices), context_note,
                         *opts.config_notes(loaded),
                         replicas_note(cur.replicas_simulated, replicas),
                         cur.cap_note(), per_client,
                         cs.percentile_note(slo, CURVE_REQUESTS_PER_CLIENT, warmups_per_user)) if n]
    if plot is not None:
        import plotly.express as px

        # the axes in words with their units, each point named by its concurrency (they were the JSON keys)
        fig = px.line(df, x="output_tokens_per_s_per_user", y="output_tokens_per_s_per_chip", markers=True,
                      text="concurrency", hover_data=list(df.columns),
                      labels={"output_tokens_per_s_per_user": "output tokens/s per user (1 / TPOT)",
                              "output_tokens_per_s_per_chip": "output tokens/s per chip",
                              "concurrency": "concurrency (clients)"},
                      title=title)
        fig.update_traces(textposition="top center")
        cs.draw(fig, cur.points, slo)
        files.write_text(plot, fig.to_html(include_plotlyjs="inline"), "--plot " + str(plot))
    if output == OutputFormat.json:
        typer.echo(fmt.to_json({"chip_id": step.mm.chip.id, "model_id": step.mm.model.id,
                                "memory_limit_concurrency": cur.memory_limit_concurrency,
                                "running_cap_concurrency": cur.running_cap_concurrency, **formats,
                                "assumptions_file": assumptions_file(assumptions), "engine": used_engine,
                                "tco_assumptions": so.tco_assumptions(step),
                                "calibration_source": cal_source,
                                "prefill_chunk_tokens": chunk, "prefill_chunk_source": chunk_source,  # as serve's
                                "running_batch_cap": caps.max_num_seqs, "running_batch_cap_source": caps.reason,
                                "activations_bytes_per_chip": float(step.mm.chunk_activation_bytes()),
                                **layout_keys(step), "num_replicas": replicas,
                                "runtime_devices_per_package": devices,
                                "points": [out.with_all_keys(r, out.SERVE_ENERGY_KEYS)
                                           for r in df.to_dict(orient="records")],
                                "slo": slo, "notes": notes}))  # the same notes as the text's
        return
    con = out.console()
    con.print(curve_table(df.to_dict(orient="records"), title, slo))
    cs.print_line(con, slo, len(cur.points))
    out.print_text(con, formats_line(formats))
    out.print_text(con, assumptions_file(assumptions), "assumptions")
    out.print_text(con, cal_source, "calibration")
    if (money := so.tco_assumptions(step)) is not None:
        out.print_text(con, money, "money")
    out.print_text(con, eng_opts.choice_line(choice, used_engine, so.DEFAULT_SCHEDULER))
    out.print_text(con, so.cap_line(caps, chunk))
    opts.print_notes(con, list(notes))
