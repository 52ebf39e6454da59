"""A launch recipe's entries per chip, as data of an engine (:class:`inferchip.spec.engine.EngineSpec`): what one
recipe sets on chips whose id contains ``accelerator`` (and, where given, for one weight format) that the engine's
defaults do not: the prefill chunk, the all-reduce codec, the static memory fraction, a request path of its own, the
engine build's kernel efficiency and its expert (MoE) kernel. Each entry carries its sources in
``catalog/engines.yaml``; the first entry that applies to a row's chip and weights is its recipe
(:func:`first_on_chip`), and an entry a former one covers is refused on load (:func:`chip_entry_covers`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from inferchip.spec.engine.workers import names_chip


class ChipRecipe(BaseModel):
    """A launch recipe's entry for chips whose id contains ``accelerator`` and, where ``weights`` is given,
    that weight format (the fields every per-chip recipe entry below shares)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    accelerator: str = Field(min_length=1, pattern=r"^[a-z0-9_-]+$")
    weights: str = Field("", pattern=r"^[a-z0-9_]*$")

    def on_chip(self, chip: str, weights: str) -> bool:
        """Whether this entry applies to ``chip`` (lower-case id) running ``weights`` (lower case; an entry's
        blank weights match any). ``accelerator`` matches whole hyphen-separated parts of the id ("b200" is
        part of nvidia-b200-180gb, not of nvidia-gb200-186gb)."""
        return names_chip(self.accelerator, chip) and (not self.weights or self.weights == weights)


R = TypeVar("R", bound=ChipRecipe)


def chip_entry_covers(first: ChipRecipe, later: ChipRecipe) -> bool:
    """Whether ``first``, placed before ``later`` in a list :func:`first_on_chip` reads (chip and weights alone),
    matches every row ``later`` does, so that ``later`` is never reached."""
    layout = all(getattr(first, f, 0) in (0, getattr(later, f, 0)) for f in ("input_tokens", "prefill_workers"))
    return names_chip(first.accelerator, later.accelerator) and first.weights in ("", later.weights) and layout


def first_on_chip(entries: Sequence[R], accelerator: str, weights: str) -> R | None:
    """The first of ``entries`` that applies to ``accelerator`` (a fragment of its id) running ``weights``
    (:meth:`ChipRecipe.on_chip`, case-insensitive), else None."""
    chip, fmt = accelerator.lower(), weights.lower()
    return next((r for r in entries if r.on_chip(chip, fmt)), None)


class RecipeChunk(ChipRecipe):
    """The prefill token budget of one step a launch recipe sets for chips whose id contains ``accelerator`` and,
    where ``weights`` is given, that weight format and, where ``tp`` is not 0, that tensor-parallel size and, where
    ``input_tokens`` / ``output_tokens`` are not 0, rows of those nominal lengths and, where ``min_concurrency`` is
    not 0, rows of at least that many clients (a recipe that picks its chunk by the benchmark's ISL, OSL and CONC)
    (SGLang ``--chunked-prefill-size``); it replaces ``chunk_tokens`` in the scheduler there (the memory fit keeps
    ``chunk_tokens``: SGLang's activations live outside its static memory fraction)."""

    tp: int = Field(0, ge=0, le=1024)
    input_tokens: int = Field(0, ge=0, le=10_000_000)
    output_tokens: int = Field(0, ge=0, le=10_000_000)
    min_concurrency: int = Field(0, ge=0, le=10_000_000)
    tokens: int = Field(ge=64, le=1_048_576)

    def matches(self, chip: str, weights: str, tp: int, concurrency: int, input_tokens: int,
                output_tokens: int) -> bool:
        """Whether this entry is the recipe of a row on ``chip`` (lower-case id) with these facts (0: unknown,
        matched only by entries that leave the fact open)."""
        return (self.on_chip(chip, weights) and self.tp in (0, tp)
                and self.input_tokens in (0, input_tokens) and self.output_tokens in (0, output_tokens)
                and concurrency >= self.min_concurrency)


class RecipeAllReduce(ChipRecipe):
    """The all-reduce codec a launch recipe selects for chips whose id contains ``accelerator`` and, where
    ``weights`` is given, that weight format: AMD QuickReduce through ``ROCM_QUICK_REDUCE_QUANTIZATION`` (``int4``,
    ``int6``, ``int8``, ``fp``), which the engine uses for tensor-parallel all-reduces from the codec's smallest
    message size up (cost/network.py). Aggregated rows only: where the launcher of a disaggregated worker is not
    read, its environment is not assumed."""

    codec: Literal["int4", "int6", "int8", "fp"]


class RecipeMemory(ChipRecipe):
    """The static memory fraction a launch recipe sets for chips whose id contains ``accelerator``, with ``weights``
    (if given) and tensor-parallel size ``tp`` (if not 0): SGLang ``--mem-fraction-static``, the share of the device
    memory free at start that the weights and the KV pool may take (SGLang ``ModelRunner.profile_max_num_token``:
    the KV pool is the memory free after loading less ``(1 - fraction)`` of the memory free before it; activations
    and CUDA graphs live in that remainder, not in the pool)."""

    tp: int = Field(0, ge=0, le=1024)
    fraction: float = Field(gt=0.0, le=1.0)


class RecipeRequestPath(ChipRecipe):
    """A launch recipe whose requests take a path to the first token that the engine's other recipes do not, on
    chips whose id contains ``accelerator`` (with ``weights`` where given), whose ``software`` text contains
    ``software`` and whose model id contains ``model`` (lower case; empty: any): each of its requests waits
    ``EngineSpec.recipe_request_overhead_s`` more before its first token, or ``overhead_s`` where the entry has its
    own (not refitted with the engine's host times; SGLang on ROCm: the aiter MLA "persist" decode kernel that
    ``--attention-backend aiter`` runs for an FP8 KV cache; ATOM's gpt-oss recipe, which sets
    ``ATOM_GPT_OSS_MODEL=1``; sources in the engine catalogue)."""

    software: str = Field("", pattern=r"^[a-z0-9_.+ ()-]*$")
    model: str = Field("", pattern=r"^[a-z0-9_.+/-]*$")
    overhead_s: float | None = Field(None, ge=0, le=2.0)

    def on_row(self, chip: str, weights: str, software: str, model: str = "") -> bool:
        """Whether this is the recipe of a row on ``chip`` with ``weights``, ``software``, ``model`` (lower case)."""
        return self.on_chip(chip, weights) and self.software in software and self.model in model


class RecipeKernelEfficiency(ChipRecipe):
    """A recipe's engine build on chips whose id contains ``accelerator`` (and ``weights``; rows of ``input_tokens``
    and disaggregated rows of ``prefill_workers`` where given) where a source says its kernels reach less than the
    calibration's: multipliers as :class:`KernelEfficiency`, a measured plateau, or a longer fixed time per kernel
    (``kernel_overhead``); cited in the engine catalogue; the engine build's property on that chip."""

    gemm: float = Field(1.0, gt=0.2, le=1.0, description="x gemm_compute_fraction")
    attention: float = Field(1.0, gt=0.2, le=1.0, description="x attention_compute_fraction")
    memory: float = Field(1.0, gt=0.2, le=1.0, description="x memory_bandwidth_fraction")
    dense_gemm_flop_per_s: float | None = Field(None, gt=1e12, le=1e17, description="Most FLOP/s per chip of the "
                                                "build's dense (non-expert) weight GEMM kernel (a measured plateau)")
    expert_gemm_flop_per_s: float | None = Field(None, gt=1e12, le=1e17, description="The same for its routed-"
                                                 "expert (grouped GEMM) kernel, on the useful FLOP")
    kernel_overhead: float = Field(1.0, ge=1.0, le=5.0, description="x kernel_overhead_scale (fixed time per kernel)")
    input_tokens: int = Field(0, ge=0, le=10_000_000, description="Rows of this nominal input length (0: any)")
    prefill_workers: int = Field(0, ge=0, le=4096, description="Disaggregated rows of this many prefill workers")


class RecipeMoeKernel(ChipRecipe):
    """The expert (grouped-GEMM) kernel a launch recipe selects for chips whose id contains ``accelerator`` and,
    where ``weights`` is given, that weight format (vLLM ``VLLM_MXFP4_USE_MARLIN=1``: Marlin W4A16 MoE), with
    the share of the chip's tensor-core peak its MMA instruction can issue (``mma_peak_fraction``; Marlin is
    built for SM80 and issues ``mma.sync``, which reaches about 2/3 of a Hopper chip's tensor-core peak).
    Aggregated rows only, as for the all-reduce codec. ``read_gb_per_s_per_sm``: the most weight bytes per second
    one SM of the kernel reads (an SM-issue-bound kernel: the chip's SM count times it caps its stream,
    cost.gemm.expert_stream_cap_bytes_per_s, which gives the measurement); None: bound by DRAM only.
    ``kernel`` names an entry of the engine catalogue's ``moe_kernels`` table, the one record of the widths the
    kernel's weight layout pads each expert to (catalog.engines.moe_kernel_entry)."""

    kernel: str = Field(min_length=1, pattern=r"^[a-z0-9_-]+$")
    mma_peak_fraction: float = Field(gt=0.0, le=1.0)
    read_gb_per_s_per_sm: float | None = Field(None, gt=0.0, le=100.0)
