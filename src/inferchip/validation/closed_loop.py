"""Closed-loop serving rows (a ``server`` row with a ``concurrency``), simulated.

A row such as InferenceMAX's is ``concurrency`` clients running vLLM's ``benchmark_serving`` against one engine
instance (:mod:`inferchip.sim.engines.bench`); its throughput, TTFT and TPOT rows share one simulated run.

What the row states (engine, DP attention, MTP, disaggregated pools, multi-node workers) is read by
:mod:`inferchip.validation.closed_loop_facts` (re-exported here); this module runs the row's benchmark on it:

* **Run length**: ``prompts_per_client x concurrency`` requests (``--num-prompts``: 10 a client, or the engine's
  ``run_length``). ``SIM_ROUNDS`` rounds of clients are simulated (at least ``MIN_REQUESTS``): start and drain as run,
  the middle weighted for the benchmark's middle and the span extended at its rate (:func:`num_requests`,
  :func:`~inferchip.sim.engines.bench.steady_weights`); a middle still draining the start's queue (mean TTFT moving
  more than ``SETTLED_DRIFT`` between its halves) cannot stand for it: all requests are simulated (:func:`settled`).
  A fresh server's first-use build (``first_use_waits``) stalls its first wave once, on the pool running the prompts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from inferchip.catalog.engines import RequestHostTime
from inferchip.errors import DoesNotFitError, InvalidSettingError
from inferchip.performance.mapped import MappedModel
from inferchip.performance.serving import ServingStepModel
from inferchip.sim import SchedulerConfig
from inferchip.sim.engines import BenchFigures, EngineStepModel, closed_loop_run, mtp_output_steps, uniform_length
from inferchip.sim.engines.bench import closed_loop_disagg_run, prompt_mean_tokens
from inferchip.sim.load.lengths import max_tokens
from inferchip.sim.step.steptime import StepTimer
from inferchip.spec.engine import EngineSpec
from inferchip.spec.engine.workers import first_use_wait_s, first_wave_batch_tokens
from inferchip.validation.cases import Case
from inferchip.validation.closed_loop_facts import (  # re-exported: what the row states (this module's before)
    PROMPTS_PER_CLIENT,
    EngineRowError,
    RowFacts,
    Worker,
    check_row,
    check_span,
    engine_row_calibration,
    row_facts,
)
from inferchip.validation.results import check_recipe_pool

MIN_REQUESTS = 16
TIMER_REL_ERROR = 2.0**-6  # step times rounded to ~0.4 % per input (sim.step.steptime): 4x fewer model calls
SIM_ROUNDS = 3  # rounds of clients simulated (see num_requests); the benchmark sends PROMPTS_PER_CLIENT
SETTLED_DRIFT = 0.2  # a middle whose mean TTFT moves more than this between its halves has not settled
SEED = 0

__all__ = ["MIN_REQUESTS", "PROMPTS_PER_CLIENT", "SEED", "SETTLED_DRIFT", "SIM_ROUNDS", "TIMER_REL_ERROR",
           "EngineReplica", "EngineRowError", "RowFacts", "Worker", "check_row", "check_span", "closed_loop_value",
           "engine_row_calibration", "kv_link", "num_requests", "prompt_mean_tokens", "recipe_configs", "row_facts",
           "settled", "simulate_closed_loop"]


class EngineReplica:
    """One worker's step model as its engine runs it (graphs: ``runs``, its worker engine), with a step-time cache."""

    def __init__(self, mm: MappedModel, engine: EngineSpec, mtp: bool, runs: EngineSpec | None = None,
                 padded_rows_routed: bool = True):
        from inferchip.sim.batching.scheduler import run_padding_at

        # a back end that compiles its steps (vLLM's TPU and Gaudi back ends: serve --mtp / --disagg on those chips)
        # pads each step to its compiled sizes, resolved as serve resolves them, in place of CUDA graphs; none on
        # every GPU (the validated rows: unchanged)
        # its prompt buckets (Gaudi's) are priced by the replica from each step's prefill chunks, under MTP too (the
        # drafts the inner step sees among a decode's tokens are no prompts: ServingStepModel.prompt_padding)
        compiled = run_padding_at(engine, mm.chip)
        mm = mm if compiled is None else replace(mm, padding=compiled)
        self.mm = mm
        self.engine = engine
        self.ranks = mm.layout.attn_dp_ways
        self.step = EngineStepModel(ServingStepModel(mm), engine.graph_batch_step, engine.graph_max_batch,
                                    engine.mtp_draft_tokens if mtp else 0, self.ranks,
                                    (runs or engine).eager_steps if compiled is None else None,
                                    mm.sm.kernels_per_step() * mm.layout.pp, mm.cal.step_overhead_s * mm.layout.pp,
                                    padded_rows_routed, graphs=compiled is None)
        if self.step.kv_capacity_tokens < 1:
            raise DoesNotFitError(f"{mm.model.id} leaves no memory for KV cache on {mm.chip.id} with "
                                  f"tp={mm.layout.tp} ep={mm.layout.ep}: its weights fill the engine's memory budget")
        self.timer = StepTimer(self.step, target_rel_error=TIMER_REL_ERROR)

    def config(self, concurrency: int = 0, input_tokens: int = 0, output_tokens: int = 0) -> SchedulerConfig:
        """This worker's scheduler at ``concurrency`` clients and these nominal lengths (0: unknown): the engine's
        running-batch cap and step budget on the chip (``sim.batching.scheduler.run_caps``: its device rule, its back
        end's own defaults; the record's on every validated row's GPU), a launch recipe's budget where one matches."""
        from inferchip.sim.batching.scheduler import run_caps

        caps = run_caps(self.engine, self.mm.chip)
        seqs = caps.max_num_seqs * self.ranks
        budget = max(self.engine.chunk_tokens_on(self.mm.chip.id, self.mm.formats.weights, self.mm.layout.tp,
                                                 concurrency, input_tokens, output_tokens, caps.chunk_tokens)
                     * self.ranks, seqs)
        return SchedulerConfig(max_num_seqs=seqs, max_num_batched_tokens=budget)


def num_requests(concurrency: int, per_client: int = PROMPTS_PER_CLIENT) -> tuple[int, int, list[str]]:
    """(requests the benchmark sends, requests simulated, notes): ``SIM_ROUNDS`` rounds of clients (at least
    ``MIN_REQUESTS``) stand for the benchmark's ``per_client`` prompts per client (the row's launch harness's):
    its start and drain as simulated, the middle round(s) weighted as its steady middle (``steady_weights``)."""
    bench = per_client * concurrency
    n = min(bench, max(MIN_REQUESTS, SIM_ROUNDS * concurrency))
    if n < bench:
        return bench, n, [f"{n} requests simulated for the benchmark's {bench}: its start and drain as simulated, "
                          f"the middle {n - 2 * concurrency} weighted as its steady middle"]
    return bench, n, []


def kv_link(pre: EngineReplica, dec: EngineReplica, total_chips: int) -> tuple[float, float, float, str]:
    """(KV bytes per prompt token, link bytes/s, latency s, which link) of a prefill-to-decode hand-off."""
    chip = pre.mm.chip
    per_token = float(pre.mm.kv_bytes_per_seq(1.0)) * pre.mm.sm.dp_attention
    eff = pre.mm.cal.link_bandwidth_fraction
    def terms(lanes: int, bw: float) -> str:  # what the rate is made of, for the note (a GB200's 3,600 GB/s
        return (f"{lanes} chip(s)' links of {bw / 1e9:,.0f} GB/s per direction x {eff:.3g} (the calibration's "
                "link_bandwidth_fraction)")  # read as one NVLink's speed is twice its per-direction 900)

    if total_chips <= chip.max_scaleup_domain and chip.link_bytes_per_s > 0:
        lanes = min(pre.mm.layout.chips_per_replica, dec.mm.layout.chips_per_replica)
        return (per_token, chip.link_bytes_per_s * eff * lanes, 0.0,
                f"scale-up link ({terms(lanes, chip.link_bytes_per_s)})")
    lanes = pre.mm.layout.chips_per_replica
    bw = chip.scaleout_bytes_per_s if chip.scaleout_bytes_per_s > 0 else chip.link_bytes_per_s
    return per_token, bw * eff * lanes, float(chip.scaleout_latency_s or 0.0), f"scale-out network ({terms(lanes, bw)})"


def simulate_closed_loop(case: Case, facts: RowFacts, replicas: dict[str, EngineReplica], total_chips: int,
                         host: RequestHostTime) -> tuple[BenchFigures, list[str]]:
    """Run the row's benchmark on its system (``replicas``: "decode", and "prefill" when disaggregated), each
    request paying ``host``, the engine's host time per request resolved once for the row."""
    c = int(case.concurrency or 1)
    if case.input_tokens is None or case.output_tokens is None:
        raise EngineRowError(f"case {case.case_id} (line {case.line}): a closed-loop row needs input_tokens and "
                             f"output_tokens (given {case.input_tokens}, {case.output_tokens})")
    eng = facts.engine
    tau = eng.mtp_tokens_per_step() if facts.mtp else 1.0
    inp = uniform_length(case.input_tokens)
    out = mtp_output_steps(case.output_tokens, tau) if facts.mtp else uniform_length(case.output_tokens)
    bench, n, notes = num_requests(c, facts.prompts_per_client)
    dec = replicas["decode"]
    lengths = (int(case.input_tokens), int(case.output_tokens))
    intake = host.intake_s  # the prompts' pool's engine loop (the worker engine's where the row crosses one)
    dcfg = dec.config(c, *lengths).model_copy(update={"request_intake_s": intake if facts.prefill is None else 0.0})
    own_s, worker, worker_s, tok_s, req_s = host.own_s, host.worker, host.worker_s, host.tokenize_s, host.outside_loop_s
    notes.insert(0, f"closed loop simulated: {c} clients, {n} requests, lengths uniform in [0.8 L, L]; engine "
                    f"{eng.id}: max_num_seqs {dcfg.max_num_seqs}, chunk {dcfg.max_num_batched_tokens}"
                    f" tokens, {eng.step_overhead_s * 1e3:.3g} ms host time per step, "
                    f"{req_s * 1e3:.3g} ms per request")
    if tok_s > 0:
        notes.append(f"engine {eng.id}: its front end tokenises the prompt text, {tok_s * 1e3:.3g} ms of that time "
                     f"({host.s_per_prompt_token * 1e6:.3g} us per token x {host.prompt_tokens} mean tokens)")
    if eng.request_path(case.accelerator, dec.mm.formats.weights, case.software, case.model) is not None:
        notes.append(f"engine {eng.id}: the launch recipe's kernel path adds "
                     f"{(own_s - eng.request_overhead_s) * 1e3:.3g} ms per request to the "
                     f"{eng.request_overhead_s * 1e3:.3g} ms of its other recipes (recipe_request_paths)")
    if worker:
        notes.append(f"engine {eng.id}: a request crosses the {worker} workers' own request path "
                     f"({worker_s * 1e3:.3g} ms, that engine's record) and {eng.id}'s frontend, router and transfer "
                     f"set-up ({own_s * 1e3:.3g} ms) (worker_request_paths)")
    if intake > 0:
        notes.append(f"engine {host.worker or eng.id}: its loop takes each new request in series with its steps, "
                     f"{intake * 1e3:.3g} ms of the time per request (request_intake_s)")
    recv = eng.recv_interval_steps(c, case.accelerator, dec.mm.layout.tp, dec.mm.formats.weights)
    if recv > 1:
        notes.append(f"engine {eng.id} polls its request queue every {recv} decode steps at {c} clients")
    adp = None
    if eng.attention_dp_balance is not None and dec.ranks > 1:
        b = eng.attention_dp_balance
        adp = (dec.ranks, b.timeout_iters, b.batching_wait_iters)
        notes.append(f"engine {eng.id} holds context requests to balance {dec.ranks} attention-DP ranks "
                     f"(timeout {b.timeout_iters} iterations, batching wait {b.batching_wait_iters})")
    pw = None if facts.prefill is None else facts.prefill_scheduling()  # the prefill pool's entry, on its weights
    plan_ahead = eng.async_scheduling if pw is None else pw.async_scheduling  # as eng.prefill_async_on
    if plan_ahead:
        notes.append(f"engine {eng.id} plans each step while the previous one runs (async scheduling)"
                     + ("" if facts.prefill is None else ", on its prefill workers (the worker engine's scheduler)"))
    if facts.prefill is None and not eng.mixed_chunk:
        notes.append(f"engine {eng.id} runs prefill-only iterations before decodes (no mixed chunk)")
    if facts.prefill is None and eng.reserve_output:
        notes.append(f"engine {eng.id} admits a request only if the KV cache holds every request's whole output")
    if facts.mtp:
        notes.append(f"MTP: {eng.mtp_draft_tokens} draft token(s) per step, acceptance {eng.mtp_acceptance:g}: "
                     f"{tau:.3g} tokens per decode step")

    def first_wave_s(rep: EngineReplica, cfg: SchedulerConfig, workers: int) -> float:  # of the prompts' pool
        batch = first_wave_batch_tokens(c, workers, prompt_mean_tokens(lengths[0]), cfg.max_num_batched_tokens)
        w = first_use_wait_s(eng.first_use_waits, accelerator=case.accelerator, weights=rep.mm.formats.weights,
                             disaggregated=facts.prefill is not None, warmup_prompt_tokens=lengths[0],
                             first_batch_tokens=batch, concurrency=c)
        notes.extend([f"engine {eng.id}: the first wave waits {w:g} s once (first_use_waits)"] if w else [])
        return w
    if facts.prefill is None:
        wave = first_wave_s(dec, dcfg, facts.decode_workers)

        def run(k: int) -> BenchFigures:
            return closed_loop_run(dec.step, c, inp, out, dcfg, num_requests=k, seed=SEED,
                                   replicas=facts.decode_workers, request_overhead_s=req_s,
                                   tokens_per_step=tau, step_timer=dec.timer, bench_requests=bench,
                                   recv_interval_steps=recv, async_scheduling=eng.async_scheduling,
                                   adp_balance=adp, prefill_first=not eng.mixed_chunk,
                                   reserve_output=eng.reserve_output, wake_takes_queue=eng.wake_takes_queue,
                                   first_wave_wait_s=wave)
        return settled(run, n, bench, notes)
    pre = replicas["prefill"]
    pcfg, dcfg = recipe_configs(case, facts, pre, dec, notes)
    pcfg = pcfg.model_copy(update={"request_intake_s": intake})
    wave = first_wave_s(pre, pcfg, facts.prefill_workers)
    per_token, bw, lat, which = kv_link(pre, dec, total_chips)
    if facts.kv_link is not None:  # the caller's link (serve --kv-link-gb-per-s / --kv-link-latency-us)
        bw, lat = facts.kv_link
        which = f"given link ({lat * 1e6:.3g} us latency)"
    router, wake, pin = ("", eng.wake_takes_queue, "") if pw is None else (pw.router, pw.wake_takes_queue, pw.dp_rank)
    notes.append(f"disaggregated: {facts.prefill_workers} prefill worker(s) of {pre.mm.layout.chips_per_replica} "
                 f"chips (picked {router or 'least_loaded'}{pin and '; DP ranks ' + pin}), {facts.decode_workers} "
                 f"decode worker(s) of {dec.mm.layout.chips_per_replica}; KV {per_token / 1e3:.3g} kB/token over the "
                 f"{which} at {bw / 1e9:,.0f} GB/s: a {lengths[0]:,}-token prompt's "
                 f"{per_token * lengths[0] / 1e6:,.1f} MB in {(per_token * lengths[0] / bw + lat) * 1e6:,.1f} us")

    dw = eng.decode_worker_on(case.software, dec.mm.formats.weights, lengths[0], facts.decode_workers,
                              facts.prefill_workers)
    dpool = dw.max_total_tokens * dec.ranks  # the launch recipe's KV pool of a decode worker; 0: the memory fit's
    where = f"line {case.line} ({case.case_id}): catalog/engines.yaml, engine {eng.id}"
    check_recipe_pool(where, "decode_worker", dw.max_total_tokens, dec.ranks, dcfg.block_size_tokens,
                      max_tokens(inp) + max(dw.reserve_tokens, max_tokens(out)), "prompt + max(output, reserve)")
    held = f" ({dpool} tokens, {dw.max_total_tokens} per rank: the recipe's --max-total-tokens)" if dpool else ""
    if dw.reserve_tokens or dpool:
        notes.append(f"engine {eng.id}: a decode worker takes a request only while its free KV{held}, less "
                     f"{dw.reserve_tokens} tokens per request it holds, holds the prompt plus {dw.reserve_tokens}")
    if dw.recv_interval_steps > 1:
        notes.append(f"engine {eng.id}: a busy decode worker takes new requests every {dw.recv_interval_steps} steps")
    pool = pre.ranks * (0 if pw is None else pw.max_total_tokens)  # the recipe's prefill pool; 0: the memory fit's
    check_recipe_pool(where, "prefill_worker_scheduling", pool // pre.ranks, pre.ranks, pcfg.block_size_tokens,
                      max_tokens(inp), "prompt")
    if pool:
        notes.append(f"engine {eng.id}: a prefill worker holds at most {pool} tokens of prompts in flight "
                     f"({pool // pre.ranks} per rank, the launch recipe's --max-total-tokens)")

    def run_disagg(k: int) -> BenchFigures:
        return closed_loop_disagg_run(pre.step, dec.step, c, inp, out, pcfg, dcfg, num_requests=k,
                                      seed=SEED, prefill_replicas=facts.prefill_workers, prefill_dp_rank=pin,
                                      decode_replicas=facts.decode_workers, kv_bytes_per_token=per_token,
                                      link_bytes_per_s=bw, link_latency_s=lat, request_overhead_s=req_s,
                                      tokens_per_step=tau, timers=(pre.timer, dec.timer), bench_requests=bench,
                                      recv_interval_steps=recv, async_scheduling=plan_ahead, wake_takes_queue=wake,
                                      decode_reserve_tokens=dw.reserve_tokens, decode_retract=dw.retract_to_host,
                                      decode_recv_interval_steps=dw.recv_interval_steps, first_wave_wait_s=wave,
                                      prefill_kv_tokens=pool, prefill_router=router, decode_kv_tokens=dpool)
    return settled(run_disagg, n, bench, notes)


def recipe_configs(case: Case, facts: RowFacts, pre: EngineReplica, dec: EngineReplica,
                   notes: list[str]) -> tuple[SchedulerConfig, SchedulerConfig]:
    """The schedulers of a disaggregated row's prefill (context) and decode (generation) workers: the
    engine's, capped where the launch recipe caps the requests and tokens of one iteration per
    attention-DP rank (:meth:`~inferchip.spec.engine.EngineSpec.batch_on`; a note says so)."""
    eng = facts.engine
    out = []
    for role, rep in (("prefill", pre), ("decode", dec)):
        cfg = rep.config(int(case.concurrency or 1), int(case.input_tokens or 0), int(case.output_tokens or 0))
        mtp = facts.mtp if facts.recipe_mtp is None else facts.recipe_mtp  # serve --mtp 0: the MTP row's recipe
        rb = eng.batch_on(role, case.software, case.model, int(case.input_tokens or 0), mtp,
                          facts.prefill_workers, dec.mm.layout.chips_per_replica, facts.decode_workers,
                          weights=rep.mm.formats.weights, attention_dp=rep.ranks > 1)
        if rb is not None:
            seqs = min(cfg.max_num_seqs, rb.requests * rep.ranks)
            budget = rb.tokens * rep.ranks if rb.tokens else cfg.max_num_batched_tokens
            cfg = SchedulerConfig(max_num_seqs=seqs, max_num_batched_tokens=max(budget, seqs))
            unit = "attention-DP rank" if rep.ranks > 1 else "worker"
            notes.append(f"{role} workers' launch recipe: at most {rb.requests} request(s)"
                         + (f" and {rb.tokens} tokens" if rb.tokens else "") + f" per {unit} and iteration")
        out.append(cfg)
    return out[0], out[1]


def settled(run: Callable[[int], BenchFigures], n: int, bench: int, notes: list[str]) -> tuple[BenchFigures, list[str]]:
    """``run(n)``, or ``run(bench)`` (all the benchmark's requests) where the shortened run's middle
    has not settled (``|middle_drift| > SETTLED_DRIFT``): a middle still draining the start's queue
    would stand, weighted, for the benchmark's whole middle and misstate its TTFT."""
    fig = run(n)
    if n < bench and abs(fig.middle_drift) > SETTLED_DRIFT:
        notes = [x for x in notes if not x.startswith(f"{n} requests simulated for the benchmark's")]
        notes.append(f"the middle of {n} simulated requests had not settled (mean TTFT {fig.middle_drift:+.0%} "
                     f"from its first half to its second): all {bench} of the benchmark's requests simulated")
        fig = run(bench)
    return fig, notes


def closed_loop_value(case: Case, fig: BenchFigures) -> float:
    """The row's metric from the simulated benchmark."""
    m = case.metric
    if m == "ttft_ms":
        return fig.ttft_s * 1e3
    if m in ("tpot_ms", "itl_ms"):
        return fig.tpot_s * 1e3
    if m == "output_tokens_per_s_total":
        return fig.output_tokens_per_s
    if m == "output_tokens_per_s_per_accelerator":
        return fig.output_tokens_per_s / case.num_accelerators
    if m == "batch_e2e_latency_ms":
        return fig.e2e_s * 1e3
    raise InvalidSettingError(f"line {case.line}, column metric: {m} is not a closed-loop serving metric")
