"""Time of one engine iteration (a "step") of one pipeline stage on one chip, vectorised.

A step processes ``num_tokens`` new tokens: the chunks of prompts being prefilled plus
one token for each of ``num_decode_seqs`` decoding sequences (continuous batching with
chunked prefill). Every operator's time is the slower of its compute time and its DRAM
time plus a per-kernel overhead (:mod:`inferchip.cost.roofline`); GEMMs pay tile and wave
quantisation (:mod:`inferchip.cost.gemm`); collectives follow the alpha-beta model
(:mod:`inferchip.cost.network`); each iteration pays a host overhead that the device does
not hide. Inputs broadcast: arrays of steps, and chips given as arrays in ``ChipParams``.

Under attention data parallelism (``sm.dp_attention > 1``) the step's tokens and sequences
are spread evenly over the chips of the stage: attention, dense and shared MLPs, norms, the
router, the LM head and the expert all-to-all run on this chip's share, while its routed
experts serve the tokens of every chip. The step is the busiest chip's
(:func:`busiest_chip_share`): ``s`` decoding sequences occupy ``min(dp, s)`` chips, one or
more whole sequences each, and prefill tokens are spread evenly.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from inferchip.cost.calibration import Calibration
from inferchip.cost.constants import FP32_BYTES
from inferchip.cost.gemm import gemm_bytes, gemm_flop, quantised_flop
from inferchip.cost.network import all_reduce_time_s, all_to_all_time_s, point_to_point_time_s
from inferchip.cost.peaks import peak_flop_per_s
from inferchip.cost.roofline import compute_time_s, memory_time_s
from inferchip.mapping.memory_fit import EMBEDDING_FORMAT, Formats
from inferchip.mapping.sharding import ShardedModel
from inferchip.spec.chip import ChipParams
from inferchip.spec.formats import BYTES_PER_ELEMENT, compute_format

OP_CLASSES = ("attention_proj", "mlp", "experts", "attention", "elementwise", "lm_head", "communication", "host")
BOUNDS = ("compute", "memory", "network", "overhead")
# Hidden states between layers, all-reduced partial sums and MoE combines stay 16-bit when GEMMs
# run in fp8/fp4: engines quantise GEMM inputs on the fly (TensorRT-LLM, vLLM FP8/NVFP4 linear layers).
HIDDEN_STATE_FORMAT = "bf16"
ELEMENTWISE_KERNELS_PER_LAYER = 3  # fused add+norm twice, rotary (activation fused in the GEMM epilogue)


@dataclass
class ClassCost:
    """Accumulated seconds of one operator class, split by what bounds each kernel."""

    time_s: np.ndarray
    compute_bound_s: np.ndarray
    memory_bound_s: np.ndarray
    network_s: np.ndarray
    overhead_s: np.ndarray

    def bound(self) -> np.ndarray:
        stack = np.stack(np.broadcast_arrays(self.compute_bound_s, self.memory_bound_s, self.network_s, self.overhead_s))
        return np.take(np.array(BOUNDS), np.argmax(stack, axis=0))


@dataclass
class StepCost:
    """Per-chip cost of one step of one pipeline stage (plus its outgoing pipeline transfer)."""

    time_s: np.ndarray
    classes: dict[str, ClassCost]
    flop_by_format: dict[str, np.ndarray] = field(default_factory=dict)
    dram_bytes: np.ndarray = 0.0  # type: ignore[assignment]
    link_bytes: np.ndarray = 0.0  # type: ignore[assignment]

    def class_times_s(self) -> dict[str, np.ndarray]:
        return {k: v.time_s for k, v in self.classes.items()}


class _Acc:
    def __init__(self, shape: tuple[int, ...]):
        z = np.zeros(shape)
        self.c = {k: ClassCost(z.copy(), z.copy(), z.copy(), z.copy(), z.copy()) for k in OP_CLASSES}
        self.flop: dict[str, np.ndarray] = {}
        self.dram = z.copy()
        self.link = z.copy()

    def kernel(self, cls: str, t_compute, t_memory, overhead, reps, flop=None, fmt=None, nbytes=None):
        cc = self.c[cls]
        tc, tm = np.broadcast_arrays(np.asarray(t_compute, float), np.asarray(t_memory, float))
        body = np.maximum(tc, tm)
        cc.compute_bound_s = cc.compute_bound_s + np.where(tc >= tm, body, 0.0) * reps
        cc.memory_bound_s = cc.memory_bound_s + np.where(tc < tm, body, 0.0) * reps
        cc.overhead_s = cc.overhead_s + overhead * reps
        cc.time_s = cc.time_s + (body + overhead) * reps
        if flop is not None:
            self.flop[fmt] = self.flop.get(fmt, 0.0) + np.asarray(flop) * reps
        if nbytes is not None:
            self.dram = self.dram + np.asarray(nbytes) * reps

    def network(self, t, reps, nbytes):
        cc = self.c["communication"]
        cc.network_s = cc.network_s + t * reps
        cc.time_s = cc.time_s + t * reps
        self.link = self.link + np.asarray(nbytes) * reps


def busiest_chip_share(count: np.ndarray | float, dp: int) -> np.ndarray:
    """Fraction of ``count`` sequences the busiest of ``dp`` chips runs when whole sequences are
    spread evenly: ``1 / min(dp, count)`` (a count below one is one sequence; 1 when dp = 1).
    E.g. 1 sequence on 8 chips: 1 (one chip runs it); 64 sequences: 1/8."""
    c = np.maximum(np.asarray(count, dtype=float), 1.0)
    return 1.0 / np.minimum(float(max(dp, 1)), c)


def step_cost(
    sm: ShardedModel,
    chip: ChipParams,
    fmt: Formats,
    cal: Calibration,
    num_tokens: np.ndarray,
    num_decode_seqs: np.ndarray,
    decode_kv_tokens: np.ndarray,
    prefill_attn_pairs: np.ndarray,
    logit_rows: np.ndarray | None = None,
) -> StepCost:
    """Cost of one step on one chip of the (largest) pipeline stage.

    ``decode_kv_tokens``: sum of the KV lengths the decoding sequences attend to;
    ``prefill_attn_pairs``: causal query-key pairs of the prefill chunks;
    ``logit_rows``: rows through the LM head (default: decode sequences, plus one if a
    prefill chunk is present).
    """
    t = np.asarray(num_tokens, dtype=float)
    s_dec = np.asarray(num_decode_seqs, dtype=float)
    kv_dec = np.asarray(decode_kv_tokens, dtype=float)
    pairs = np.asarray(prefill_attn_pairs, dtype=float)
    t, s_dec, kv_dec, pairs = np.broadcast_arrays(t, s_dec, kv_dec, pairs)
    t_pre = np.maximum(t - s_dec, 0.0)
    if logit_rows is None:
        logit_rows = s_dec + (t_pre > 0)
    shape = np.broadcast_shapes(t.shape, np.shape(chip.memory_bytes_per_s), np.shape(chip.gemm_tile_m))
    acc = _Acc(shape)

    gemm_fmt = compute_format(fmt.weights, fmt.activations)
    peak_gemm = peak_flop_per_s(chip, gemm_fmt)
    attn_fmt = "fp8" if (fmt.kv in ("fp8", "int8") and fmt.activations in ("fp8", "int8")) else "bf16"
    peak_attn = peak_flop_per_s(chip, attn_fmt)
    bw = chip.memory_bytes_per_s
    mem_frac = cal.memory_bandwidth_fraction
    k_over = chip.kernel_overhead_s * cal.kernel_overhead_scale
    wb, ab, kvb = fmt.weight_bytes, fmt.act_bytes, fmt.kv_bytes
    hb = max(ab, BYTES_PER_ELEMENT[HIDDEN_STATE_FORMAT])  # bytes per element of hidden states on the link
    tp = sm.layout.attn_tp
    e_frac = cal.gemm_compute_fraction
    # The busiest chip's share of the step under attention DP (all of it otherwise); its routed
    # experts still serve the tokens of every chip (t_all).
    t_all = t
    dp = sm.dp_attention
    if dp > 1:
        d_share = busiest_chip_share(s_dec, dp)
        t = np.minimum(t, s_dec) * d_share + t_pre / dp
        s_dec, kv_dec, pairs, t_pre = s_dec * d_share, kv_dec * d_share, pairs / dp, t_pre / dp
        rows = np.asarray(logit_rows, dtype=float)
        logit_rows = rows * busiest_chip_share(rows, dp)

    def run_gemm(cls, g, m, reps, w_fmt_bytes=wb, fmt_name=gemm_fmt, peak=peak_gemm):
        if g.vector_only:
            flop = gemm_flop(m, g.k, g.n)
            tc = compute_time_s(flop, chip.vector_flop_per_s, e_frac)
            nb = gemm_bytes(m, g.k, g.n, 1.0, w_fmt_bytes, ab)
            acc.kernel(cls, tc, memory_time_s(nb, bw, mem_frac), k_over, reps, flop, "fp32", nb)
            return
        if g.experts:
            # Tokens routed to each local expert (uniform routing), and how many experts get any.
            assigned = m * g.routed_fraction * sm.experts_total / max(sm.layout.ep, 1) / g.experts
            per_expert = assigned * cal.moe_imbalance
            p_idle = np.power(1.0 - g.routed_fraction, m)
            active = g.experts * (1.0 - p_idle)
            eff_flop = quantised_flop(per_expert, g.k, g.n, active, chip.gemm_tile_m, chip.gemm_tile_n,
                                      chip.gemm_tiles_in_flight)
            flop = gemm_flop(assigned, g.k, g.n, g.experts)
            nb = gemm_bytes(assigned, g.k, g.n, active, w_fmt_bytes, ab, g.experts)
        else:
            eff_flop = quantised_flop(m, g.k, g.n, 1.0, chip.gemm_tile_m, chip.gemm_tile_n, chip.gemm_tiles_in_flight)
            flop = gemm_flop(m, g.k, g.n)
            nb = gemm_bytes(m, g.k, g.n, 1.0, w_fmt_bytes, ab)
        tc = compute_time_s(eff_flop, peak, e_frac)
        tm = memory_time_s(nb, bw, mem_frac)
        acc.kernel(cls, tc, tm, k_over, reps, flop, fmt_name, nb)

    for layer in sm.layers:
        reps = layer.count
        for g in layer.gemms:
            if g.name.startswith("experts") or g.name == "router":
                cls = "experts"
            elif g.name.startswith(("mlp", "shared")):
                cls = "mlp"
            else:
                cls = "attention_proj"
            run_gemm(cls, g, t_all if g.experts else t, reps)
        # Attention: decode streams the KV cache; prefill is a fused causal kernel.
        kv_d = kv_dec if layer.window is None else np.minimum(kv_dec, s_dec * layer.window)
        pr = pairs if layer.window is None else np.minimum(pairs, t_pre * layer.window)
        if layer.mla:
            # Absorbed MLA decode: scores over latent + rope key, output over the latent
            # (DeepSeek-V3 inference/model.py "absorb" path), shared by all heads.
            dec_flop = 2.0 * layer.q_heads * (layer.kv_elements_per_token + layer.latent_dim) * kv_d
        else:
            dec_flop = 2.0 * layer.q_heads * (layer.qk_dim + layer.v_dim) * kv_d
        pre_flop = 2.0 * layer.q_heads * (layer.qk_dim + layer.v_dim) * pr
        dec_bytes = kv_d * layer.kv_elements_per_token * kvb + s_dec * layer.kv_elements_per_token * kvb
        pre_bytes = t_pre * (layer.q_heads * (layer.qk_dim + layer.v_dim) * ab + 2 * layer.kv_elements_per_token * kvb)
        tc = compute_time_s(dec_flop, peak_attn, cal.attention_compute_fraction) + compute_time_s(
            pre_flop, peak_attn, cal.attention_compute_fraction)
        tm = memory_time_s(dec_bytes + pre_bytes, bw, mem_frac)
        n_attn_kernels = (s_dec > 0).astype(float) + (t_pre > 0).astype(float)
        acc.kernel("attention", tc, tm, k_over * n_attn_kernels, reps, dec_flop + pre_flop, attn_fmt,
                   dec_bytes + pre_bytes)
        # Norms, residual adds, rotary: memory-bound elementwise kernels.
        nb = t * layer.elementwise_elements_per_token * ab
        acc.kernel("elementwise", 0.0, memory_time_s(nb, bw, mem_frac), k_over * ELEMENTWISE_KERNELS_PER_LAYER,
                   reps, None, None, nb)
        for coll in layer.collectives:
            nbytes = t * coll.bytes_per_token_elements * (ab if coll.quantised else hb)
            if coll.kind == "all_to_all":
                tt = all_to_all_time_s(nbytes, coll.group, chip.link_bytes_per_s, chip.link_latency_s,
                                       cal.link_bandwidth_fraction)
            else:
                tt = all_reduce_time_s(nbytes, coll.group, chip.link_bytes_per_s, chip.link_latency_s,
                                       cal.link_bandwidth_fraction)
            acc.network(tt, reps, nbytes)

    # Embedding gather and LM head (16-bit), logits gathered over the TP group.
    eb = BYTES_PER_ELEMENT[EMBEDDING_FORMAT]
    emb_bytes = t * sm.hidden * eb
    acc.kernel("lm_head", 0.0, memory_time_s(emb_bytes, bw, mem_frac), k_over, 1.0, None, None, emb_bytes)
    run_gemm("lm_head", sm.lm_head, np.asarray(logit_rows, dtype=float), 1.0, eb, "bf16", peak_flop_per_s(chip, "bf16"))
    if tp > 1:
        logits = np.asarray(logit_rows, dtype=float) * sm.lm_head.n * FP32_BYTES
        acc.network(all_to_all_time_s(logits, tp, chip.link_bytes_per_s, chip.link_latency_s,
                                      cal.link_bandwidth_fraction), 1.0, logits)
    if sm.layout.pp > 1:
        p2p = t * sm.hidden * hb
        acc.network(point_to_point_time_s(p2p, chip.link_bytes_per_s, chip.link_latency_s,
                                          cal.link_bandwidth_fraction), 1.0, p2p)
    host = acc.c["host"]
    host.overhead_s = host.overhead_s + cal.step_overhead_s
    host.time_s = host.time_s + cal.step_overhead_s
    total = sum(c.time_s for c in acc.c.values())
    return StepCost(time_s=total, classes=acc.c, flop_by_format=acc.flop, dram_bytes=acc.dram, link_bytes=acc.link)
