"""Options of ``serve`` and ``curve`` (beyond the shared ones of :mod:`.options`): each with its help text and bounds.

The closed-loop load (``--concurrency``), the energy/money constants (``--assumptions``), and the case-row options
``--mtp``, ``--mtp-acceptance``, ``--disagg``, ``--software`` and the KV-transfer link of ``--disagg``
(:mod:`inferchip.interfaces.serve_rows` checks how they combine and runs the row). Each ``*_option`` returns typer's
option placeholder, typed ``Any`` as in :mod:`.options` (the command's parameter states the value's type).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import typer

from inferchip.interfaces.cli_options import options as opts

if TYPE_CHECKING:
    from inferchip.spec.engine import SchedulerCaps


def default_scheduler_text() -> str:
    """The scheduler a run without ``--engine`` simulates, for serve's and curve's help and output: the default
    engine record's running-batch cap and chunk by its device rule (``EngineSpec.caps_on``), read from the record."""
    from inferchip.catalog.engines import get_engine, load_engines
    from inferchip.spec.engine.hardware import defaults_text

    e = get_engine(None)
    rule = e.device_batch
    where = ("" if rule is None else
             f" on a chip of >= {rule.min_memory_gib:g} GiB not of {', '.join(rule.excluded_families) or 'no family'}, "
             f"{rule.max_num_seqs:,} and {rule.chunk_tokens:,} elsewhere, as vLLM's API server defaults them "
             "(catalog/engines.yaml device_batch; the output's running-batch cap says which applied)")
    own = defaults_text(load_engines().hardware, e.id)
    where += (f"; on the back ends that state their own, theirs ({own}: catalog/engine_hardware.yaml hardware "
              "defaults)" if own else "")
    return (f"the {e.id} engine record's scheduler: max_num_seqs {e.max_num_seqs:,} and chunk {e.chunk_tokens:,}"
            f"{where}, per attention-DP rank, with no engine host time; 16-bit GEMMs as vLLM's library runs them on "
            "the chip")


def cap_line(caps: SchedulerCaps, chunk: int) -> str:
    """The line of curve's text saying which running-batch cap and step budget (``chunk``, the one the run used) the
    scheduler ran and why (``caps``: ``cli_options.engine.EngineChoice.caps``)."""
    return (f"running batch: <= {caps.max_num_seqs:,} sequences and a step budget of {chunk:,} tokens per "
            f"attention-DP rank; the cap: {caps.reason}")


DEFAULT_SCHEDULER = default_scheduler_text()

CONCURRENCY_HELP = ("Closed loop of C clients, as benchmark_serving --max-concurrency C: each sends its next request "
                    "when its last one finished; lengths per --range-ratio. More clients than the engine admits "
                    "(running-batch cap, free KV blocks) wait in its queue, and the wait is part of TTFT.")
ASSUMPTIONS_HELP = "YAML overriding energy/host/TCO constants (default: the bundled catalog/assumptions.yaml)."
MTP_HELP = ("MTP speculative decoding: N draft tokens per decode step (1 to 8), as a case row's -mtp- (runs the "
            "closed-loop benchmark validate runs; needs --concurrency in serve); 0: that same benchmark (engine, "
            "caps, chunk, layout) with speculative decoding off, to compare with --mtp N.")
ACCEPT_HELP = ("Acceptance of each MTP draft token, 0 to 1 (default: the engine catalogue's 0.85, DeepSeek-V3 "
               "Technical Report section 5.4.3).")
DISAGG_HELP = ("Prefill/decode disaggregation, PREFILL:DECODE pools, each WxtpTepE[dpa]: W workers of tp T, ep E "
               "(default 1, T with dpa) (dpa: attention DP), e.g. 1xtp4ep4:4xtp8ep8; the pools replace "
               "--tp/--pp/--ep/--attn-dp, and a --count "
               "given must equal their chips.")
LINK_HELP = "KV-transfer link of --disagg, GB/s (default: the chip's scale-up or scale-out links, as case rows)."
LATENCY_HELP = "Latency of that link, microseconds (default 0 with --kv-link-gb-per-s)."
SOFTWARE_HELP = ("With --mtp/--disagg: a case row's software text (e.g. 'NVIDIA Dynamo + TensorRT-LLM, "
                 "PD-disaggregated'): its engine, and the launch-recipe facts engines.yaml keys on that text.")


def concurrency_option() -> Any:
    return typer.Option(None, "--concurrency", help=CONCURRENCY_HELP,
                        callback=opts.int_range("--concurrency", 1, opts.MAX_CONCURRENCY))


def assumptions_option() -> Any:
    return typer.Option(None, "--assumptions", help=ASSUMPTIONS_HELP, callback=opts.input_file("--assumptions", ()))


def mtp_option() -> Any:
    return typer.Option(None, "--mtp", help=MTP_HELP, callback=opts.int_range("--mtp", 0, 8))


def accept_option() -> Any:
    return typer.Option(None, "--mtp-acceptance", help=ACCEPT_HELP,
                        callback=opts.float_range("--mtp-acceptance", 1.0, lo=0.0, lo_open=False))


def disagg_option() -> Any:
    from inferchip.interfaces.serve_rows import parse_disagg

    return typer.Option(None, "--disagg", help=DISAGG_HELP, callback=lambda v: (parse_disagg(v), v)[1])


def software_option() -> Any:
    return typer.Option(None, "--software", help=SOFTWARE_HELP)


def link_option() -> Any:
    return typer.Option(None, "--kv-link-gb-per-s", help=LINK_HELP,
                        callback=opts.float_range("--kv-link-gb-per-s", 1e6))


def latency_option() -> Any:
    return typer.Option(None, "--kv-link-latency-us", help=LATENCY_HELP,
                        callback=opts.float_range("--kv-link-latency-us", 1e9, lo_open=False))


def one_token_tpot_note(slo_tpot_ms: float | None, one_token_requests: int, requests: int) -> str | None:
    """``--slo-tpot-ms`` where some requests have one output token: how their TPOT limit is read (None: no such
    request, or no TPOT limit). A one-token output has no time per output token; vLLM's benchmark goodput counts it as
    0, so within any limit (vllm-project/vllm benchmarks/benchmark_serving.py ``calculate_metrics``: ``tpot = 0``
    unless ``output_len > 1``), and the simulator's goodput reads it so (``sim.results.metrics.meets_slo``)."""
    if slo_tpot_ms is None or one_token_requests == 0:
        return None
    return (f"--slo-tpot-ms {slo_tpot_ms:g}: {one_token_requests:,} of {requests:,} requests have one output token, "
            "hence no TPOT, and count as within the TPOT limit (vLLM benchmarks/benchmark_serving.py goodput's "
            "reading: tpot = 0 where output_len <= 1)")


def serve_notes(notes: list[str | None], slo_tpot_ms: float | None, output_tokens: Any) -> list[str]:
    """``serve``'s notes, the same in its text and its JSON (``notes``): those given (None: none) and
    :func:`one_token_tpot_note` for the run's requests (``output_tokens``: each request's, an array)."""
    tpot = one_token_tpot_note(slo_tpot_ms, int((output_tokens <= 1).sum()), int(output_tokens.size))
    return [n for n in (*notes, tpot) if n]


def tco_assumptions(step: Any, summary: dict[str, Any] | None = None) -> str | None:
    """The TCO terms ``serve``'s and ``curve``'s money figures rest on (:func:`.output.tco_text`, the text
    ``predict`` states too), and for a ``serve`` run (``summary``) what its $ per million tokens is not
    (:func:`money_caveat`); None where the chip has no energy model (no TDP: no money figures)."""
    energy = getattr(step, "energy", None)
    if energy is None:
        return None
    from inferchip.cost.tco import price_covers
    from inferchip.interfaces.cli_options.output import tco_text

    text = tco_text("server" if energy.spec is None else energy.spec.system, energy.assumptions,
                    covers=price_covers(energy.spec))
    caveat = None if summary is None else money_caveat(summary)
    return text if caveat is None else f"{text}; {caveat}"


def money_caveat(summary: dict[str, Any]) -> str | None:
    """What a ``serve`` run's $ per million output tokens is not, where the run says so (None: nothing to say): a
    saturated run (its queue grows through the run) divides by the throughput the chips sustained, not by the offered
    load, which they do not serve; a run that misses its SLO (``summary['slo']``, :func:`.curve_slo.judge_run`) is
    not a price of tokens served within it."""
    said = []
    if summary.get("saturated"):
        said.append("the run is saturated (its queue grows): the $ per million output tokens is at the throughput "
                    "the chips sustained, not at the offered load, which they do not serve")
    slo = summary.get("slo")
    if slo is not None and not slo.get("meets"):
        said.append("the run misses its SLO: the $ per million output tokens is not a price of tokens served within "
                    "it")
    return "; ".join(said) or None


def money_mark(summary: dict[str, Any]) -> str | None:
    """The table's mark on a ``serve`` run's $ per million output tokens (None: unmarked): why the ``money:`` line
    qualifies it (:func:`money_caveat`)."""
    slo = summary.get("slo")
    marks = [m for m, why in (("saturated", summary.get("saturated")),
                              ("SLO missed", slo is not None and not slo.get("meets"))) if why]
    return f"{', '.join(marks)}: see money" if marks else None
