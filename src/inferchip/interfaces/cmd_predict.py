"""``inferchip predict``."""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import TYPE_CHECKING

import typer
from rich.table import Table

from inferchip.interfaces import fmt
from inferchip.interfaces.app import app
from inferchip.interfaces.cli_options import engine as eng_opts
from inferchip.interfaces.cli_options import options as opts
from inferchip.interfaces.cli_options import output as out
from inferchip.interfaces.cli_options.tables import system_text

if TYPE_CHECKING:  # the model is imported when a command runs (a faster cold start)
    from inferchip.performance.predict import Prediction


class OutputFormat(StrEnum):
    table = "table"
    json = "json"


ONE_TOKEN_NOTE = ("--output-tokens 1: the one output token is the prefill's and no token follows it, so there is no "
                  "TPOT or per-user rate (null in the JSON, as serve reports them); TTFT is the whole request")


def tile_step_note(batch: int, tpot_s: float, tpot_at: Callable[[int], float], weights: str = "bf16") -> str | None:
    """A note where the static batch's TPOT per sequence is above that of ``b0``, the largest power of two below
    ``batch`` (a GEMM M-tile boundary, at least 16 rows: ``cost.constants.MIN_TILE_M``), ``tpot_at(b0)`` its TPOT: a
    decode step that streams its weights once and each sequence's KV and activations grows by at most the added
    sequences' share, ``TPOT(B) <= TPOT(b0) B / b0``; beyond it the model's 16-bit GEMMs are charged a full wave of
    the chip's tile past the boundary (``cost.gemm``; the engine's library is not known to split K on the chip's
    family, catalog/engines.yaml ``split_k_16bit_families``); 8- and 4-bit GEMMs (``weights``) are charged the full
    wave on every chip (no split-K source for them). None where it holds or ``batch`` is 16 or less."""
    b0 = 1 << ((batch - 1).bit_length() - 1) if batch > 1 else 0
    if b0 < 16:
        return None
    t0 = tpot_at(b0)
    if tpot_s * b0 <= t0 * batch:
        return None
    head = (f"TPOT at batch {batch} is {100.0 * (tpot_s / t0 - 1.0):.0f} % above batch {b0}'s, more than the "
            f"{100.0 * (batch / b0 - 1.0):.0f} % more sequences: past {b0} rows the decode GEMMs' M tile doubles and "
            f"the model charges the {weights} GEMMs a full wave of the chip's tile, ")
    if weights in ("bf16", "fp16"):
        return head + ("the library not being known to split K on this chip family with this engine "
                       "(catalog/engines.yaml split_k_16bit_families); cuBLASLt on Hopper and Blackwell (vLLM's and "
                       "SGLang's F.linear) and hipBLASLt / aiter on CDNA split K and size their tile to the batch, "
                       "and show no such jump (vLLM PR #49363, NVIDIA/cutlass issue #2923, ROCm/aiter's tuned GEMM "
                       "tables)")
    return head + (f"as no prediction path yet gives a {weights} GEMM a per-shape tile (the 16-bit GEMMs' split K on "
                   "Hopper, Blackwell and CDNA is cuBLASLt's, hipBLASLt's and aiter's); a real kernel chooses a "
                   "smaller tile there (aiter's tuned FP8 GEMMs on MI355X grow 7-35 % per doubling of M up to 256 "
                   "rows: tools/kernel_rates/aiter_rowwise_gemm_check.py)")


def service_ttft_note(p: Prediction, max_num_seqs: int) -> str:
    """What ``--max-throughput``'s TTFT counts: the service time at its concurrency, no queueing
    (:attr:`Prediction.ttft_includes_queueing`), and the command that simulates the benchmark's TTFT with its queue,
    on this layout; where the concurrency per replica is beyond the running-batch cap ``serve`` simulates
    (``max_num_seqs`` per attention-DP rank), that serve's clients beyond it queue, so its throughput is lower."""
    c = p.batch * p.replicas
    conc = f"{int(c)}" if float(c).is_integer() else f"{c:g}"
    layout = f" --tp {p.tp} --pp {p.pp} --ep {p.ep}{' --attn-dp' if p.attn_dp else ''}"
    note = (f"TTFT is the service time at concurrency {conc}: the prompt's prefill within the running batch, "
            "without the wait for admission a benchmark client also times (vLLM benchmark_serving and MLPerf's "
            f"Server scenario count TTFT from the request's send); `inferchip serve --concurrency {conc} "
            f"--range-ratio 1{layout}` with the same options simulates that closed loop, its queue included")
    ranks = p.tp if p.attn_dp else 1
    cap = max_num_seqs * ranks
    if p.batch > cap:
        per = f" per attention-DP rank x {ranks}" if ranks > 1 else ""
        note += (f"; it runs at most {cap:,} sequences a replica (max_num_seqs {max_num_seqs}{per}, as an engine "
                 f"admits them), fewer than the {p.batch:,.0f} here: the others wait in its queue, so its "
                 "tokens/s is lower and its TTFT longer (predict's search has no running-batch cap)")
    return note


def chunk_note(chunk: int, source: str) -> str:
    """The note stating the prefill chunk a run without ``--chunk-tokens`` takes (``source``: why), the step budget
    serve and curve run on the same chip (``cli_options.engine.chunk_setting``)."""
    return (f"prefill chunk {chunk:,} tokens per step and chip, as serve and curve run on this chip "
            f"(--chunk-tokens sets it): {source}")


def _count(x: float) -> str:
    """A count (sequences, tokens) with thousands separated, as every other figure of the table ("2,560", not
    "2560"); a mean length keeps one decimal."""
    return f"{x:,.0f}" if float(x).is_integer() else f"{x:,.1f}"


def sources_line(p: Prediction) -> str:
    """Where the formats and the chip price came from, one line below the tables: in the table's right-aligned
    cells these sentences (up to 180 characters) made it 218 columns wide in a pipe, every row padded to them, and a
    ragged right-aligned paragraph on a terminal (as serve's sources were, ``tables.source_lines``)."""
    price = p.extra.get("chip_price_source")
    return (f"weights format from {p.weights_source}; activations format from {p.activations_source}; KV format from "
            f"{p.kv_source}" + (f"; chip price used: {price}" if price else ""))


def money_terms(p: Prediction, chip: str, assumptions: str | None) -> str | None:
    """The terms ``p``'s $ per million output tokens rests on (``output.tco_text``: the ``money:`` line and JSON
    ``tco_assumptions``, as serve and curve state theirs) for the chip's system (``ChipSpec.system``: a server, a
    board of NPUs, an embedded module) and the assumptions file given (None: the bundled one); None where ``p`` has
    no $ figure (no TDP or no price)."""
    if p.extra.get("usd_per_million_tokens") is None:
        return None
    from inferchip.catalog.assumptions import load_assumptions
    from inferchip.catalog.chips import load_chip
    from inferchip.cost.tco import price_covers

    spec = load_chip(chip)
    return out.tco_text(spec.system, load_assumptions(assumptions), "the prediction's", price_covers(spec))


def prediction_table(p: Prediction) -> list[Table]:
    n = p.runtime_devices_per_package
    def mem_text(nbytes: float) -> str:  # an SRAM chip's 211.6 MB, not "0.2 GB of 0.2 GB" (as its fit error)
        return f"{nbytes / 1e6:,.1f} MB" if p.memory_capacity_per_chip_bytes < 1e9 else fmt.gb(nbytes)

    head = Table(title=f"{p.model_id} on {system_text(p.chip_id, p.num_chips // n, n)}", show_header=False,
                 title_justify="left")
    head.add_column(style="bold")
    head.add_column(justify="right", overflow="fold")
    rows = [
        ("layout", f"tp={p.tp} pp={p.pp} ep={p.ep}{' attention-DP' if p.attn_dp else ''}, {p.replicas} replica(s)"),
        ("formats (w/a/kv)", f"{p.weights}/{p.activations}/{p.kv}, GEMMs in {p.compute_format}"),
        ("mode", "static batch" if p.mode == "static" else "continuous batching (max throughput)"),
        ("batch per replica" if p.mode == "static" else "concurrency per replica", _count(p.batch)),
        ("lengths (in/out)", f"{_count(p.input_tokens)} / {_count(p.output_tokens)} tokens"),
        ("TTFT" if p.mode == "static" else "TTFT (service time, no queueing)", fmt.ms(p.ttft_s)),
        ("TPOT", fmt.ms(p.tpot_s) if p.has_tpot else "-"),
        ("end-to-end latency", fmt.ms(p.e2e_latency_s)),
        ("output tokens/s (total)", fmt.rate(p.output_tokens_per_s)),
        ("output tokens/s per chip", fmt.rate(p.output_tokens_per_s_per_chip)),
        ("output tokens/s per user", fmt.rate(p.output_tokens_per_s_per_user) if p.has_tpot else "-"),
        ("memory per chip", f"{mem_text(p.memory_per_chip_bytes)} of {mem_text(p.memory_capacity_per_chip_bytes)}"),
    ]
    e = p.extra
    if e.get("power_w_per_chip") is not None:
        rows.append(("power per chip (board)", f"{e['power_w_per_chip']:,.0f} W"))
        if e.get("wall_power_w_per_chip") is not None:  # the watts the TCO's energy and space terms price
            rows.append(("power per chip (wall share)", f"{e['wall_power_w_per_chip']:,.0f} W"))
        rows.append(("output tokens per joule", f"{fmt.sig(e['output_tokens_per_j'])} tok/J"))  # 576 LPUs: 0.00319
    if e.get("usd_per_million_tokens") is not None:
        rows.append(("$ per million output tokens (TCO)", f"${e['usd_per_million_tokens']:,.3f}"))
        rows.append(("output tokens/s per $ capex", f"{e['output_tokens_per_s_per_usd_capex']:,.4f}"))
        rows.append(("chip price used", f"${e['chip_price_usd']:,.0f}"))  # its source: sources_line
    for k, v in rows:
        head.add_row(k, v)
    mem = Table(title="memory per chip", title_justify="left")
    for c in ("weights", "KV cache", "activations", "runtime reserve"):
        mem.add_column(c, justify="right")
    b = p.memory_breakdown_bytes
    mem.add_row(*(mem_text(b[k]) for k in ("weights", "kv_cache", "activations", "runtime_reserve")))
    br = Table(title="time per step by operator class", title_justify="left")
    br.add_column("phase")
    br.add_column("operator class")
    br.add_column("time", justify="right")
    br.add_column("share", justify="right")
    br.add_column("bound")
    for phase, classes in p.breakdown.items():
        for cls, of_cls in sorted(classes.items(), key=lambda kv: -kv[1]["time_s"]):
            br.add_row(phase, cls, fmt.ms(of_cls["time_s"]), fmt.pct(of_cls["share"]), of_cls["bound"])
    return [head, mem, br]


@app.command("predict")
def predict_cmd(
    chip: str = opts.chip_option(),
    model: str = opts.model_option(),
    count: int = opts.count_option(),
    weights: str | None = opts.format_option("--weights", opts.DEFAULT_WEIGHTS),
    activations: str | None = opts.format_option("--activations"), kv: str | None = opts.format_option("--kv"),
    tp: int | None = opts.parallel_option("tp"), pp: int | None = opts.parallel_option("pp"),
    ep: int | None = opts.parallel_option("ep"), attn_dp: bool | None = opts.attn_dp_option(),
    input_tokens: int = opts.input_tokens_option(),
    output_tokens: int = opts.output_tokens_option(),
    batch: int | None = typer.Option(None, "--batch", help="Static batch per replica.",
                                        callback=opts.int_range("--batch", 1, opts.MAX_BATCH)),
    max_throughput: bool = typer.Option(False, "--max-throughput",
                                        help="Find the concurrency (and layout) with the most output tokens/s."),
    max_ttft_ms: float | None = opts.ms_option("--max-ttft-ms"),
    max_tpot_ms: float | None = opts.ms_option("--max-tpot-ms"),
    estimate: str = opts.estimate_option(),
    calibration: str | None = opts.calibration_option(),
    assumptions: str | None = typer.Option(None, "--assumptions", help="YAML overriding energy/cost assumptions.",
                                              callback=opts.input_file("--assumptions", ())),
    engine: str | None = eng_opts.engine_option(
        "none (the calibration alone, its 16-bit GEMMs as the default engine's library runs them on the chip)"),
    moe_kernel: str | None = eng_opts.moe_kernel_option(),
    chunk_tokens: int | None = eng_opts.chunk_option(),
    output: OutputFormat = typer.Option(OutputFormat.table, "--format"),
) -> None:
    """Predict TTFT, TPOT, throughput and memory of a model on a chip or a system of chips."""
    from inferchip.errors import InvalidSettingError

    if batch is not None and max_throughput:
        raise InvalidSettingError("give either --batch N or --max-throughput, not both")
    if batch is None and not max_throughput and max_ttft_ms is None and max_tpot_ms is None:
        raise InvalidSettingError("give --batch N (a static batch), or --max-throughput (with or without a limit "
                                  "--max-ttft-ms/--max-tpot-ms, which alone implies it)")
    if batch is not None and (max_ttft_ms or max_tpot_ms):
        raise InvalidSettingError("--max-ttft-ms/--max-tpot-ms apply to --max-throughput only")
    if max_tpot_ms is not None and output_tokens == 1:
        raise InvalidSettingError(f"--max-tpot-ms {max_tpot_ms:g} with --output-tokens 1: no token follows the first, "
                                  "so there is no time per output token to limit; allowed: --output-tokens 2 or more, "
                                  "or --max-ttft-ms alone")
    loaded = opts.read_model(model)  # a user's config.json read once, for every step below and the setting
    context_note = opts.check_context(loaded, input_tokens, output_tokens)
    from inferchip.catalog.models import api_inputs
    from inferchip.performance.setting import resolve_setting

    # the setting resolved once, as ic.predict resolves it (its engine's six changes among it: engine=, moe_kernel=),
    # asked at each batch below; the output reads the engine from it: the chip's caps and notes, the host time
    c, m, spec, config = api_inputs(chip, loaded.spec, None, loaded.config, estimate)
    setting = resolve_setting(c, m, count=count, weights=weights, activations=activations, kv=kv, tp=tp, pp=pp, ep=ep,
                              attn_dp=attn_dp, estimate=estimate, calibration=calibration, assumptions=assumptions,
                              chip_spec=spec, config=config, chunk_tokens=chunk_tokens, engine=engine,
                              moe_kernel=moe_kernel)
    served, choice = setting.engine, setting.choice
    host = None if served is None else served.host(input_tokens)
    chunk, chunk_source = eng_opts.chunk_setting(chunk_tokens, choice.caps)  # serve's chunk on this chip
    if max_ttft_ms is not None and host is not None and max_ttft_ms / 1e3 <= host.total_s:
        raise InvalidSettingError(f"--max-ttft-ms {max_ttft_ms:g}: no TTFT meets it; {host.text()}")
    used_engine = None if served is None else served.summary(None, host=host)
    from inferchip.performance.predict import predict_on

    def at(b: int | None) -> Prediction:
        return predict_on(setting, input_tokens, output_tokens, b,  # the engine's host time included
                          None if max_ttft_ms is None else max_ttft_ms / 1e3,
                          None if max_tpot_ms is None else max_tpot_ms / 1e3)

    p = at(batch)
    tile_note = (None if batch is None or not p.has_tpot
                 else tile_step_note(batch, p.tpot_s, lambda b: at(b).tpot_s, p.weights))
    step = min(batch * input_tokens, chunk) if batch is not None else chunk  # the largest step it executes per chip
    activations_of = {"step_tokens": step, "chunk_tokens": chunk, "chunk_source": chunk_source,
                      "rule": "a static batch: batch x prompt tokens, at most the chunk; continuous batching: a chunk"}
    notes = [*choice.notes_at(chunk), *p.notes,  # the same in table and JSON
             *([context_note] if context_note else []), *opts.config_notes(loaded),
             *([] if p.has_tpot else [ONE_TOKEN_NOTE]), *([tile_note] if tile_note else []),
             *([] if chunk_tokens is not None else [chunk_note(chunk, chunk_source)]),
             *([] if batch is not None else [service_ttft_note(p, choice.caps.max_num_seqs)])]
    from inferchip.catalog.calibration_file import calibration_label

    cal_label = calibration_label(calibration)  # the shipped file, none, or the user's (all said "fitted" alike)
    money = money_terms(p, chip, assumptions)
    if output == OutputFormat.json:
        answer = out.with_all_keys(p.to_dict(), out.PREDICT_ENERGY_KEYS)
        typer.echo(fmt.to_json({**answer, "calibration_source": cal_label, "memory_activations": activations_of,
                                "notes": notes, "engine": used_engine, "tco_assumptions": money}))
        return
    con = out.console()
    for t in prediction_table(p):
        con.print(t)
        if t.title == "memory per chip":
            whence = f"from {chunk_source}" if chunk_tokens is not None else "(its source: the chunk note below)"
            out.print_text(con, f"{p.memory_breakdown_bytes['activations'] / 1e6:,.1f} MB, one step of {step:,} "
                                f"tokens per chip ({activations_of['rule']}; chunk {chunk:,} {whence})", "activations")
    out.print_text(con, sources_line(p))
    out.print_text(con, eng_opts.choice_line(choice, used_engine, "the calibration's host time per step"))
    out.print_text(con, cal_label, "calibration")
    if money is not None:
        out.print_text(con, money, "money")
    opts.print_notes(con, notes)

