"""The records of a disaggregated (prefill / decode) deployment's workers, as data of an engine
(:class:`inferchip.spec.engine.EngineSpec`): the launch recipes' batch caps per role, the prefill workers'
scheduling, the worker engine whose request path a front end's request also crosses, the decode workers'
page reservation and request polling, and any engine's queue-poll interval (``RecvInterval``). Each entry is
matched against a row's ``software`` text (lower case; first match wins) and carries its sources in
``catalog/engines.yaml``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, model_validator


def names_chip(fragment: str, chip: str) -> bool:
    """Whether a recipe entry's ``accelerator`` fragment names ``chip`` (a lower-case id): blank names every chip,
    else it is whole hyphen-separated parts of the id ("b200" names nvidia-b200-180gb, not nvidia-gb200-186gb;
    "h200" names nvidia-h200-sxm-141gb, not nvidia-gh200-144gb)."""
    return not fragment or f"-{fragment}-" in f"-{chip}-"


class RecipeBatch(BaseModel):
    """A running-batch cap a disaggregated launch recipe sets on its ``role`` ("prefill": context workers,
    "decode": generation workers), per attention-DP rank (per worker without attention DP): at most
    ``requests`` requests and, where ``tokens`` is not 0, ``tokens`` tokens in one iteration (TensorRT-LLM
    ``max_batch_size`` and ``max_num_tokens``; SGLang ``--max-running-requests`` and ``--chunked-prefill-size``,
    both divided by ``--dp-size`` under attention DP). An entry applies to rows whose ``software`` text and model
    id contain its ``software`` and ``model`` fragments (lower case; empty: any) and whose weight format, nominal
    input length, MTP, prefill workers, decode chips per worker, decode workers and attention DP on the worker
    are its ``weights``, ``input_tokens``, ``mtp``, ``prefill_workers``, ``decode_chips``, ``decode_workers`` and
    ``attention_dp`` (blank / 0 / None: any); the first matching entry of the role wins."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    role: Literal["prefill", "decode"]
    software: str = Field("", pattern=r"^[a-z0-9_.+ -]*$")
    model: str = Field("", pattern=r"^[a-z0-9_./-]*$")
    weights: str = Field("", pattern=r"^[a-z0-9]*$")
    input_tokens: int = Field(0, ge=0, le=10_000_000)
    mtp: bool | None = None
    prefill_workers: int = Field(0, ge=0, le=100_000)
    decode_chips: int = Field(0, ge=0, le=100_000)
    decode_workers: int = Field(0, ge=0, le=100_000)
    attention_dp: bool | None = None
    requests: int = Field(ge=1, le=65536)
    tokens: int = Field(0, ge=0, le=1_048_576)

    def covers(self, other: RecipeBatch) -> bool:
        """True when every row ``other`` matches also matches this entry (placed first, it would shadow ``other``)."""
        return (self.role == other.role and self.software in other.software and self.model in other.model
                and self.weights in ("", other.weights) and self.input_tokens in (0, other.input_tokens)
                and self.mtp in (None, other.mtp) and self.prefill_workers in (0, other.prefill_workers)
                and self.decode_chips in (0, other.decode_chips) and self.decode_workers in (0, other.decode_workers)
                and self.attention_dp in (None, other.attention_dp))


class RecvInterval(BaseModel):
    """From ``min_concurrency`` clients on, the scheduler looks at its request queue only every
    ``steps`` decode-only iterations (SGLang ``--scheduler-recv-interval``, or
    ``--num-continuous-decode-steps``); a step with prefill work counts as the whole interval (the
    next iteration polls), an idle engine polls at once. ``accelerator``: a fragment of the chip id
    the launch recipe is for (empty: every chip); ``weights`` and ``tp``: the weight format and
    tensor-parallel size it is for (empty, 0: any; entries naming the row's format and size take
    precedence over those for any)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    accelerator: str = Field("", pattern=r"^[a-z0-9_-]*$")
    weights: str = Field("", pattern=r"^[a-z0-9_]*$")
    tp: int = Field(0, ge=0, le=1024)
    min_concurrency: int = Field(1, ge=1, le=1_000_000)
    steps: int = Field(ge=1, le=1000)


class WorkerScheduling(BaseModel):
    """Whether the prefill (context) workers of a disaggregated row plan their next iteration while one runs
    (SGLang's overlap scheduler, ``event_loop_overlap_disagg_prefill``; TensorRT-LLM context servers run with
    ``disable_overlap_scheduler``), for rows whose ``software`` text contains the ``software`` fragment (lower
    case) and, where ``weights`` is not blank and ``prefill_workers`` not 0, whose weight format is ``weights`` and
    whose prefill workers number ``prefill_workers`` (and, where ``input_tokens`` is not 0, whose nominal input length
    is ``input_tokens``): a front end such as Dynamo runs
    the workers of the engine its text names, with that engine's scheduler. The first matching entry wins.
    ``max_total_tokens``: the KV pool of one prefill rank (attention-DP rank; the worker without attention DP), in
    tokens, where the launch recipe sets it (SGLang ``--max-total-tokens``); 0: the memory fit's pool. A prefill
    worker holds a prompt's pages from its prefill until its KV transfer completes (SGLang
    ``disaggregation/prefill.py``: the inflight queue frees them after ``KVPoll.Success``), so new prompts wait
    while the pool is full. ``router``: how the front end picks a request's prefill worker (``random``: blind to
    load, Dynamo's ``Client.generate``; "": the simulator's least-loaded choice). ``wake_takes_queue``: an idle
    worker woken by a request takes every request queued by then into its first step (SGLang's ``recv_requests``
    drains its socket), False: that one only (TensorRT-LLM's executor; ``EngineSpec.wake_takes_queue``).
    ``attention_dp``: whether the launch recipe runs the prefill worker with attention data parallelism (SGLang
    ``--enable-dp-attention``) where it says so; None: the row's own flag. A front end whose rows state layouts
    their launch script does not read (InferenceMAX's multinode ``dp-attn``) runs the recipe's: False is a worker
    tensor-parallel over all its chips, its experts split in width (``--tp-size`` = chips, ``--dp-size 1``,
    ``--ep-size 1``): :func:`recipe_worker`. A launch recipe is one layout, so an entry that sets it names
    the recipe's ``prefill_workers`` (refused otherwise); the catalogue refuses an entry an earlier one shadows
    (:meth:`covers`, ``input_tokens`` included, as for the other worker records). ``dp_rank``: how the worker's DP
    controller picks a request's attention-DP rank: ``random``, pinned to ``bootstrap_room % dp`` with a room the
    front end draws at random (SGLang's PD ``round_robin`` before PR #16110; :mod:`inferchip.sim.engines.rank_pinned`);
    "": the ranks share one queue. ``mla_context_fp8_families``: chip families (catalog/families.yaml) on which the
    worker's build runs an MLA model's context attention in FP8 wherever its KV cache is FP8, whatever the activations
    (TensorRT-LLM from 1.1.0rc2: ``mFP8ContextMLA``; sources in engines.yaml); empty: the activations' rule."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    software: str = Field(min_length=1, pattern=r"^[a-z0-9_.+ -]+$")
    weights: str = Field("", pattern=r"^[a-z0-9_]*$")
    prefill_workers: int = Field(0, ge=0, le=100_000)
    async_scheduling: bool
    mla_context_fp8_families: tuple[str, ...] = ()
    max_total_tokens: int = Field(0, ge=0, le=100_000_000)
    router: Literal["", "least_loaded", "round_robin", "random"] = ""
    wake_takes_queue: bool = True
    attention_dp: bool | None = None
    input_tokens: int = Field(0, ge=0, le=10_000_000)
    dp_rank: Literal["", "random"] = ""

    @model_validator(mode="after")
    def _recipe_layout_names_its_workers(self) -> WorkerScheduling:
        if self.attention_dp is not None and self.prefill_workers == 0:  # a launch recipe is one layout
            raise ValueError(f"attention_dp = {self.attention_dp} (software {self.software!r}) needs prefill_workers "
                             "= the launch recipe's prefill worker count (>= 1): it applies only to disaggregated "
                             "rows of that layout")
        return self

    def covers(self, other: WorkerScheduling) -> bool:
        """True when every row ``other`` matches also matches this entry (placed first, it would shadow ``other``)."""
        return (self.software in other.software and self.weights in ("", other.weights)
                and self.prefill_workers in (0, other.prefill_workers) and self.input_tokens in (0, other.input_tokens))


def prefill_worker_for(entries: Sequence[WorkerScheduling], software: str, weights: str, prefill_workers: int,
                       input_tokens: int = 0) -> WorkerScheduling | None:
    """The first of ``entries`` whose fragment the row's ``software`` text contains and whose ``weights``,
    ``prefill_workers`` and ``input_tokens`` (the row's nominal input length) are blank / 0 or the row's."""
    fmt = weights.lower()
    fits = [w for w in entries if (not w.weights or w.weights == fmt) and w.prefill_workers in (0, prefill_workers)
            and w.input_tokens in (0, input_tokens)]
    return first_for_software(fits, software)


def recipe_worker(chips: int, tp: int, ep: int, dpa: bool, attention_dp: bool | None) -> tuple[int, int, bool]:
    """A prefill or decode worker of ``chips`` chips stated as ``tp``/``ep`` with attention DP ``dpa``, as the launch
    recipe runs it (:attr:`WorkerScheduling.attention_dp`, :attr:`DecodeWorker.attention_dp`): ``(tp, ep, dpa)``.
    None or the row's own flag: unchanged; False on an attention-DP row: tensor-parallel over all its chips, experts
    split in width (ep 1); True on a row without: attention DP over its chips with the row's tp/ep."""
    if attention_dp is None or attention_dp == dpa:
        return tp, ep, dpa
    return (chips, 1, False) if not attention_dp else (tp, ep, True)


class WorkerRequestPath(BaseModel):
    """The worker engine whose own request path a front end's request also crosses, for rows whose ``software``
    contains the ``software`` fragment (lower case; first match wins). In a Dynamo disaggregated deployment a request
    passes the frontend and its prefill router (preprocessing, prefill worker selection, the prefill request, the
    decode request with the transfer metadata: ai-dynamo/dynamo ``docs/design_docs/disagg_serving.md``, "Router
    Orchestration"), then the worker engine's own intake (tokenizer, scheduler; for SGLang workers the per-request
    bootstrap handshake: the decode server forwards the request to the prefill server, gets a ``bootstrap_room``,
    allocates the KV pages and sends their indices before the prefill runs: ai-dynamo/dynamo
    ``fern/pages/backends/sglang/sglang-disaggregation.md``, sgl-project/sglang ``disaggregation/decode.py``
    ``DecodePreallocQueue``). The row's request time: the ``engine`` record's (:meth:`EngineSpec.request_overhead_on`,
    fitted on its aggregated rows) plus the front end's ``request_overhead_s`` (its own term)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    software: str = Field(min_length=1, pattern=r"^[a-z0-9_.+ -]+$")
    engine: str = Field(pattern=r"^[a-z][a-z0-9_-]*$")


class DecodeWorker(BaseModel):
    """The scheduler facts of a disaggregated row's decode workers, for rows whose ``software`` text contains the
    ``software`` fragment (lower case; first match wins): ``reserve_tokens`` kept free for every request a worker
    holds before it reserves a new prompt's pages (SGLang ``DecodePreallocQueue``: a request's pages are reserved
    only while the free pool, less ``SGLANG_NUM_RESERVED_DECODE_TOKENS`` per running, transferring and waiting
    request, holds its prompt plus that many) and ``recv_interval_steps``, the decode iterations between two
    takes of new requests (``--scheduler-recv-interval``; SGLang ``SchedulerRecvSkipper``). ``max_total_tokens``: the
    KV pool of one decode rank (attention-DP rank; the worker without attention DP) where the launch recipe sets it
    (SGLang ``--max-total-tokens``, per scheduler); 0: the memory fit's pool. An entry with ``weights``,
    ``input_tokens``, ``decode_workers`` or ``prefill_workers`` set applies only to rows of that weight format,
    nominal input length and number of decode and prefill workers. ``retract_to_host``: a running request the pool
    can no longer grow is retracted with its KV copied to host memory and resumed before new arrivals (SGLang's
    decode server), not recomputed. ``attention_dp``: whether the launch recipe runs the decode worker with attention
    DP where it says so (None: the row's own flag), as :attr:`WorkerScheduling.attention_dp` for the prefill side
    (:func:`recipe_worker`); a launch recipe is one layout, so an entry that sets it names the recipe's
    ``decode_workers`` and ``prefill_workers`` (refused otherwise). ``padded_rows_routed``: False where the launch
    recipe's expert dispatch masks the CUDA-graph padding rows' routes (SGLang ``--moe-a2a-backend deepep``: the
    top-k ids of rows beyond the batch's real tokens are -1, and an idle attention-DP rank dispatches none), so the
    decode step is priced at its real rows (:class:`~inferchip.sim.engines.engine_step.EngineStepModel`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    software: str = Field(min_length=1, pattern=r"^[a-z0-9_.+ -]+$")
    weights: str = Field("", pattern=r"^[a-z0-9_]*$")
    input_tokens: int = Field(0, ge=0, le=10_000_000)
    decode_workers: int = Field(0, ge=0, le=100_000)
    prefill_workers: int = Field(0, ge=0, le=100_000)
    reserve_tokens: int = Field(0, ge=0, le=1_048_576)
    recv_interval_steps: int = Field(1, ge=1, le=1000)
    max_total_tokens: int = Field(0, ge=0, le=100_000_000)
    retract_to_host: bool = False
    attention_dp: bool | None = None
    padded_rows_routed: bool = True

    @model_validator(mode="after")
    def _recipe_layout_names_its_workers(self) -> DecodeWorker:
        if self.attention_dp is not None and 0 in (self.decode_workers, self.prefill_workers):
            raise ValueError(f"attention_dp = {self.attention_dp} (software {self.software!r}) needs decode_workers "
                             "and prefill_workers = the launch recipe's worker counts (>= 1; here "
                             f"{self.decode_workers} and {self.prefill_workers}): it applies only to disaggregated "
                             "rows of that layout")
        return self

    def covers(self, other: DecodeWorker) -> bool:
        """True when every row ``other`` matches also matches this entry (placed first, it would shadow ``other``)."""
        return (self.software in other.software and self.weights in ("", other.weights)
                and self.input_tokens in (0, other.input_tokens) and self.decode_workers in (0, other.decode_workers)
                and self.prefill_workers in (0, other.prefill_workers))


def decode_worker_for(entries: Sequence[DecodeWorker], software: str, weights: str = "", input_tokens: int = 0,
                      decode_workers: int = 0, prefill_workers: int = 0) -> DecodeWorker:
    """The first of ``entries`` (:class:`DecodeWorker`) whose software fragment the row's text contains and whose
    ``weights``, ``input_tokens``, ``decode_workers`` and ``prefill_workers`` are blank / 0 or the row's; else no
    reservation, no recipe pool and a poll every iteration."""
    fits = [e for e in entries if e.weights in ("", weights.lower()) and e.input_tokens in (0, input_tokens)
            and e.decode_workers in (0, decode_workers) and e.prefill_workers in (0, prefill_workers)]
    return first_for_software(fits, software) or DecodeWorker(software="any")


class EagerSteps(BaseModel):
    """Which steps an engine runs without CUDA graphs, every kernel launched from the host, and the host time of a
    launch (sources in ``catalog/engines.yaml``). A step runs eagerly when it carries more than ``graph_max_tokens``
    tokens (vLLM: ``max_cudagraph_capture_size``; 0: no such cap), with ``graph_prefill`` False any prompt token
    (SGLang graphs decode-only batches), and with ``above_graph_batch`` a decode batch (per attention-DP rank) above
    the engine's largest captured graph ``graph_max_batch`` (SGLang: ``cuda_graph_max_bs``):
    :func:`inferchip.sim.engines.engine_step.eager_steps` says which, and
    :func:`~inferchip.sim.engines.engine_step.eager_step_time_s` prices one."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    graph_max_tokens: int = Field(0, ge=0, le=1_048_576)
    graph_prefill: bool = True
    above_graph_batch: bool = False
    kernel_host_s: float = Field(gt=0, le=1e-4, description="Host time to launch one kernel outside a graph.")


class RunLength(BaseModel):
    """The benchmark length a row's launch harness or runner sets: ``prompts_per_client``, its ``--num-prompts``
    over the concurrency, for rows that match every key given (lower case; an empty key or ``output_tokens`` 0
    matches any row; first match wins; sources in ``catalog/engines.yaml``): ``software``, a fragment of the row's
    software text (the worker engine of a front end such as Dynamo); ``accelerator``, of the chip id; ``model``,
    of the model id; ``output_tokens``, the nominal output length; ``layout``, aggregated or disaggregated rows.
    The first wave (all clients sent at once) is one round of that many, so it weighs ``1 / prompts_per_client``
    of the mean TTFT (``validation.closed_loop.num_requests``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    software: str = Field("", pattern=r"^[a-z0-9_.+ -]*$")
    accelerator: str = Field("", pattern=r"^[a-z0-9_-]*$")
    model: str = Field("", pattern=r"^[a-z0-9_./-]*$")
    output_tokens: int = Field(0, ge=0, le=10_000_000)
    layout: Literal["any", "aggregated", "disaggregated"] = "any"
    prompts_per_client: int = Field(ge=1, le=1000)  # below SIM_ROUNDS the whole run is simulated (num_requests)

    def covers(self, other: RunLength) -> bool:
        """True when every row ``other`` matches also matches this entry (placed first, it would shadow ``other``)."""
        return (self.software in other.software and names_chip(self.accelerator, other.accelerator)
                and self.model in other.model
                and self.output_tokens in (0, other.output_tokens) and self.layout in ("any", other.layout))


def run_length(entries: Sequence[RunLength], *, software: str, accelerator: str, model: str, output_tokens: int,
               disaggregated: bool) -> int | None:
    """Benchmark prompts per client of a row: the first matching entry's (:class:`RunLength`), else None."""
    sw, chip, mdl = software.lower(), accelerator.lower(), model.lower()
    layout = "disaggregated" if disaggregated else "aggregated"
    hit = next((e for e in entries if e.software in sw and names_chip(e.accelerator, chip) and e.model in mdl
                and e.output_tokens in (0, output_tokens) and e.layout in ("any", layout)), None)
    return None if hit is None else hit.prompts_per_client


class AttentionDpBalance(BaseModel):
    """TensorRT-LLM ``attention_dp_config`` with ``enable_balance``: under attention DP, context
    requests are held until every rank has one (then ``batching_wait_iters`` more iterations while
    every rank decodes) or until ``timeout_iters`` iterations without that have passed
    (:mod:`inferchip.sim.engines.scheduling`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    timeout_iters: int = Field(50, ge=0, le=100_000)
    batching_wait_iters: int = Field(10, ge=0, le=100_000)


class FirstUseWait(BaseModel):
    """A one-time wait of a fresh server the first time a forward batch of more than ``batch_tokens_above``
    tokens reaches a kernel branch that smaller batches never take (a kernel built or compiled on first use),
    for rows on chips whose id contains ``accelerator`` with ``weights`` (empty: any) in ``layout``; sources in
    ``catalog/engines.yaml``. The benchmark's one untimed request (its first prompt, at most the nominal input
    length) runs before the timed run: where that prompt is itself above the edge the build is done before the
    clock starts; otherwise the first wave's prefill batch (all clients' prompts at once) pays ``wait_s``, the
    build's time (an estimate bounded by the public per-module build times, not fitted to the rows).
    ``first_concurrencies``: where the runner benchmarks a list of concurrencies one after another on one server
    launch (a job), the first concurrency of each of its lists: only those runs find the module unbuilt (empty:
    every run is a fresh server)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    accelerator: str = Field(min_length=1, pattern=r"^[a-z0-9_-]+$")
    weights: str = Field("", pattern=r"^[a-z0-9_]*$")
    layout: Literal["any", "aggregated", "disaggregated"] = "aggregated"
    batch_tokens_above: int = Field(ge=1, le=1_048_576)
    wait_s: float = Field(gt=0.0, le=120.0)
    first_concurrencies: tuple[Annotated[int, Field(ge=1, le=1_000_000)], ...] = Field(
        (), description="Each job's first concurrency (empty: every run).")

    def covers(self, other: FirstUseWait) -> bool:
        """True when every row ``other`` matches also matches this entry (placed first, it would shadow ``other``)."""
        return (names_chip(self.accelerator, other.accelerator) and self.weights in ("", other.weights)
                and self.layout in ("any", other.layout))


def first_use_wait_s(entries: Sequence[FirstUseWait], *, accelerator: str, weights: str, disaggregated: bool,
                     warmup_prompt_tokens: int, first_batch_tokens: int, concurrency: int = 0) -> float:
    """The first wave's one-time wait (s) of a row (:class:`FirstUseWait`, first match wins; 0 where none matches):
    the entry's ``wait_s`` where the untimed warm-up prompt (``warmup_prompt_tokens``, its longest) stays at or
    below the entry's edge and the first wave's prefill batch (``first_batch_tokens``) exceeds it, and, where the
    entry lists its jobs' first concurrencies, the row's ``concurrency`` is one of them; else 0."""
    chip, fmt = accelerator.lower(), weights.lower()
    layout = "disaggregated" if disaggregated else "aggregated"
    hit = next((e for e in entries if names_chip(e.accelerator, chip) and (not e.weights or e.weights == fmt)
                and e.layout in ("any", layout)), None)
    if hit is None or warmup_prompt_tokens > hit.batch_tokens_above:
        return 0.0
    if hit.first_concurrencies and concurrency not in hit.first_concurrencies:
        return 0.0  # a later run of its job: the server built the module on the job's first run
    return hit.wait_s if first_batch_tokens > hit.batch_tokens_above else 0.0


def first_wave_batch_tokens(concurrency: int, workers: int, prompt_mean_tokens: int, chunk_tokens: int) -> int:
    """Tokens (token count) of the first prefill batch of the busiest worker of the pool that runs the prompts (the
    aggregated replicas; the prefill workers of a disaggregated row) when the first wave, ``concurrency`` prompts of
    ``prompt_mean_tokens`` sent at once, is spread over its ``workers`` (the least-loaded choice gives one worker at
    most ``ceil(concurrency / workers)``), capped by that pool's per-iteration token budget ``chunk_tokens``: the
    ``first_batch_tokens`` of :func:`first_use_wait_s`."""
    share = -(-max(concurrency, 0) // max(workers, 1))
    return min(share * max(prompt_mean_tokens, 0), max(chunk_tokens, 0))


W = TypeVar("W", WorkerScheduling, WorkerRequestPath, DecodeWorker)


def first_for_software(entries: Sequence[W], software: str) -> W | None:
    """The first of ``entries`` whose ``software`` fragment the row's software text contains (case-insensitive),
    else None: the one matching rule of the workers' records."""
    sw = software.lower()
    return next((e for e in entries if e.software in sw), None)
