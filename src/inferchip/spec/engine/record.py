"""A serving engine as data (:class:`EngineSpec`): the few things that make vLLM, SGLang, TensorRT-LLM, ATOM and
Dynamo differ on the same chip (the catalogue is ``catalog/engines.yaml``, read by :mod:`inferchip.catalog.engines`).

Each field is physical: host time per engine iteration, host time per request on the path to the first token (HTTP,
tokenisation, admission, first detokenisation), the scheduler's running-batch cap and prefill token budget, the
CUDA-graph batch buckets a decode batch is padded to, and per-class kernel efficiency (multipliers on the calibration's
attainable fractions, 1 = the calibration's kernels). Fitted values say so in ``fitted_on``. What a launch recipe
sets per chip is in :mod:`~inferchip.spec.engine.recipes`, a disaggregated deployment's workers in
:mod:`~inferchip.spec.engine.workers`.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field

from inferchip.spec.engine.checkpoints import CheckpointAttention
from inferchip.spec.engine.recipes import (
    RecipeAllReduce,
    RecipeChunk,
    RecipeKernelEfficiency,
    RecipeMemory,
    RecipeMoeKernel,
    RecipeRequestPath,
    first_on_chip,
)
from inferchip.spec.engine.workers import (
    AttentionDpBalance,
    DecodeWorker,
    EagerSteps,
    FirstUseWait,
    RecipeBatch,
    RecvInterval,
    RunLength,
    WorkerRequestPath,
    WorkerScheduling,
    decode_worker_for,
    first_for_software,
    names_chip,
    prefill_worker_for,
)
from inferchip.spec.tokenizer import tokenize_time_s
from inferchip.units import GIB

KERNEL_CLASSES = ("gemm", "attention", "memory", "link")


class KernelEfficiency(BaseModel):
    """Multipliers on the calibration's attainable fractions (the product is clipped to 1)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    gemm: float = Field(1.0, gt=0.2, le=2.0, description="x gemm_compute_fraction")
    attention: float = Field(1.0, gt=0.2, le=2.0, description="x attention_compute_fraction")
    memory: float = Field(1.0, gt=0.2, le=2.0, description="x memory_bandwidth_fraction")
    link: float = Field(1.0, gt=0.2, le=2.0, description="x link_bandwidth_fraction")


class DeviceBatchRule(BaseModel):
    """An engine's own per-device defaults for its running-batch cap and step budget: the record's ``max_num_seqs``
    and ``chunk_tokens`` hold on a chip of at least ``min_memory_gib`` GiB of device memory whose family is not in
    ``excluded_families``; any chip else gets the ``max_num_seqs`` and ``chunk_tokens`` here. Device memory is one
    runtime device's: a package its runtime enumerates as several devices (the chip's ``memory.runtime_devices``,
    an MI250X's two GCDs) is read as one of them, its memory divided among them."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    min_memory_gib: float = Field(gt=0, le=1_000_000, description="Device memory (GiB, 2^30 bytes) the record's "
                                  "values need.")
    excluded_families: tuple[str, ...] = Field((), description="Families (catalog/families.yaml) that get the smaller "
                                               "values whatever their memory.")
    max_num_seqs: int = Field(ge=1, le=65536, description="Running-batch cap per scheduler elsewhere.")
    chunk_tokens: int = Field(ge=64, le=1_048_576, description="Step token budget per scheduler elsewhere.")
    source: str = Field(min_length=1)


def _gib_beside(gib: float, limit_gib: float) -> str:
    """``gib`` to as few decimals as keep its comparison with ``limit_gib`` true as printed (69.99 GiB is "69.99",
    not "70", beside a 70 GiB threshold it is below)."""
    for decimals in range(0, 10):
        text = f"{gib:,.{decimals}f}"
        if (float(text.replace(",", "")) >= limit_gib) == (gib >= limit_gib):
            return text
    return repr(gib)


@dataclass(frozen=True)
class SchedulerCaps:
    """An engine's running-batch cap and step token budget per scheduler (per attention-DP rank) on one chip, resolved
    once (:meth:`EngineSpec.caps_on`), with why in words (``reason``) for the output."""

    max_num_seqs: int
    chunk_tokens: int
    reason: str


class EngineSpec(BaseModel):
    """One serving engine (see module doc). Times in seconds."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(pattern=r"^[a-z][a-z0-9_-]*$")
    name: str
    match: tuple[str, ...] = Field(min_length=1, description="Lower-case fragments of a case's `software` text.")
    step_overhead_s: float = Field(ge=0, le=0.05, description="Host time per iteration not hidden by the device.")
    request_overhead_s: float = Field(ge=0, le=2.0, description="Host time per request before its first token.")
    request_intake_s: float = Field(0.0, ge=0, le=0.05, description="Of that time, the part the engine loop spends in "
                                    "series with its steps (SchedulerConfig.request_intake_s); 0: none.")
    front_end_tokenizes: bool = Field(
        False, description="The API server encodes the benchmark's text prompt on each request's path before it is "
                           "scheduled (the model's tokenizer rate, catalog tokenizers); False: none apart from "
                           "request_overhead_s.")
    max_num_seqs: int = Field(ge=1, le=65536, description="Running-batch cap per scheduler (per DP rank).")
    chunk_tokens: int = Field(ge=64, le=1_048_576, description="Prefill token budget of one step (per DP rank).")
    device_batch: DeviceBatchRule | None = Field(None, description="Where max_num_seqs and chunk_tokens hold by the "
                                                 "chip's memory and family (none: on every chip).")
    graph_batch_step: int = Field(8, ge=1, le=1024, description="Decode batches are padded to a multiple of this.")
    graph_max_batch: int = Field(512, ge=1, le=65536, description="Largest captured decode batch (no padding above).")
    eager_steps: EagerSteps | None = Field(None, description="Steps run without CUDA graphs (none: as graphed).")
    kernel_efficiency: KernelEfficiency = Field(default_factory=KernelEfficiency)
    recv_interval: tuple[RecvInterval, ...] = Field(
        (), description="Decode iterations between request-queue polls, by benchmark concurrency (none: every step).")
    recipe_chunk_tokens: tuple[RecipeChunk, ...] = Field(
        (), description="Prefill token budget per step of the launch recipes, by chip (none: chunk_tokens).")
    recipe_all_reduce: tuple[RecipeAllReduce, ...] = Field(
        (), description="All-reduce codec of the launch recipes (AMD QuickReduce), by chip and weights; aggregated "
                        "rows (none: the 16-bit all-reduce).")
    recipe_memory_fraction: tuple[RecipeMemory, ...] = Field(
        (), description="Static memory fraction of the launch recipes (weights + KV pool, activations outside), by "
                        "chip, weights and TP (none: the calibration's memory_utilization_fraction rule).")
    recipe_request_paths: tuple[RecipeRequestPath, ...] = Field(
        (), description="Launch recipes whose requests wait recipe_request_overhead_s more before their first "
                        "token (a kernel path only those recipes take), by chip, weights and software.")
    recipe_request_overhead_s: float = Field(
        0.0, ge=0, le=2.0, description="Time per request before its first token added under recipe_request_paths.")
    recipe_kernel_efficiency: tuple[RecipeKernelEfficiency, ...] = Field(
        (), description="Kernel efficiency of the engine build on a chip (first match wins).")
    recipe_moe_kernel: tuple[RecipeMoeKernel, ...] = Field(
        (), description="Expert kernel of the launch recipes and the share of the tensor-core peak its MMA issues, by "
                        "chip and weights; aggregated rows (none: kernels written for the chip, the whole peak).")
    checkpoint_attention: tuple[CheckpointAttention, ...] = Field((), description="Attention as checkpoints store it.")
    recipe_batch: tuple[RecipeBatch, ...] = Field(
        (), description="Per-rank request and token caps of a disaggregated recipe's context or generation workers, "
                        "by software, model, input length and layout (none: max_num_seqs and the chunk).")
    async_scheduling: bool = Field(
        False, description="The scheduler plans the next step while one runs (vLLM --async-scheduling): a request "
                           "received during a step is scheduled two steps later.")
    wake_takes_queue: bool = Field(True, description="An idle engine woken by a request takes every request queued "
                                   "by then into its first step (vLLM, SGLang); False: that one only (TensorRT-LLM).")
    prefill_worker_scheduling: tuple[WorkerScheduling, ...] = Field(
        (), description="async_scheduling, wake_takes_queue of a disaggregated row's prefill workers by the worker "
                        "engine its software names (none matching: this record's).")
    worker_request_paths: tuple[WorkerRequestPath, ...] = Field(
        (), description="Worker engines whose request path a front end's rows cross too (their time adds to this "
                        "record's request_overhead_s); ids checked against the catalogue on load.")
    decode_worker: tuple[DecodeWorker, ...] = Field(
        (), description="Page reservation and request polling of a disaggregated row's decode workers, by the worker "
                        "engine its software names (none matching: no reservation, a poll every iteration).")
    run_length: tuple[RunLength, ...] = Field((), description="Benchmark prompts per client of the rows' launch "
                                              "harness or runner (none matching: the InferenceMAX scripts' 10).")
    first_use_waits: tuple[FirstUseWait, ...] = Field((), description="One-time first-use waits of a fresh server's "
                                                      "first wave, by chip, weights and batch edge (none: no wait).")
    context_attention_follows_projections: bool = Field(
        False, description="The engine's context (prefill) attention runs in FP8 only where the attention "
                           "projections are quantised: with 16-bit projections (a checkpoint's modules_to_not_convert) "
                           "Q, K and V stay bf16 and the prefill attention runs at the bf16 rate even over an FP8 KV "
                           "cache (TensorRT-LLM; source in engines.yaml). False: it follows the activations and KV.")
    split_k_16bit_families: tuple[str, ...] = Field(
        (), description="Chip families (catalog/families.yaml) on which the engine runs its unquantised (16-bit) "
                        "linear layers through torch.nn.functional.linear, i.e. cuBLASLt, whose split-K algorithms "
                        "they may take (Calibration.gemm_split_k_16bit; sources in engines.yaml). Empty: none.")
    mla_prefill_16bit_families: tuple[str, ...] = Field(
        (), description="Chip families on which the engine's MLA prefill attention computes in bf16 whatever the KV "
                        "and activations (Calibration.mla_prefill_attention_16bit; sources in engines.yaml).")
    attention_dp_balance: AttentionDpBalance | None = Field(
        None, description="Context requests held to balance attention-DP ranks (TensorRT-LLM enable_balance).")
    mixed_chunk: bool = Field(
        True, description="A step carries prefill chunks and decodes together (vLLM, TensorRT-LLM). False: a step is "
                          "a prefill batch or a decode batch, prefill first, decodes paused while it runs (SGLang "
                          "without --enable-mixed-chunk, ATOM).")
    reserve_output: bool = Field(False, description="Admission reserves KV for every running request's remaining "
                                 "output and the new one's whole output (SGLang, ignore_eos, --disable-radix-cache).")
    micro_batch_caps: bool = Field(False, description="Batch and token caps bound each of the pp micro-batches.")
    admits_by_use: bool = Field(False, description="The capacity scheduler admits a request by the KV blocks it "
                                "holds now, pausing or preempting one where the cache runs out (vLLM; TensorRT-LLM "
                                "MAX_UTILIZATION). False: it reserves the whole answer at admission (TensorRT-LLM's "
                                "default GUARANTEED_NO_EVICT; sources in engines.yaml).")
    prompt_blocks_at_admission: bool = Field(False, description="A request is admitted only where its whole "
                                             "prompt's KV blocks fit, taken at once (TensorRT-LLM; source in "
                                             "engines.yaml); False: each prefill chunk takes its own (vLLM, SGLang).")
    by_use_harnesses: tuple[str, ...] = Field(
        (), description="Lower-case fragments of a row's software naming a launch harness that sets admission by "
                        "use where the engine's default reserves (sources in engines.yaml).")
    mtp_draft_tokens: int = Field(1, ge=1, le=8, description="Draft tokens per step under MTP speculative decoding.")
    mtp_acceptance: float = Field(0.85, ge=0, le=1, description="Acceptance rate of each MTP draft token "
                                  "(a probability: 0 keeps no draft, 1 every one).")
    sources: tuple[str, ...] = ()
    fitted_on: str | None = None

    def caps_on(self, chip_id: str, memory_capacity_bytes: float, family: str, runtime_devices: int = 1
                ) -> SchedulerCaps:
        """The running-batch cap and step budget this engine runs with by default on a chip of ``family`` with
        ``memory_capacity_bytes`` of memory, which its runtime sees as ``runtime_devices`` devices sharing it evenly
        (a package of several dies enumerated apart, the chip's ``memory.runtime_devices``): the rule reads one
        device's memory, as the engine does (:class:`DeviceBatchRule`; none: the record's on every chip)."""
        rule, gib = self.device_batch, memory_capacity_bytes / runtime_devices / GIB  # vLLM's GiB_bytes, 1 << 30
        if rule is None:
            return SchedulerCaps(self.max_num_seqs, self.chunk_tokens, f"the {self.id} engine record's "
                                 "(catalog/engines.yaml max_num_seqs, chunk_tokens), on every chip")
        excluded = family in rule.excluded_families
        shown = _gib_beside(gib, rule.min_memory_gib)
        device = (chip_id if runtime_devices == 1 else f"{chip_id} is {runtime_devices} devices to its runtime (the "
                  "chip's memory.runtime_devices), each of which")
        if gib >= rule.min_memory_gib and not excluded:
            return SchedulerCaps(self.max_num_seqs, self.chunk_tokens,
                                 f"the {self.id} engine record's: {device} has {shown} GiB >= "
                                 f"{rule.min_memory_gib:g} GiB and is not of "
                                 f"{', '.join(rule.excluded_families) or 'an excluded family'} ({rule.source})")
        why = (f"is of {family}, an excluded family" if excluded
               else f"has {shown} GiB < {rule.min_memory_gib:g} GiB")
        return SchedulerCaps(rule.max_num_seqs, rule.chunk_tokens,
                             f"the {self.id} engine record's device rule: {device} {why} ({rule.source})")

    def admission_by_use(self, software: str) -> bool:
        """Whether a row run as ``software`` states admits by use (``admits_by_use``, or a harness of
        ``by_use_harnesses`` its text names, case-insensitive)."""
        low = software.lower()
        return self.admits_by_use or any(h in low for h in self.by_use_harnesses)

    def recv_interval_steps(self, concurrency: int, accelerator: str = "", tp: int = 0, weights: str = "") -> int:
        """Decode-only iterations between the scheduler's polls of its request queue at
        ``concurrency`` clients on ``accelerator`` with tensor-parallel size ``tp`` and ``weights``:
        of the entries for that chip (or for every chip where none names it), those naming that
        format and size if any, else those for any; of these, the one with the largest
        ``min_concurrency`` not above ``concurrency`` (1 if none)."""
        chip, fmt = accelerator.lower(), weights.lower()
        named = [r for r in self.recv_interval if r.accelerator and names_chip(r.accelerator, chip)]
        entries = named or [r for r in self.recv_interval if not r.accelerator]
        entries = ([r for r in entries if (r.weights or r.tp) and r.weights in ("", fmt) and r.tp in (0, tp)]
                   or [r for r in entries if not r.weights and r.tp == 0])
        steps = 1
        for r in sorted(entries, key=lambda r: r.min_concurrency):
            if concurrency >= r.min_concurrency:
                steps = r.steps
        return steps

    def chunk_tokens_on(self, accelerator: str = "", weights: str = "", tp: int = 0, concurrency: int = 0,
                        input_tokens: int = 0, output_tokens: int = 0, default: int | None = None) -> int:
        """The scheduler's prefill token budget per step (per DP rank) on ``accelerator`` with
        ``weights`` and tensor-parallel size ``tp`` for a benchmark of ``concurrency`` clients and nominal
        lengths ``input_tokens`` / ``output_tokens``: the first recipe entry that matches
        (:meth:`RecipeChunk.matches`), else ``default`` (the engine's own on the chip, where the caller resolved it:
        ``sim.batching.scheduler.run_caps``), else ``chunk_tokens``."""
        chip, fmt = accelerator.lower(), weights.lower()
        for r in self.recipe_chunk_tokens:
            if r.matches(chip, fmt, tp, concurrency, input_tokens, output_tokens):
                return r.tokens
        return self.chunk_tokens if default is None else default

    def all_reduce_codec_on(self, accelerator: str = "", weights: str = "") -> str:
        """The QuickReduce codec of the first ``recipe_all_reduce`` entry for ``accelerator`` (a fragment of its
        id) and ``weights`` (an entry's blank weights match any), else "" (none)."""
        r = first_on_chip(self.recipe_all_reduce, accelerator, weights)
        return r.codec if r is not None else ""

    def kernel_efficiency_on(self, accelerator: str = "", weights: str = "", input_tokens: int = 0,
                             prefill_workers: int = 0) -> RecipeKernelEfficiency | None:
        """The first ``recipe_kernel_efficiency`` entry for ``accelerator`` (a fragment of its id), ``weights``, the
        row's nominal input length and prefill workers (an entry's blank or 0 matches any), else None."""
        chip, fmt = accelerator.lower(), weights.lower()
        return next((r for r in self.recipe_kernel_efficiency if r.on_chip(chip, fmt) and r.input_tokens in
                     (0, input_tokens) and r.prefill_workers in (0, prefill_workers)), None)

    def splits_16bit_k_on(self, family: str) -> bool:
        """Whether the engine's 16-bit GEMMs may split K on a chip of ``family`` (``split_k_16bit_families``)."""
        return family in self.split_k_16bit_families

    def moe_kernel_on(self, accelerator: str = "", weights: str = "") -> RecipeMoeKernel | None:
        """The first ``recipe_moe_kernel`` entry for ``accelerator`` (a fragment of its id) and ``weights`` (an
        entry's blank weights match any), else None (the expert kernels are written for the chip)."""
        return first_on_chip(self.recipe_moe_kernel, accelerator, weights)

    def memory_fraction_on(self, accelerator: str = "", weights: str = "", tp: int = 1) -> float | None:
        """The static memory fraction of the first recipe entry for ``accelerator`` (a fragment of its
        id), ``weights`` and ``tp`` (an entry's blank weights or tp 0 match any), else None."""
        chip, fmt = accelerator.lower(), weights.lower()
        r = next((r for r in self.recipe_memory_fraction if r.on_chip(chip, fmt) and r.tp in (0, tp)), None)
        return None if r is None else r.fraction

    def batch_on(self, role: str, software: str = "", model: str = "", input_tokens: int = 0, mtp: bool = False,
                 prefill_workers: int = 0, decode_chips: int = 0, decode_workers: int = 0,
                 weights: str = "", attention_dp: bool | None = None) -> RecipeBatch | None:
        """The first ``recipe_batch`` entry of ``role`` for a row with these facts (:class:`RecipeBatch`), else None."""
        sw, mdl, fmt = software.lower(), model.lower(), weights.lower()
        return next((r for r in self.recipe_batch if r.role == role and r.software in sw and r.model in mdl
                     and r.weights in ("", fmt) and r.input_tokens in (0, input_tokens) and r.mtp in (None, mtp)
                     and r.prefill_workers in (0, prefill_workers) and r.decode_chips in (0, decode_chips)
                     and r.decode_workers in (0, decode_workers) and r.attention_dp in (None, attention_dp)), None)

    def request_path(self, accelerator: str = "", weights: str = "", software: str = "",
                     model: str = "") -> RecipeRequestPath | None:
        """The first ``recipe_request_paths`` entry a row on the chip with these weights, software and model runs."""
        chip, fmt, sw, mdl = accelerator.lower(), weights.lower(), software.lower(), model.lower()
        return next((r for r in self.recipe_request_paths if r.on_row(chip, fmt, sw, mdl)), None)

    def on_request_path(self, accelerator: str = "", weights: str = "", software: str = "", model: str = "") -> bool:
        """Whether such a row runs a ``recipe_request_paths`` recipe that waits the shared recipe_request_overhead_s."""
        r = self.request_path(accelerator, weights, software, model)
        return r is not None and r.overhead_s is None

    def request_overhead_on(self, accelerator: str = "", weights: str = "", software: str = "",
                            model: str = "") -> float:
        """Time per request before its first token (s) for such a row: ``request_overhead_s``, plus its
        ``recipe_request_paths`` entry's ``overhead_s`` or else ``recipe_request_overhead_s``."""
        r = self.request_path(accelerator, weights, software, model)
        extra = 0.0 if r is None else self.recipe_request_overhead_s if r.overhead_s is None else r.overhead_s
        return self.request_overhead_s + extra

    def tokenize_s(self, prompt_tokens: float, s_per_prompt_token: float) -> float:
        """Front-end tokenisation time (s) on a request's path for a text prompt of ``prompt_tokens`` tokens, with
        the model's tokenizer at ``s_per_prompt_token``: :func:`tokenize_time_s` where ``front_end_tokenizes``
        (sources in engines.yaml), else 0."""
        t = tokenize_time_s(s_per_prompt_token, prompt_tokens)
        return t if self.front_end_tokenizes else 0.0

    def worker_engine_on(self, software: str = "") -> str | None:
        """The id of the worker engine whose request path a row with ``software`` also crosses: the first
        ``worker_request_paths`` entry whose fragment the text contains, else None (this record's time alone)."""
        w = first_for_software(self.worker_request_paths, software)
        return w.engine if w is not None else None

    def prefill_worker(self, software: str, weights: str, prefill_workers: int,
                       input_tokens: int = 0) -> WorkerScheduling | None:
        """The first matching ``prefill_worker_scheduling`` entry (:func:`prefill_worker_for`)."""
        return prefill_worker_for(self.prefill_worker_scheduling, software, weights, prefill_workers, input_tokens)

    def prefill_async_on(self, software: str = "", weights: str = "", prefill_workers: int = 0,
                         input_tokens: int = 0) -> bool:
        """Whether a disaggregated row's prefill workers plan one step ahead: the matching
        ``prefill_worker_scheduling`` entry's, else ``async_scheduling``."""
        w = self.prefill_worker(software, weights, prefill_workers, input_tokens)
        return self.async_scheduling if w is None else w.async_scheduling

    def decode_worker_on(self, software: str = "", weights: str = "", input_tokens: int = 0,
                         decode_workers: int = 0, prefill_workers: int = 0) -> DecodeWorker:
        """A disaggregated row's decode workers: the first matching ``decode_worker`` (:func:`decode_worker_for`)."""
        return decode_worker_for(self.decode_worker, software, weights, input_tokens, decode_workers, prefill_workers)

    def padded_batch(self, seqs: int) -> int:
        """Decode batch the CUDA graph runs for ``seqs`` sequences (next bucket; unpadded above the largest)."""
        if seqs <= 0 or seqs > self.graph_max_batch:
            return seqs
        if seqs <= 4:  # engines capture 1, 2, 4 before the regular step
            return 1 if seqs == 1 else (2 if seqs == 2 else 4)
        return min(self.graph_max_batch, -(-seqs // self.graph_batch_step) * self.graph_batch_step)

    def mtp_tokens_per_step(self, draft_tokens: int | None = None, acceptance: float | None = None) -> float:
        """Expected tokens one decode step emits per sequence with ``k`` chained draft tokens each accepted with
        probability ``a`` (a draft is kept only if all before it were): ``1 + a + a^2 + ... + a^k``."""
        k = self.mtp_draft_tokens if draft_tokens is None else draft_tokens
        a = self.mtp_acceptance if acceptance is None else acceptance
        return float(sum(a**i for i in range(k + 1)))
