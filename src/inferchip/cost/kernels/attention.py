"""Attention of one layer as two kernel classes: decode and prefill (pure functions of arrays).

Decode streams each sequence's KV cache: ``2 h (d_qk + d_v)`` FLOP per head and KV token read
(absorbed MLA: ``2 h (kv + latent)``, DeepSeek-V3 inference/model.py), the cache read plus each
sequence's new K and V written; its attainable fraction of the attention format's peak is
``attention_compute_fraction`` (memory-bound, or compute-bound for absorbed MLA at many heads).
Prefill is a fused causal flash kernel: ``2 h (d_qk + d_v)`` FLOP per query-key pair (MLA
non-absorbed: d_qk 192, d_v 128 for DeepSeek-V3), reading q, k, v once and writing K and V,
at ``prefill_attention_compute_fraction`` (FlashAttention-3/4, cuDNN: sources in
:class:`inferchip.spec.calibration.Calibration`). The pairs are causal (``chunk (cached + (chunk
+ 1) / 2)`` per chunk, :mod:`inferchip.sim.step.protocol`), so the masked half is never counted. A
sliding window caps the KV read at ``window`` per sequence and the pairs at ``window`` per
prompt token. Arrays broadcast: ``points x operators``.

A chunked local attention layer (Llama 4's RoPE layers, ``attention_chunk_size``) differs from a sliding window in
its span: a token at position p attends to positions ``floor(p / chunk) * chunk`` to p, i.e. ``p mod chunk + 1``
keys, not ``min(p + 1, window)`` (vLLM ``ChunkedLocalAttention``; its KV manager skips the
``(n // chunk) * chunk`` tokens before the current chunk, vllm-project/vllm @129ab7c6
vllm/v1/core/single_type_kv_cache_manager.py ``ChunkedLocalAttentionManager.get_num_skipped_tokens``). The step
knows only its totals, so (:func:`chunked_reads`): a decoding sequence reads the cached tokens of its own chunk at the
step's mean cached length m, ``m - floor(m / chunk) * chunk`` (exact where the batch's sequences sit in the same
chunk, as in a fixed-length benchmark); the prompt pairs are capped at ``(chunk + 1) / 2`` per prompt token, the mean
span over whole chunks (``chunk (chunk + 1) / 2`` pairs a chunk): exact for prompts of at most one chunk (their
causal pairs are fewer) and for whole chunks, over by at most ``chunk^2 / 8`` pairs a prompt otherwise.

A prefill head of 64 query-key dimensions or fewer reaches less of the peak than the head dimension 128 the
calibration's fraction is sourced at: each query-key pair carries half the MMA work per softmax exponential and
per tile load. FlashAttention-3 BF16 forward on H100 SXM5, causal, 16k tokens (Shah et al. 2024,
arXiv:2407.08608, Fig. 5b and 5d): 475 TFLOP/s at head dimension 64 against 616 at 128, so
``PREFILL_SMALL_HEAD_RATE`` = 475 / 616 of the fraction (measured on Hopper; applied to every chip, an inferchip
estimate for the others' kernels).

The prefill kernel computes one softmax exponential per query-key pair and head on the special-function units,
whose rate per SM and clock did not grow with Blackwell's tensor cores (FlashAttention-4, sources at
:data:`inferchip.cost.constants.MMA_FLOP_PER_EXP_16BIT`). So the attainable prefill rate is at most
``peak_16bit x 2 (d_qk + d_v) / mma_flop_per_exp_16bit`` (:func:`prefill_exp_cap_flop_per_s`), whatever format
the MMA runs in: on B200 1.125 PFLOP/s for heads of 64 (gpt-oss). Measured kernels sit at that cap: on B200,
causal bf16 head dimension 64, cuDNN 1,071 and FlashAttention-4 1,079 TFLOP/s at 4 x 8,192 tokens, 1,115 and 1,176
at 2 x 16,384 (Dao-AILab/flash-attention PR #2605, its FWD table, where heads of 128 reach 1,428 non-causal
at 32 x 1,024 against 980 for heads of 64); so the cap applies in full, not times the calibration's fraction.
On Hopper a head of 64 sits exactly at the 16-bit peak, so only an FP8 prefill of such heads is capped there.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

from inferchip.cost.constants import FLOP_PER_MAC, KV_TENSORS
from inferchip.cost.roofline import ArrayLike, FloatArray

SMALL_HEAD_DIM = 64  # prefill heads of at most this many query-key dimensions run at PREFILL_SMALL_HEAD_RATE
PREFILL_SMALL_HEAD_RATE = 475.0 / 616.0  # FA3 (arXiv:2407.08608) Fig. 5b / 5d: causal BF16 at 16k, hdim 64 / 128


def prefill_head_rate(qk_dim: int) -> float:
    """Share of the prefill attention fraction a head of ``qk_dim`` query-key dimensions reaches (module docstring)."""
    if qk_dim < 1:
        raise ValueError(f"attention qk_dim {qk_dim}: must be a positive number of dimensions")
    return PREFILL_SMALL_HEAD_RATE if qk_dim <= SMALL_HEAD_DIM else 1.0


def prefill_exp_cap_flop_per_s(pre_width: ArrayLike, peak_16bit_flop_per_s: ArrayLike,
                                mma_flop_per_exp_16bit: float) -> FloatArray:
    """Most prefill attention FLOP/s the exponentials allow: ``pre_width`` = d_qk + d_v of each head (one
    exponential per query-key pair and head, ``FLOP_PER_MAC x pre_width`` FLOP), the chip's dense 16-bit peak and
    its 16-bit MMA FLOP per exponential (module docstring); ``inf`` where the family has no entry.

    >>> float(prefill_exp_cap_flop_per_s(128.0, 2.25e15, 512.0))  # B200, head dimension 64
    1125000000000000.0
    """
    if not mma_flop_per_exp_16bit > 0:
        raise ValueError(f"mma_flop_per_exp_16bit {mma_flop_per_exp_16bit}: must be a positive number (inf: no cap)")
    width = np.asarray(pre_width, dtype=float)
    cap: FloatArray = np.asarray(peak_16bit_flop_per_s, dtype=float) * FLOP_PER_MAC * width / mma_flop_per_exp_16bit
    return cap


class AttentionWork(NamedTuple):
    """Compute seconds, FLOP, DRAM bytes and kernel launches of the attention operators."""

    compute_s: FloatArray
    flop: FloatArray
    dram_bytes: FloatArray
    kernels: FloatArray


def attention_columns(ops: Sequence[Any], peak_flop_per_s: ArrayLike, decode_fraction: float,
                      prefill_fraction: float, kv_bytes: float, act_bytes: float,
                      prefill_peak_flop_per_s: ArrayLike | None = None,
                      mla_prefill_peak_flop_per_s: ArrayLike | None = None,
                      mla_prefill_act_bytes: float = 0.0, peak_16bit_flop_per_s: ArrayLike | None = None,
                      mma_flop_per_exp_16bit: float = float("inf")) -> dict[str, FloatArray]:
    """Per-operator constants: FLOP per decode KV token and per prefill pair, KV bytes per token,
    prefill bytes per prompt token (q, k, v read once in the activation format, K and V written in
    the KV format), and the attainable FLOP/s of each phase (peak x its fraction; prefill also x
    :func:`prefill_head_rate` of the operator's head). ``prefill_peak_flop_per_s``:
    the prefill kernel's peak where it computes in another format than decode (None: ``peak_flop_per_s``).
    ``mla_prefill_peak_flop_per_s``: the MLA operators' prefill peak where their extend path runs 16-bit flash
    attention whatever the KV (their q, k, v then read at ``mla_prefill_act_bytes``); None: as the others.
    ``peak_16bit_flop_per_s`` and ``mma_flop_per_exp_16bit``: the attainable prefill rate is at most
    :func:`prefill_exp_cap_flop_per_s` (no cap without both)."""
    heads = np.array([float(op.q_heads) for op in ops])
    kv_el = np.array([float(op.kv_elements_per_token) for op in ops])
    pre_width = np.array([float(op.qk_dim + op.v_dim) for op in ops])
    dec_width = np.array([float(op.kv_elements_per_token + op.latent_dim if op.mla else op.qk_dim + op.v_dim)
                          for op in ops])
    peak = np.asarray(peak_flop_per_s, dtype=float)
    head_rate = np.array([prefill_head_rate(op.qk_dim) for op in ops])
    pre_peak = peak if prefill_peak_flop_per_s is None else np.asarray(prefill_peak_flop_per_s, dtype=float)
    pre_act = np.full(len(ops), float(act_bytes))
    if mla_prefill_peak_flop_per_s is not None:
        mla = np.array([bool(op.mla) for op in ops])
        pre_peak = np.where(mla, np.asarray(mla_prefill_peak_flop_per_s, dtype=float), pre_peak)
        pre_act = np.where(mla, float(mla_prefill_act_bytes), pre_act)
    t = {"decode_flop_per_kv_token": FLOP_PER_MAC * heads * dec_width,
         "prefill_flop_per_pair": FLOP_PER_MAC * heads * pre_width,
         "kv_bytes_per_token": kv_el * kv_bytes,
         "prefill_bytes_per_token": heads * pre_width * pre_act + KV_TENSORS * kv_el * kv_bytes,
         "decode_attainable_flop_per_s": peak * decode_fraction,
         "prefill_attainable_flop_per_s": pre_peak * prefill_fraction * head_rate}
    if peak_16bit_flop_per_s is not None and np.isfinite(mma_flop_per_exp_16bit):  # the cap, reached in full
        t["prefill_attainable_flop_per_s"] = np.minimum(
            t["prefill_attainable_flop_per_s"],
            prefill_exp_cap_flop_per_s(pre_width, peak_16bit_flop_per_s, mma_flop_per_exp_16bit))
    chunked = [bool(getattr(op, "chunked", False)) for op in ops]
    if any(op.window is not None and not c for op, c in zip(ops, chunked, strict=True)):
        t["window"] = np.array([0.0 if c else float(op.window or 0) for op, c in zip(ops, chunked, strict=True)])
    if any(chunked):
        t["chunk"] = np.array([float(op.window) if c else 0.0 for op, c in zip(ops, chunked, strict=True)])
    return t


def chunked_reads(decode_seqs: FloatArray, prefill_tokens: FloatArray, decode_kv_tokens: FloatArray,
                  prefill_pairs: FloatArray, chunk: FloatArray) -> tuple[FloatArray, FloatArray]:
    """KV tokens read and prompt pairs of a chunked layer of ``chunk`` tokens (module docstring): decode reads
    ``s (m - floor(m / chunk) chunk)`` at the mean cached length ``m = kv / s``; the pairs are at most
    ``prompt tokens x (chunk + 1) / 2``.

    >>> kv, pr = chunked_reads(np.array(2.0), np.array(3 * 8.0), np.array(2 * 19.0), np.array(24 * 25 / 2), 8.0)
    >>> float(kv), float(pr)  # two sequences at 19 cached tokens read 19 - 16 = 3 each; 3 chunks of 8: 3 x 36 pairs
    (6.0, 108.0)
    """
    s = np.asarray(decode_seqs, dtype=float)
    mean_ctx = np.divide(decode_kv_tokens, s, out=np.zeros(np.broadcast(decode_kv_tokens, s).shape), where=s > 0)
    kv = np.asarray(decode_kv_tokens, dtype=float) - s * np.floor(mean_ctx / chunk) * chunk
    return kv, np.minimum(prefill_pairs, np.asarray(prefill_tokens, dtype=float) * (chunk + 1.0) / 2.0)


def chunked_reads_scalar(s_dec: float, t_pre: float, kv_d: float, pr: float, chunk: float) -> tuple[float, float]:
    """:func:`chunked_reads` of one point (the scalar step's twin, the same operations)."""
    mean_ctx = kv_d / s_dec if s_dec > 0 else 0.0
    kv = kv_d - s_dec * math.floor(mean_ctx / chunk) * chunk
    cap = t_pre * (chunk + 1.0) / 2.0
    return kv, (pr if pr < cap else cap)


def attention_work(cols: dict[str, FloatArray], decode_seqs: FloatArray, prefill_tokens: FloatArray,
                   decode_kv_tokens: FloatArray, prefill_pairs: FloatArray) -> AttentionWork:
    """Both phases' compute time (each phase's FLOP at its own attainable rate), FLOP, bytes and
    launches (one per phase present) for the step's decode sequences, prompt tokens, KV tokens
    read and causal prefill pairs."""
    s_dec, t_pre, kv_d, pr = decode_seqs, prefill_tokens, decode_kv_tokens, prefill_pairs
    if "window" in cols:  # some layers have a sliding window (0 marks none)
        windowed, window = cols["window"] > 0, cols["window"]
        kv_d = np.where(windowed, np.minimum(kv_d, s_dec * window), kv_d)
        pr = np.where(windowed, np.minimum(pr, t_pre * window), pr)
    if "chunk" in cols:  # some layers attend within chunks (0 marks none)
        chunk = cols["chunk"]
        kv_c, pr_c = chunked_reads(s_dec, t_pre, kv_d, pr, np.where(chunk > 0, chunk, 1.0))
        kv_d, pr = np.where(chunk > 0, kv_c, kv_d), np.where(chunk > 0, pr_c, pr)
    dec_flop = cols["decode_flop_per_kv_token"] * kv_d
    pre_flop = cols["prefill_flop_per_pair"] * pr
    kvb = cols["kv_bytes_per_token"]
    nb = kv_d * kvb + s_dec * kvb + t_pre * cols["prefill_bytes_per_token"]
    compute_s = dec_flop / cols["decode_attainable_flop_per_s"] + pre_flop / cols["prefill_attainable_flop_per_s"]
    return AttentionWork(compute_s, dec_flop + pre_flop, nb, np.add(s_dec > 0, t_pre > 0, dtype=float))
