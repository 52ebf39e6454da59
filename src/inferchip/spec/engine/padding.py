"""The fixed shapes a back end compiles its steps for, as data (``catalog/engine_hardware.yaml`` hardware
``padding``): a step whose batch falls between two compiled sizes runs the next larger one, and the padded rows cost
work (GEMM rows, per-row elementwise work) but hold no KV cache. Where the GPU engines pad a decode batch to a
CUDA-graph bucket (:meth:`~inferchip.spec.engine.EngineSpec.padded_batch`, the closed-loop rows), vLLM's TPU back end
pads every step's token count and its Gaudi back end pads a decode batch:

* ``step_tokens`` with ``power_of_two`` (vLLM's TPU back end, tpu-inference): the step's scheduled tokens, prefill
  and decode together, run the compiled size that is the next power of two from ``min`` (16) on
  (``tpu_inference/runner/utils.py`` ``get_token_paddings`` with ``VLLM_TPU_BUCKET_PADDING_GAP`` 0, its default),
  the last size the first at or above the step budget. Its request padding (powers of two from 8, ``get_req_paddings``)
  is never larger than the token padding of the same step (a step has at least one token a request, and 8 < 16),
  so the token padding is the one priced.
* ``decode_batch`` with ``exponential`` (vLLM's Gaudi back end, vllm-gaudi's exponential bucketing, its default): a
  decode batch runs the next of ``ceil(log2(max)) + 1`` sizes spaced exponentially from ``min`` to the running-batch
  cap ``max``, each rounded up to a multiple of ``step`` (``vllm_gaudi/extension/bucketing/exponential.py``
  ``get_decode_cfgs``: bs config (1, 2, max_num_seqs, limit), ``warmup_range_with_limit``): 2, 4, 8, ..., 256 at a cap
  of 256. Its prompt buckets (``prompt``, :class:`PromptBuckets`) pad a prefill's query length too: the step's
  prefill tokens run the next of ``ceil(log2(budget))`` sizes spaced exponentially from the 128-token block to the
  step budget, each a multiple of 128 (``get_prompt_cfgs``: query config (128, 128, max_num_batched_tokens,
  ceil(log2(max_num_batched_tokens)))): 128, 256, 384, 512, 768, 896, 1,280, 1,664, 2,048 at its 2,048-token budget,
  so a 1,024-token prompt runs 1,280 rows. The plugin runs a step's prompts in prompt batches of at most
  ``batch_prompts`` (its runner's ``max_prefill_batch_size``, 1 unless ``VLLM_PROMPT_BS_BUCKET_MAX`` says more), each
  batch padded to a batch-size bucket times the query bucket of its longest prompt (``_bucketize_2d_prompt`` ->
  ``find_prompt_bucket(bs, max query, ...)``): at 1 a prompt a batch, each of a step's prompts pays its own bucket
  (:meth:`PaddingLadder.packed_prompt_rows`). The serving simulator prices a step so from its prefill chunks (the
  replica knows them; :class:`~inferchip.performance.serving.ServingStepModel` keeps the prompt buckets apart from the
  step model's own padding for it); a step model given only a step's tokens (predict's continuous batching, the
  layout search) pads its prefill tokens as one query: a lower bound where a step packs several prompts.

A batch above the largest compiled size runs unpadded (it is not reached: the largest is at or above the cap).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field, model_validator

MAX_LADDER = 1 << 22  # the largest compiled size a ladder is built to (a step budget is at most 1,048,576 tokens)


def _exponential_sizes(lo: int, hi: int, step: int, count: int) -> list[int]:
    """vllm-gaudi's ``warmup_range_with_limit`` arithmetic as it runs (numpy's float power, the exponent as
    (1 / (count - 1)) * i, each size rounded up to a multiple of ``step``, duplicates removed): its float rounding
    puts some sizes a step above the even powers (a cap of 1,024: 2, 4, 10, 18, 32, 66, ...)."""
    if count <= 1:
        return [hi]
    return sorted({math.ceil(float(lo * np.float_power(hi / lo, (1.0 / float(count - 1)) * i)) / step) * step
                   for i in range(count)})


class PromptBuckets(BaseModel):
    """A back end's prefill query-length buckets (vllm-gaudi's prompt buckets): ``ceil(log2(budget)) + limit_offset``
    sizes spaced exponentially from ``min`` to the step budget, each rounded up to a multiple of ``step``, the last
    held at the budget, with the source of the rule."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    rule: Literal["exponential"] = Field(description="exponential: sizes spaced exponentially from min to the step "
                                         "budget, each rounded up to a multiple of step, the largest the budget.")
    min: int = Field(ge=1, le=65536, description="The smallest compiled query length, tokens (the KV block).")
    step: int = Field(ge=1, le=65536, description="The rounding multiple of each size, tokens (the KV block).")
    limit_offset: int = Field(0, ge=0, le=4, description="The number of sizes is ceil(log2(budget)) plus this.")
    batch_prompts: int = Field(1, ge=1, le=65536, description="The most prompts one prompt batch runs (vllm-gaudi's "
                               "max_prefill_batch_size); its batch-size buckets are spaced exponentially from 1 "
                               "(step 2, ceil(log2(batch_prompts)) + 1 sizes).")
    source: str = Field(min_length=1)

    def batch_ladder(self) -> tuple[int, ...]:
        """The compiled prompt-batch sizes, ascending (get_prompt_cfgs' bs config (1, 2, max, ceil(log2 max) + 1))."""
        top = self.batch_prompts
        return tuple(_exponential_sizes(1, top, 2, math.ceil(math.log2(top)) + 1)) if top > 1 else (1,)

    def ladder(self, top: int) -> tuple[int, ...]:
        """The compiled query lengths for a step budget of ``top`` tokens, ascending."""
        if top < 1:
            raise ValueError(f"prompt buckets: budget {top}; allowed: 1 or more")
        lo = min(self.min, top)
        count = math.ceil(math.log2(top)) + self.limit_offset if top > 1 else 1
        sizes = _exponential_sizes(lo, top, self.step, count)
        sizes[-1] = min(sizes[-1], top)  # the source holds its largest size at the budget
        return tuple(sorted(set(sizes)))


class StepPadding(BaseModel):
    """One back end's compiled step shapes: what it pads (``pads``: the step's tokens, or a decode batch), by which
    rule (``rule``), from which size (``min``) and to which multiple (``step``, the exponential rule's rounding), with
    the source of the rule."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    pads: Literal["step_tokens", "decode_batch"] = Field(description="step_tokens: every step's scheduled tokens; "
                                                         "decode_batch: the decoding sequences of a step.")
    rule: Literal["power_of_two", "exponential"] = Field(description="power_of_two: min, 2 min, 4 min, ... to the "
                                                         "first at or above the top; exponential: ceil(log2(top)) + 1 "
                                                         "sizes spaced exponentially from min to the top, each "
                                                         "rounded up to a multiple of step.")
    min: int = Field(ge=1, le=65536, description="The smallest compiled size.")
    step: int = Field(1, ge=1, le=65536, description="The exponential rule's rounding multiple (1: none).")
    source: str = Field(min_length=1)
    prompt: PromptBuckets | None = Field(None, description="The prefill query-length buckets of a back end that "
                                         "pads a decode batch (decode_batch): a step's prefill tokens run the next "
                                         "compiled query length; none: prefill runs unpadded.")

    @model_validator(mode="after")
    def _prompt_only_beside_decode_batch(self) -> StepPadding:
        if self.prompt is not None and self.pads != "decode_batch":
            raise ValueError(f"padding prompt: given with pads {self.pads!r}; allowed: only with pads "
                             "'decode_batch' (step_tokens already pads a step's prefill tokens)")
        return self

    def ladder(self, top: int) -> tuple[int, ...]:
        """The compiled sizes for a top of ``top`` (the step budget for ``step_tokens``, the running-batch cap for
        ``decode_batch``), ascending."""
        if top < 1:
            raise ValueError(f"padding ladder: top {top}; allowed: 1 or more")
        if self.rule == "power_of_two":
            sizes = [self.min]
            while sizes[-1] < min(top, MAX_LADDER):
                sizes.append(sizes[-1] * 2)
            return tuple(sizes)
        lo, hi = min(self.min, top), top
        count = math.ceil(math.log2(hi)) + 1 if hi > 1 else 1
        return tuple(_exponential_sizes(lo, hi, self.step, count))


@dataclass(frozen=True)
class PaddingLadder:
    """A back end's padding resolved on one run (:meth:`StepPadding.ladder` at its top): what it pads, the compiled
    sizes, the compiled prefill query lengths (``prompt_sizes``, empty where the back end pads no prompt), and the
    sentence the output prints."""

    pads: Literal["step_tokens", "decode_batch"]
    sizes: tuple[int, ...]
    text: str
    prompt_sizes: tuple[int, ...] = ()
    prompt_batch_sizes: tuple[int, ...] = (1,)  # the compiled prompt-batch sizes (PromptBuckets.batch_ladder)

    def packed_prompt_rows(self, chunks: list[int]) -> int:
        """The rows a step's prefill of ``chunks`` (each prompt's tokens this step, in the order scheduled) runs under
        the prompt buckets: the prompts in batches of at most the largest prompt-batch size, in order, each batch its
        batch-size bucket times the query bucket of its longest chunk (:meth:`prompt_rows`); the chunks' own tokens
        without prompt buckets."""
        if not self.prompt_sizes:
            return sum(chunks)
        per = self.prompt_batch_sizes[-1]
        rows = 0
        for i in range(0, len(chunks), per):
            batch = chunks[i:i + per]
            rows += int(self.padded(len(batch), self.prompt_batch_sizes)) * int(self.prompt_rows(max(batch)))
        return rows

    def padded(self, n: npt.ArrayLike, sizes: tuple[int, ...] | None = None) -> npt.NDArray[np.int64]:
        """The compiled size each of ``n`` runs (vectorised) on ``sizes`` (default :attr:`sizes`): the smallest size
        at or above it; ``n`` itself at 0 or above the largest size."""
        v = np.asarray(n, dtype=np.int64)
        ladder = np.asarray(self.sizes if sizes is None else sizes, dtype=np.int64)
        i = np.minimum(np.searchsorted(ladder, v, side="left"), len(ladder) - 1)
        out: npt.NDArray[np.int64] = np.where((v <= 0) | (v > ladder[-1]), v, ladder[i])
        return out

    def extra_rows(self, num_tokens: npt.ArrayLike, num_decode_seqs: npt.ArrayLike, ranks: int = 1,
                   prompt_tokens: npt.ArrayLike | None = None) -> npt.NDArray[np.int64]:
        """Rows the padding adds to a step of ``num_tokens`` tokens of which ``num_decode_seqs`` are decodes, each of
        ``ranks`` attention-DP ranks padding its even share: the step's tokens (``step_tokens``) or its decodes
        (``decode_batch``) padded, less the real ones, and where the back end has prompt buckets
        (:attr:`prompt_sizes`) the step's prefill tokens (its tokens less its decodes) padded to the next compiled
        query length, less the real ones: as one query per rank, or, given ``prompt_tokens`` (the step's prefill is
        whole prompts of that length, each run apart: predict's static batch), each prompt padded as the plugin runs
        it (:meth:`prompt_rows`), the step's prefill scaled by the padded over the real length; never negative."""
        base = np.ceil(np.asarray(num_tokens if self.pads == "step_tokens" else num_decode_seqs, dtype=float)
                       ).astype(np.int64)
        extra: npt.NDArray[np.int64] = np.where(base > 0, self._pad_rows(base, ranks, self.sizes), 0)
        if self.prompt_sizes:
            prefill = np.ceil(np.maximum(np.asarray(num_tokens, dtype=float) - np.asarray(num_decode_seqs,
                                                                                          dtype=float), 0.0)
                              ).astype(np.int64)
            if prompt_tokens is None:
                extra = extra + np.where(prefill > 0, self._pad_rows(prefill, ranks, self.prompt_sizes), 0)
            else:
                p = np.maximum(np.ceil(np.asarray(prompt_tokens, dtype=float)), 1.0)
                scaled = np.ceil(prefill * (self.prompt_rows(p) / p) - 1e-9).astype(np.int64)
                extra = extra + np.maximum(scaled - prefill, 0)
        return extra

    def prompt_rows(self, prompt_tokens: npt.ArrayLike) -> npt.NDArray[np.int64]:
        """The rows a prompt of ``prompt_tokens`` tokens runs under the prompt buckets: its chunks of the step budget
        (the largest bucket) whole, the rest padded to the next bucket; the prompt itself without prompt buckets."""
        p: npt.NDArray[np.int64] = np.ceil(np.asarray(prompt_tokens, dtype=float)).astype(np.int64)
        if not self.prompt_sizes:
            return p
        top = self.prompt_sizes[-1]
        rest = p % top
        out: npt.NDArray[np.int64] = (p // top) * top + np.where(rest > 0, self.padded(rest, self.prompt_sizes), 0)
        return out

    def _pad_rows(self, base: npt.NDArray[np.int64], ranks: int, sizes: tuple[int, ...]) -> npt.NDArray[np.int64]:
        """Rows that padding ``base`` rows, each of ``ranks`` ranks its even share, to ``sizes`` adds; never
        negative."""
        per_rank = -(-base // ranks)
        out: npt.NDArray[np.int64] = np.maximum(self.padded(per_rank, sizes) * ranks - base, 0)
        return out


def resolve_padding(padding: StepPadding | None, owner: str, max_num_seqs: int, chunk_tokens: int
                    ) -> PaddingLadder | None:
    """``padding`` (``owner``'s: "vllm's TPU back end") resolved on a run whose scheduler runs ``max_num_seqs``
    sequences and ``chunk_tokens``-token steps per rank; None where the back end states none."""
    if padding is None:
        return None
    top = chunk_tokens if padding.pads == "step_tokens" else max_num_seqs
    sizes = padding.ladder(top)
    what = ("each step's tokens (prefill and decode together)" if padding.pads == "step_tokens"
            else "each step's decoding sequences")
    prompt = () if padding.prompt is None else padding.prompt.ladder(chunk_tokens)
    batches = (1,) if padding.prompt is None else padding.prompt.batch_ladder()
    also = "" if not prompt else (
        f", and each of a step's prompts, a prompt batch of its own, to the next compiled query length of "
        f"{_shown(prompt)}" if batches[-1] == 1 else
        f", and a step's prompts in prompt batches of at most {batches[-1]:,}, each batch to the next batch size of "
        f"{_shown(batches)} times the next compiled query length of its longest prompt, of {_shown(prompt)}")
    also += "" if not prompt else (" (serve and curve pad each prompt; predict's continuous batching a step's prefill "
                                   "as one query)")
    source = padding.source if padding.prompt is None else f"{padding.source}; prompt: {padding.prompt.source}"
    return PaddingLadder(padding.pads, sizes,
                         f"{owner} pads {what} per rank to the next compiled size of {_shown(sizes)}{also}; predict, "
                         "serve and curve price the padded rows (work without KV cache; catalog/engine_hardware.yaml "
                         f"hardware padding): {source}", prompt, batches)


def _shown(sizes: tuple[int, ...]) -> str:
    """A ladder as the output prints it: every size up to 12, else the first six and the last."""
    return ", ".join(f"{s:,}" for s in sizes) if len(sizes) <= 12 else (
        ", ".join(f"{s:,}" for s in sizes[:6]) + ", ..., " + f"{sizes[-1]:,}")
