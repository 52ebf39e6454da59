"""How a server row's engine admits new requests, as its notes state it (simulated server rows).

A submission's published engine configuration says when a received request can first be
prefilled; the simulator runs the row's replica as that engine does
(:mod:`inferchip.sim.engines`). Read from the row's notes, never from its id or chip:

* ``num_scheduler_steps N`` (vLLM multi-step scheduling): the scheduler runs once per ``N``
  decode iterations, so a request that arrives while the engine decodes waits for the next
  scheduling round: :class:`~inferchip.sim.engines.polling.PollingReplica` polling every ``N``
  decode steps.
* ``adp_balancing_batching_wait_iters W`` and ``adp_balancing_timeout_iters T`` (TensorRT-LLM
  attention-DP balance, as the NVIDIA MLPerf harness names them): context requests are held
  until every attention-DP rank has one, then ``W`` iterations more, or ``T`` iterations at most:
  :class:`~inferchip.sim.engines.scheduling.AdpBalancedReplica` over the layout's attention-DP
  ranks (ignored, and said, on a layout without attention DP).
* ``disable_overlap_scheduler False`` (TensorRT-LLM PyTorch backend's overlap scheduler, on unless
  disabled; the NVIDIA MLPerf v5.1 harness writes it for that backend, mlcommons/inference_results_v5.1
  @952ca60 ``closed/NVIDIA/code/llmlib/config.py`` ``TrtllmExtraYAMLConfig.DEFAULT_EXTRA_CONFIG``):
  ``PyExecutor._executor_loop_overlap`` schedules step ``k + 1`` before it takes in what arrived
  during step ``k``, so a request arriving while step ``k`` runs is first prefilled in step ``k + 2``:
  the replica plans ahead (``async_scheduling``, :mod:`inferchip.sim.engines.scheduling`), with the
  attention-DP balance when both are stated. ``True`` (or nothing stated): no plan-ahead.

* ``--enable-batcher`` with ``--batcher-threshold T`` and ``--gpu-batch-size B`` (a benchmark
  harness's batcher, as AMD's MLPerf Llama-2-70B Server harness names it; both values must be
  stated, harness versions differ): queries are gathered for up to ``T`` seconds or ``B`` queries
  and each batch goes to the next engine instance in turn:
  :class:`~inferchip.sim.load.arrivals.HarnessBatchedArrivals`, the wait counted in TTFT. Here ``B``
  is the harness's batch, not the engine's ``max_num_seqs`` (the hyphenated spelling keeps it
  apart from the ``gpu_batch_size`` that states an engine's batch size).

A row that states none of them runs the plain replica (every received request can join the next step).

* ``kvcache_free_gpu_mem_frac F`` (the NVIDIA MLPerf harness's name; ``kv_cache_free_gpu_mem_fraction``,
  ``free_gpu_memory_fraction`` elsewhere): TensorRT-LLM sizes its KV pool as ``F`` of the device memory still free
  once the engine is loaded (``BaseKVCacheManager::calculateFreeMemBytes``: free memory x fraction, the fraction
  below 1; NVIDIA/TensorRT-LLM ``cpp/tensorrt_llm/batch_manager/kvCacheManager.cpp``, read in one stored 2025
  version). The simulated replica of such a row holds ``F x (usable - weights - activations)`` of KV cache
  (:func:`kv_pool_share`; the activations of one step of the stated ``max_num_tokens``, the engine's build-time token
  cap, else of the mapped model's chunk: an estimate of what the loaded engine takes besides its weights) instead of
  the calibration's share of the usable memory.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace
from functools import partial
from typing import TYPE_CHECKING, Any

import numpy as np

from inferchip.catalog.engines import row_engine
from inferchip.errors import InternalError, InvalidSettingError
from inferchip.mapping.layout import Layout
from inferchip.performance.mapped import MappedModel
from inferchip.performance.operating import QUEUE_WAIT_STEPS, OperatingPoint
from inferchip.sim import SchedulerConfig
from inferchip.sim.engines.polling import PollingReplica
from inferchip.sim.engines.scheduling import AdpBalancedReplica
from inferchip.sim.load.arrivals import HarnessBatchedArrivals

if TYPE_CHECKING:
    from inferchip.validation.cases import Case
    from inferchip.validation.plan import Plan

# A setting name, then "=", ":" or a space, then a value as written: a token that starts like a number (sign, digit,
# ".5", inf, nan), checked and never skipped. Prose that merely names the setting ("batch size of 64", "max_num_seqs
# requests", "num_requests-max_num_seqs-1") is not such a form and states nothing.
_STATED_NUMBER = r"(?:\s*[=:]\s*|\s+)([-+]?(?:\.?\d[\w.+-]*|inf(?:inity)?\b|nan\b))"
_STEPS = re.compile(r"\bnum_scheduler_steps" + _STATED_NUMBER, re.IGNORECASE)
_ADP_WAIT = re.compile(r"\badp_balancing_batching_wait_iters" + _STATED_NUMBER, re.IGNORECASE)
_ADP_TIMEOUT = re.compile(r"\badp_balancing_timeout_iters" + _STATED_NUMBER, re.IGNORECASE)
_OVERLAP_OFF = re.compile(r"\bdisable_overlap_scheduler\s*[=:]?\s*(false|true)\b", re.IGNORECASE)
_BATCHER = re.compile(r"--enable-batcher\b", re.IGNORECASE)
_BATCHER_WINDOW = re.compile(r"--batcher-threshold" + _STATED_NUMBER, re.IGNORECASE)  # seconds ("0.05", "0.05s")
_BATCHER_MAX = re.compile(r"--gpu-batch-size" + _STATED_NUMBER, re.IGNORECASE)
_SEQS = re.compile(r"\b(?:gpu_batch_size|max_batch_size|max_num_seqs|batch size)" + _STATED_NUMBER, re.IGNORECASE)
_TOKENS = re.compile(r"\b(?:max_num_tokens|max_num_batched_tokens)" + _STATED_NUMBER, re.IGNORECASE)
_WHOLE = re.compile(r"\d+\.?")  # a whole number; a sentence's closing full stop dropped
_KV_FREE = re.compile(r"\b(kvcache_free_gpu_mem_frac|kv_cache_free_gpu_mem_fraction|free_gpu_memory_fraction)"
                      r"\s*[=:]?\s*([^\s,;()]+)", re.IGNORECASE)  # the value as written: checked, not skipped


@dataclass(frozen=True)
class StatedScheduling:
    """When a received request can first be scheduled (module doc); the defaults: at once."""

    recv_interval_steps: int = 1
    adp_batching_wait_iters: int | None = None
    adp_timeout_iters: int | None = None
    batcher_window_s: float | None = None  # a harness batcher's longest wait between sends (None: no batcher)
    batcher_max_batch: int | None = None  # queries that make a harness batch at once
    async_scheduling: bool = False  # the engine plans step k + 1 while step k runs (overlap scheduler stated on)

    @property
    def adp_balance(self) -> bool:
        return self.adp_batching_wait_iters is not None or self.adp_timeout_iters is not None


def stated_scheduling(case_id: str, notes: str) -> StatedScheduling:
    """The scheduling the notes state (module doc). A row stating both multi-step scheduling and an
    attention-DP balance is an error naming the row (one engine does one or the other)."""
    steps, wait, timeout = (_stated_whole(case_id, r, notes) for r in (_STEPS, _ADP_WAIT, _ADP_TIMEOUT))
    n = steps or 1
    if steps and (wait or timeout):
        raise InvalidSettingError(f"case {case_id}, column notes: both num_scheduler_steps (vLLM) and an "
                                  "attention-DP balance (TensorRT-LLM) are stated; one engine does one of them")
    window_s, max_batch = _batcher(case_id, notes)
    overlap_off = _OVERLAP_OFF.search(notes)
    plan_ahead = overlap_off is not None and overlap_off.group(1).lower() == "false"
    if plan_ahead and steps:
        raise InvalidSettingError(f"case {case_id}, column notes: both num_scheduler_steps (vLLM) and "
                                  "disable_overlap_scheduler (TensorRT-LLM) are stated; one engine does one of them")
    # TensorRT-LLM's defaults where only one of the two counts is stated (AttentionDpConfig: 50 / 10).
    adp = wait is not None or timeout is not None
    return StatedScheduling(n, (wait or 10) if adp else None, (timeout or 50) if adp else None, window_s, max_batch,
                            plan_ahead)


def _batcher(case_id: str, notes: str) -> tuple[float | None, int | None]:
    """(window s, max batch) of a harness batcher the notes state, (None, None) without one."""
    if not _BATCHER.search(notes):
        return None, None
    window, most = _BATCHER_WINDOW.search(notes), _BATCHER_MAX.search(notes)
    if window is None or most is None:
        raise InvalidSettingError(
            f"case {case_id}, column notes: --enable-batcher is stated without "
            f"{'--batcher-threshold' if window is None else '--gpu-batch-size'}; allowed: both stated with the "
            "batcher (harness versions have different defaults)")
    window_s, max_batch = _seconds(case_id, window), _whole(case_id, most.group(0), most.group(1))
    if not 0 < window_s <= 60:
        raise InvalidSettingError(f"case {case_id}, column notes: --batcher-threshold {window_s:g} s and "
                                  f"--gpu-batch-size {max_batch}: allowed (0, 60] s and >= 1")
    return window_s, max_batch


def _seconds(case_id: str, stated: re.Match[str]) -> float:
    """A stated --batcher-threshold in seconds ("0.05", "0.05s", a closing full stop dropped), else an error."""
    try:
        return float(stated.group(1).rstrip(".").removesuffix("s"))
    except ValueError:
        raise InvalidSettingError(f"case {case_id}, column notes: {stated.group(0)!r}: not a number; allowed: "
                                  "seconds in (0, 60]") from None


def replica_factory(s: StatedScheduling, dp_ranks: int) -> tuple[Any, str]:
    """(the simulator's replica class for ``s`` on a layout of ``dp_ranks`` attention-DP ranks, or None
    for the plain replica; what it does, for the row's notes, "" when nothing)."""
    ahead = "each step planned while the previous one runs (overlap scheduler, as the notes state)"
    if s.adp_balance and dp_ranks >= 2:
        wait, timeout = s.adp_batching_wait_iters, s.adp_timeout_iters
        if wait is None or timeout is None:
            raise InternalError("stated_scheduling sets both ADP counts where it sets adp_balance")
        return (partial(AdpBalancedReplica, ranks=dp_ranks, timeout_iters=timeout,
                        batching_wait_iters=wait, async_scheduling=s.async_scheduling),
                f"context requests held to balance {dp_ranks} attention-DP ranks (batching wait "
                f"{wait}, timeout {timeout} iterations, as the notes state)"
                + (f"; {ahead}" if s.async_scheduling else ""))
    ignored = "the attention-DP balance the notes state is ignored: the layout has no attention DP" \
        if s.adp_balance else ""
    if s.async_scheduling:
        note = "; ".join(filter(None, (ignored, ahead)))
        return partial(PollingReplica, recv_interval_steps=1, async_scheduling=True), note
    if ignored:
        return None, ignored
    if s.recv_interval_steps > 1:
        return (partial(PollingReplica, recv_interval_steps=s.recv_interval_steps),
                f"new requests scheduled every {s.recv_interval_steps} decode steps (num_scheduler_steps stated)")
    return None, ""


def _batched(s: StatedScheduling, instances: int, rate_per_s: float, inp: Any, out: Any) -> HarnessBatchedArrivals:
    return HarnessBatchedArrivals(rate_per_s=rate_per_s, instances=instances, window_s=s.batcher_window_s,
                                  max_batch=s.batcher_max_batch, input_tokens=inp, output_tokens=out)


def arrivals_factory(s: StatedScheduling, instances: int) -> tuple[Any, str]:
    """(``(rate per instance, input lengths, output lengths) ->`` arrival spec of one engine instance,
    or None for Poisson; what it does, for the row's notes, "" when nothing)."""
    if s.batcher_window_s is None:
        return None, ""
    return (partial(_batched, s, instances),
            f"queries gathered by the harness batcher (sent every {s.batcher_window_s:g} s or at "
            f"{s.batcher_max_batch} queries, each batch to the next of {instances} instances, as the notes state): "
            "the batcher wait counts in TTFT")


def batcher_ttft_point(s: StatedScheduling, point: OperatingPoint, mm: MappedModel, rate_per_s: float | None,
                       inputs: Any, outputs: Any) -> OperatingPoint:
    """The analytic operating point of an open loop at ``rate_per_s`` (system-wide) behind the stated
    harness batcher (None: no batcher, or no finite rate: ``point`` as it is).

    With ``k = min(max(rate x T, 1), B)`` queries per batch (window ``T``, max batch ``B``), a query
    waits ``(k - 1) / (2 rate)`` in the batcher on average (uniform arrivals in a batch), and the
    ``k`` prompts reach one instance at once: their ``k E[i]`` tokens are prefilled in ``n = ceil(k
    E[i] / C)`` steps of ``C`` tokens (the step budget) next to the running decodes, so the mean
    prompt's first token comes ``(n + 1) / 2`` such steps after the burst (a prompt alone: its own
    chunks, as the point has them). TTFT and E2E grow by the wait and that difference; TPOT does not
    (the same prefill work per second as without the batcher, in fewer, larger steps)."""
    if s.batcher_window_s is None or s.batcher_max_batch is None or rate_per_s is None \
            or not (math.isfinite(rate_per_s) and rate_per_s > 0) or not math.isfinite(point.ttft_s):
        return point
    k = min(max(rate_per_s * s.batcher_window_s, 1.0), float(s.batcher_max_batch))
    wait_s = (k - 1.0) / (2.0 * rate_per_s)
    burst = k * inputs.mean
    per_step = min(burst, float(mm.chunk_tokens))
    steps = math.ceil(burst / float(mm.chunk_tokens))
    b = point.batch
    ctx = inputs.mean + outputs.second_moment / (2.0 * max(outputs.mean, 1.0))
    prompts = per_step / max(inputs.mean, 1.0)  # prompts (or parts of them) prefilled in one burst step
    step_s, _ = mm.replica_step_s(np.array([b + per_step]), np.array([b]), np.array([b * ctx]),
                                  np.array([prompts * inputs.mean_prefill_pairs]), logit_rows=np.array([b + prompts]))
    alone_s = point.ttft_s - QUEUE_WAIT_STEPS * point.tpot_s  # the point's prefill of one prompt
    extra = wait_s + max(0.0, 0.5 * (steps + 1) * float(np.asarray(step_s).reshape(-1)[0]) - alone_s)
    return replace(point, ttft_s=point.ttft_s + extra, e2e_s=point.e2e_s + extra)


def stated_batch(notes: str, case_id: str = "") -> tuple[int | None, int | None]:
    """(sequences in flight, step token budget) the notes state, None where they state none:
    "gpu_batch_size 1024", "max_batch_size 256", "max_num_seqs=512", "batch size 64";
    "max_num_tokens 8192", "max_num_batched_tokens: 16384" (the first of each). A stated value that is not a whole
    number >= 1 as written (0, -4, 1.5, 1e3, inf: an engine takes a whole, non-empty batch or budget) is an error
    naming the row (``case_id``), the column and the setting, never skipped nor rounded."""
    return _stated_whole(case_id, _SEQS, notes), _stated_whole(case_id, _TOKENS, notes)


def _stated_whole(case_id: str, setting: re.Pattern[str], notes: str) -> int | None:
    """The first value ``notes`` state for ``setting`` as a whole number >= 1 (:func:`_whole`), None if none."""
    return _whole(case_id, m.group(0), m.group(1)) if (m := setting.search(notes)) else None


def _whole(case_id: str, setting: str, text: str) -> int:
    """The stated ``text`` of ``setting`` (as written in the notes) as a whole number >= 1, else an error naming the
    row, the column and the setting."""
    if not _WHOLE.fullmatch(text) or int(text.rstrip(".")) < 1:
        why = "below 1" if _WHOLE.fullmatch(text) else "not a whole number"
        raise InvalidSettingError(f"case {case_id or '?'}, column notes: {setting!r}: {why}; "
                                  "allowed: a whole number >= 1")
    return int(text.rstrip("."))


def stated_kv_free_fraction(case_id: str, notes: str) -> float | None:
    """The KV pool's fraction of the memory free after loading that the notes state (module doc), None without one;
    a value that is not a number, one outside (0, 1) (TensorRT-LLM refuses a fraction of 1 or more; inf and NaN
    included) or two different values: an error naming the row, the column and the stated setting."""
    stated = [(m.group(1), _fraction(case_id, m.group(1), m.group(2))) for m in _KV_FREE.finditer(notes)]
    for name, f in stated:
        if not 0.0 < f < 1.0:
            raise InvalidSettingError(f"case {case_id}, column notes: {name} {f:g}: the KV pool's fraction of the "
                                      "free memory; allowed: (0, 1)")
    if len({f for _, f in stated}) > 1:
        raise InvalidSettingError(f"case {case_id}, column notes: KV pool fractions disagree ("
                                  + ", ".join(f"{n} {f:g}" for n, f in stated) + "); allowed: one value")
    return stated[0][1] if stated else None


def _fraction(case_id: str, name: str, text: str) -> float:
    """The stated ``text`` of setting ``name`` as a number (a sentence's closing full stop dropped), else an error
    naming the row, the column and the setting."""
    try:
        return float(text.rstrip("."))
    except ValueError:
        raise InvalidSettingError(f"case {case_id}, column notes: {name} {text!r}: not a number; allowed: a "
                                  "fraction in (0, 1)") from None


def kv_pool_share(mm: MappedModel, free_fraction: float, step_tokens: int | None = None) -> float:
    """The share of usable memory that the weights and a KV pool of ``free_fraction`` of what the loaded engine
    leaves free take: ``(W + F (U - W - A)) / U`` with ``A`` the activations of a step of ``step_tokens`` (None: the
    mapped model's chunk; module doc); as a static fraction (``MappedModel.static_memory_fraction``) it gives the
    replica ``F (U - W - A)`` of KV cache."""
    u, w = mm.chip.usable_memory_bytes, mm.weights_bytes
    act = float(np.asarray(mm.activation_bytes(step_tokens or mm.chunk_tokens)).reshape(-1)[0])
    return (w + free_fraction * max(u - w - act, 0.0)) / u


def kv_free_mapped(mm: MappedModel, free_fraction: float | None, step_tokens: int | None = None) -> MappedModel:
    """``mm`` with the stated KV pool (:func:`kv_pool_share`); ``mm`` itself where none is stated."""
    return mm if free_fraction is None else replace(
        mm, static_memory_fraction=kv_pool_share(mm, free_fraction, step_tokens))


# ------------------------------------------------------------------ the replica's scheduler settings
def scheduler_config(case: Case, mm: MappedModel, plan: Plan, kv_capacity_tokens: int, dp: int = 1,
                     micro_batches: int = 1) -> tuple[SchedulerConfig, str]:
    """Engine settings of a row's replica on ``dp`` attention-DP ranks and ``micro_batches`` pipeline micro-batches
    capped one by one, and how they were chosen (validation/server.py's module doc, "Scheduler")."""
    seqs, tokens = stated_batch(case.notes, case.case_id)
    k = dp * micro_batches
    each = f" per rank, x{dp} ranks" * (dp > 1) + f" per micro-batch, x{micro_batches} micro-batches" * (k > dp)
    if seqs is not None:
        n, why = seqs * k, f"max_num_seqs {seqs * k} (batch size {seqs} stated{each})"
    else:
        o = plan.outputs
        ctx = plan.inputs.mean + o.second_moment / (2.0 * max(o.mean, 1.0))
        n = max(1, int(kv_capacity_tokens // max(ctx, 1.0)))
        why = f"max_num_seqs {n} (no batch size stated: what the KV cache holds at the mean in-flight context)"
    if tokens is not None and tokens * k < n:  # a decoding sequence is one of the step's tokens
        n, why = tokens * k, f"{why}, capped at {tokens * k} by the stated max_num_tokens {tokens}"
    budget = max((tokens or mm.chunk_tokens) * k, n)  # per rank and micro-batch, as the cap
    engine = row_engine(case.software, f"line {case.line} ({case.case_id})")
    whole = engine is not None and engine.prompt_blocks_at_admission
    return (SchedulerConfig(max_num_seqs=n, max_num_batched_tokens=budget, prompt_blocks_at_admission=whole),
            f"{why}, token budget {budget}" + ", a prompt's KV blocks all taken at admission" * whole)


def micro_batches(case: Case, layout: Layout) -> int:
    """Micro-batches the row's engine (``software``) caps singly: ``layout.pp`` with ``micro_batch_caps``, else 1."""
    engine = row_engine(case.software, f"line {case.line} ({case.case_id})")
    return layout.pp if engine is not None and engine.micro_batch_caps else 1
