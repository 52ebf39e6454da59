"""Scheduler settings and per-sequence state of the vLLM-like engine (see ``replica.py``).

Policy (modelled on vLLM's V1 scheduler with first-come-first-served order):

* continuous, iteration-level batching: every step, each running decode sequence adds
  one token, and prefill chunks fill the rest of a token budget
  (``max_num_batched_tokens``); at most ``max_num_seqs`` sequences run at once;
* chunked prefill: a prompt longer than the remaining budget is split across steps,
  and the request's first token comes out of the step that processes its last chunk;
  with ``enable_chunked_prefill=False`` a prompt is admitted only whole;
* KV blocks are allocated per step as sequences grow; when they run out, the most
  recently admitted running sequence is preempted, repeatedly, until the rest fit.
  ``recompute`` frees its blocks and puts it back at the head of the waiting queue to
  be prefilled again (prompt plus the tokens already generated); ``swap`` copies its
  blocks to host memory at ``swap_bandwidth_bytes_per_s`` (time added to the step) and
  swaps it back in before any new request is admitted (vLLM V0 behaviour);
* attention data parallelism (the step model's ``ranks``): a step's prefill chunks run whole on
  one rank each and the step lasts as long as the busiest rank (:func:`busiest_rank_prefill`).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from inferchip.errors import InvalidSettingError
from inferchip.sim.load.lengths import SettingModel
from inferchip.spec.engine import EngineSpec, SchedulerCaps
from inferchip.spec.engine.padding import PaddingLadder, StepPadding
from inferchip.spec.params import ChipParams

WAITING, PREFILL, DECODE, SWAPPED, DONE = range(5)


MAX_BLOCK_SIZE_TOKENS = 65_536  # a replica keeps per-step state for each token offset in a block
def default_engine_id() -> str:
    """The engine record (``catalog/engines.yaml``) whose running-batch cap and prefill chunk a scheduler given none
    runs: the catalogue's default engine (its ``default:``), the one whose 16-bit GEMM library a run naming no engine
    takes (``catalog.engines.default_gemm_calibration``); one place for both (``serve`` / ``curve`` without
    ``--engine``, the energy rows' burst runs)."""
    from inferchip.catalog.engines import get_engine

    return get_engine(None).id


def default_max_num_seqs() -> int:
    """The running-batch cap of a scheduler given none and no chip: the default engine record's ``max_num_seqs``
    (vLLM's on a GPU of >= 70 GiB that is not an A100, 1,024, the chips its validated rows ran). A run on a chip
    resolves its cap once with :func:`scheduler_caps`, which applies the record's device rule (256 elsewhere)."""
    from inferchip.catalog.engines import get_engine

    return int(get_engine(None).max_num_seqs)


def scheduler_caps(engine: EngineSpec | None, chip_id: str, memory_capacity_bytes: float, family: str,
                   runtime_devices: int = 1) -> SchedulerCaps:
    """The running-batch cap and step budget per rank ``engine`` (None: the default engine record,
    :func:`default_engine_id`) runs with on a chip of ``family`` with ``memory_capacity_bytes`` of device memory, with
    the reason (:meth:`EngineSpec.caps_on`: the record's device rule, vLLM's 1,024 / 8,192 on >= 70 GiB that is
    not an A100, 256 / 2,048 elsewhere, on each of the ``runtime_devices`` the package is to its runtime), or the
    defaults of the engine's back end on the chip's family where it states its own (``catalog/engine_hardware.yaml``
    hardware ``defaults``: vLLM's TPU, Gaudi and Neuron plugins; :func:`~inferchip.spec.engine.hardware.
    platform_caps`, whose reason names the back end and its source): resolved once per run and passed to
    :func:`rank_scheduler`."""
    from inferchip.catalog.engines import engine_platform, get_engine
    from inferchip.spec.engine.hardware import platform_caps

    e = engine or get_engine(None)
    general = e.caps_on(chip_id, memory_capacity_bytes, family, runtime_devices)
    return platform_caps(engine_platform(e, family), general, chip_id, family)


def run_caps(engine: EngineSpec | None, chip: ChipParams) -> SchedulerCaps:
    """The running-batch cap and step budget per rank a run on ``chip`` (one runtime device's parameters, or the
    package's: its ``runtime_devices`` are read either way) takes: ``engine``'s (:func:`scheduler_caps`), or with
    none the default engine record's where it runs on the chip's family, else the vendor-stack record's (no
    catalogued engine runs there: catalog/engine_hardware.yaml ``vendor_stack``). One resolution for
    ``inferchip predict`` / ``serve`` / ``curve`` (``interfaces.cli_options.engine.engine_choice``) and the Python
    API's ``serve``."""
    from inferchip.catalog.engines import default_engine_on, load_engines

    if engine is None and default_engine_on(chip.family) is None:
        return load_engines().vendor_stack.caps_on(chip.id)
    # a package's parameters: its memory, runtime_devices n (devices_per_package 1); one device's view
    # (spec.params.runtime_device_view): a device's memory, devices_per_package n (runtime_devices 1)
    n = chip.runtime_devices * chip.devices_per_package
    return scheduler_caps(engine, chip.id, chip.memory_capacity_bytes * chip.devices_per_package, chip.family, n)


def run_padding(engine: EngineSpec | None, chip: ChipParams) -> tuple[StepPadding | None, str]:
    """(the compiled step shapes, their back end in words) a run on ``chip`` takes, as :func:`run_caps` takes its
    caps: ``engine``'s back end on the chip's family, or with none the default engine record's where it runs there;
    none on the vendor stack (catalog/engine_hardware.yaml hardware ``padding``: vLLM's TPU and Gaudi back ends).
    Resolved at a run's cap and step budget by :func:`~inferchip.spec.engine.padding.resolve_padding`."""
    from inferchip.catalog.engines import default_engine_on, engine_platform, get_engine
    from inferchip.spec.engine.hardware import platform_padding

    if engine is None and default_engine_on(chip.family) is None:
        return None, ""
    return platform_padding(engine_platform(engine or get_engine(None), chip.family))


def run_padding_at(engine: EngineSpec | None, chip: ChipParams,
                   chunk_tokens: int | None = None) -> PaddingLadder | None:
    """The compiled step sizes a run on ``chip`` pads its steps to (None where its back end pads nothing):
    :func:`run_padding`'s rule at :func:`run_caps`' running-batch cap and the ``chunk_tokens`` step budget (None: the
    caps' own), by :func:`~inferchip.spec.engine.padding.resolve_padding`. One resolution for ``ic.predict``, the
    Python API's ``serve`` and the closed-loop rows' engine replicas."""
    from inferchip.spec.engine.padding import resolve_padding

    caps = run_caps(engine, chip)
    return resolve_padding(*run_padding(engine, chip), caps.max_num_seqs,
                           caps.chunk_tokens if chunk_tokens is None else chunk_tokens)


def default_chunk_tokens() -> int:
    """The prefill token budget of a step of a scheduler given none: the default engine record's ``chunk_tokens``."""
    from inferchip.catalog.engines import get_engine

    return int(get_engine(None).chunk_tokens)


class SchedulerConfig(SettingModel):
    """Engine settings of one replica; the running-batch cap and the step's token budget default to the vLLM engine
    record's (:func:`default_engine_id`), the rest follow vLLM's. A bad field raises InvalidSettingError."""

    max_num_batched_tokens: int = Field(default_factory=default_chunk_tokens, ge=1,
                                        description="Token budget of one step (prefill + decode).")
    max_num_seqs: int = Field(default_factory=default_max_num_seqs, ge=1,
                              description="Most sequences in one step's batch.")
    block_size_tokens: int = Field(16, ge=1, le=MAX_BLOCK_SIZE_TOKENS,
                                   description="Tokens per KV-cache block (PagedAttention page).")
    enable_chunked_prefill: bool = Field(True, description="Split long prompts across steps.")
    preemption_mode: Literal["recompute", "swap"] = Field("recompute", description="What preemption does.")
    swap_bytes_per_token: float | None = Field(
        None, gt=0, description="KV bytes of one token of one sequence (all layers), for swap mode."
    )
    swap_bandwidth_bytes_per_s: float | None = Field(
        None, gt=0, description="Device-host copy bandwidth for swap mode, bytes/s."
    )
    prompt_blocks_at_admission: bool = Field(
        False, description="A request is admitted only where the KV blocks of its whole prompt fit, all taken at "
        "admission (TensorRT-LLM: KVCacheManager::getNeededBlocksOneStep counts a first context chunk's whole prompt); "
        "False: each prefill chunk takes its blocks as it runs (vLLM).")
    request_intake_s: float = Field(
        0.0, ge=0, le=1.0, description="Engine-loop time per request, serial with the step that first schedules its "
        "prompt (added to that step; a recomputed preemption pays it once). 0: none.")

    @model_validator(mode="after")
    def _consistent(self) -> SchedulerConfig:
        if self.max_num_batched_tokens < self.max_num_seqs:
            raise ValueError(
                f"max_num_batched_tokens ({self.max_num_batched_tokens}) must be >= max_num_seqs "
                f"({self.max_num_seqs}) so every running sequence can decode each step"
            )
        if self.preemption_mode == "swap" and (
            self.swap_bytes_per_token is None or self.swap_bandwidth_bytes_per_s is None
        ):
            raise ValueError("preemption_mode 'swap' needs swap_bytes_per_token and swap_bandwidth_bytes_per_s")
        return self

    @property
    def swap_s_per_token(self) -> float:
        """Seconds to copy one cached token out or in (swap mode), else 0."""
        if self.preemption_mode != "swap":
            return 0.0
        per_token, bandwidth = self.swap_bytes_per_token, self.swap_bandwidth_bytes_per_s
        if per_token is None or bandwidth is None:  # model_construct skips _consistent
            raise InvalidSettingError(f"preemption_mode 'swap' needs swap_bytes_per_token ({per_token}) and "
                                      f"swap_bandwidth_bytes_per_s ({bandwidth}) set")
        return per_token / bandwidth


class Seq:
    """Scheduling state of one request inside a replica.

    While decoding, the sequence's cached tokens at global step ``k`` are ``base + k``
    and it decodes in steps ``k_first .. k_last``; its tokens generated before step
    ``k`` are ``gen + (k - k_first)``. This lets the replica advance every decoding
    sequence at once by incrementing ``k`` instead of touching each one.
    """

    __slots__ = (
        "admission",
        "base",
        "blocks",
        "cached",
        "done",
        "gen",
        "k_first",
        "k_last",
        "last_token_s",
        "on_host",
        "out",
        "prompt",
        "rid",
        "state",
        "target",
    )

    def __init__(self, rid: int, prompt: int, out: int):
        self.rid = rid
        self.prompt = prompt
        self.out = out
        self.target = prompt  # tokens to prefill before the next token comes out
        self.done = 0  # of ``target``, tokens already prefilled
        self.gen = 0  # output tokens generated (at decode start, while decoding)
        self.blocks = 0  # KV blocks held while prefilling
        self.base = 0
        self.k_first = 0
        self.k_last = 0
        self.state = WAITING
        self.admission = 0  # admission number; a stale entry in the running list has another
        self.last_token_s = 0.0  # time of the last token before a preemption
        self.cached = 0  # cached tokens kept in host memory while swapped
        self.on_host = False  # swapped out by preemption: bringing it back costs a host copy


# Where a step's prefill chunks run on an attention data-parallel worker: whole, on one rank each.
#
# Under attention data parallelism an engine hands each request to one DP rank, whose scheduler runs
# its prompt there; the ranks step together (the expert all-to-all joins them every layer), so a step
# lasts as long as its busiest rank. Sources:
#
# * SGLang ``python/sglang/srt/managers/data_parallel_controller.py`` (sgl-project/sglang @000a3db):
#   the ``DataParallelController`` sends each tokenized request to one DP rank's scheduler by its
#   ``LoadBalanceMethod`` (round robin, shortest queue, minimum tokens, or ``follow_bootstrap_room``:
#   rank ``bootstrap_room % dp``, which some forks also use for round robin under disaggregation);
#   each rank's ``Scheduler`` forms its own prefill batch within its own ``chunked_prefill_size``
#   (``ServerArgs``: the flag divided by the DP size under DP attention), and idle ranks run an empty
#   (``IDLE``) forward so the MoE collectives of the busy ones complete.
# * TensorRT-LLM ``PyExecutor`` / ``ExecutorRequestQueue._schedule_attention_dp_requests``: a new
#   request goes to one attention-DP rank, which runs its context phase in its own batch
#   (``max_batch_size`` / ``max_num_tokens`` per rank).
#
# The step model (:mod:`inferchip.cost.step`) spreads a step's prefill tokens evenly over the ranks:
# exact when many prompts share a step, too fast when a few long prompts do (one 8k prompt on a
# 4-rank worker runs its attention, dense layers and dispatch on one chip while three wait). This
# function places each chunk whole on the least-loaded rank (the most even placement of whole prompts:
# a lower bound on the busiest rank: a rank drawn from the request's random bootstrap room is less
# even) and gives the busiest rank's load scaled back to the whole worker, the form the step model
# divides by the ranks again.
#
# The replica prices an uneven step through the step model's ``step_time_busiest_s`` where it has
# one (EngineStepModel over the cost model: the busiest rank's prefill tokens for its attention,
# dense and shared layers, norms and all-to-all, the step's total for the routed experts, which serve
# every rank's tokens: cost.step.step_points ``prefill_chip``). A step model without it (the linear
# stand-in) is given every rank as busy as the busiest, which also counts the routed experts for the
# busiest rank's tokens on every rank (an upper bound: a lone prompt on 4 ranks, 4x its expert work).

def rank_scheduler(ranks: int, max_num_seqs: int | None = None, chunk_tokens: int | None = None) -> SchedulerConfig:
    """The scheduler of a replica of ``ranks`` attention-DP ranks: the running-batch cap ``max_num_seqs`` and
    prefill chunk ``chunk_tokens`` of one rank (None: :class:`SchedulerConfig`'s defaults, the vLLM engine
    record's, :func:`default_max_num_seqs` and :func:`default_chunk_tokens`) times the ranks, the budget
    never below the cap. Each rank schedules its own batch within its
    own budget (SGLang's per-rank ``Scheduler``, TensorRT-LLM's per-rank ``max_batch_size`` /
    ``max_num_tokens``; sources at :func:`busiest_rank_prefill`). One rank: the settings as given."""
    base = SchedulerConfig()
    seqs = (base.max_num_seqs if max_num_seqs is None else max_num_seqs) * ranks
    chunk = (base.max_num_batched_tokens if chunk_tokens is None else chunk_tokens) * ranks
    return SchedulerConfig(max_num_seqs=seqs, max_num_batched_tokens=max(chunk, seqs))


def busiest_rank_prefill(chunks: list[tuple[int, int]], ranks: int, rank_budget: int = 0) -> tuple[int, int]:
    """(prefill tokens, causal attention pairs) of the busiest of ``ranks`` attention-DP ranks when each
    chunk ``(c new tokens, d tokens already cached)`` runs whole on one rank, the chunks placed longest
    first each on the rank with the fewest tokens so far; both times ``ranks`` (the load of a worker
    whose every rank were as busy, the form :mod:`inferchip.cost.step` divides by the ranks again). A
    chunk's pairs are ``c d + c (c + 1) / 2`` (its causal query-key pairs, as the replica counts them).
    ``rank_budget`` (tokens, 0: none) is a rank's own prefill budget per step (SGLang
    ``chunked_prefill_size / dp``, TensorRT-LLM ``max_num_tokens`` per rank): a rank holds at most
    that, or the even share where that is more, its pairs scaled with its tokens. With one rank: the
    chunks' own totals.

    E.g. one chunk of 8,192 new tokens on 4 ranks: (4 x 8,192, 4 x 33,558,528); four such chunks:
    the same, one per rank, which is the even spread.
    """
    if ranks <= 1 or not chunks:
        return sum(c for c, _ in chunks), sum(c * d + c * (c + 1) // 2 for c, d in chunks)
    if len(chunks) == 1:  # one chunk (the common step): on one rank, the rest idle; as _placed gives it
        c, d = chunks[0]
        cap = max(rank_budget, -(-c // ranks)) if rank_budget > 0 else c
        p = c * d + c * (c + 1) // 2
        return (c * ranks, p * ranks) if c <= cap else (cap * ranks, int(p * cap / c) * ranks)
    return _placed(chunks, ranks, rank_budget)


def _placed(chunks: list[tuple[int, int]], ranks: int, rank_budget: int) -> tuple[int, int]:
    """:func:`busiest_rank_prefill` of two or more chunks on two or more ranks: each placed in turn."""
    tokens = [0] * ranks
    pairs = [0] * ranks
    for c, d in sorted(chunks, key=lambda x: -x[0]):
        i = min(range(ranks), key=tokens.__getitem__)
        tokens[i] += c
        pairs[i] += c * d + c * (c + 1) // 2
    busiest = max(tokens)
    i = tokens.index(busiest)
    cap = max(rank_budget, -(-sum(tokens) // ranks)) if rank_budget > 0 else busiest
    if busiest <= cap:
        return busiest * ranks, pairs[i] * ranks
    return cap * ranks, int(pairs[i] * cap / busiest) * ranks
