"""Collective communication time: the alpha-beta (Hockney) model.

``alpha`` is the latency of one step over the link (one hop, with the collective's software
step), ``beta = 1/(bw x eff)``. An all-reduce of ``S`` bytes over ``p`` chips takes the fastest
of the algorithms the chip's software has, as the libraries pick by message size:

* ring: ``2(p-1) alpha + 2(p-1)/p S beta``; tree / latency-optimal: ``2 ceil(log2 p) alpha + 2 S beta``
  (Thakur, Rabenseifner, Gropp, IJHPCA 2005; NCCL bus-bandwidth factors from NVIDIA/nccl-tests
  doc/PERFORMANCE.md);
* where every peer is one hop away and the serving engines reduce with direct peer-to-peer kernels
  (``direct`` = 1: vLLM/SGLang custom all-reduce, TensorRT-LLM one-/two-shot, AMD AITER on ROCm;
  vLLM csrc/custom_all_reduce.cuh ``cross_device_reduce_1stage`` / ``_2stage``), also
  one-shot: a start barrier, then each chip reads every peer's whole buffer and reduces it,
  ``2 alpha + (p-1) S beta``; two-shot: reduce-scatter then all-gather, each such a round,
  ``4 alpha + 2(p-1)/p S beta``. Two-shot never loses to ring or tree, so a direct link's
  all-reduce is the faster of one-shot (small messages) and two-shot (large ones).

An engine may reduce large messages with a quantising kernel instead (``codec``, the row's
``Formats.all_reduce``): AMD QuickReduce (vLLM ``csrc/quickreduce``, SGLang
``device_communicators/quick_all_reduce.py``, selected by ``ROCM_QUICK_REDUCE_QUANTIZATION``) runs a
two-shot all-reduce whose two rounds carry the codec's bytes, ``4 alpha + 2(p-1)/p f S beta`` with
``f`` the wire bytes per byte of the fp16 buffer (INT4: 4-bit values plus one fp16 scale per 32, a
1,152-byte tile per 4,096 bytes), for groups of 2, 4 or 8 fully connected chips and messages from
the codec's smallest size per group (``QuickAllReduce._QR_MIN_SIZE``, fp16 row: SGLang casts bf16
to fp16 by default, ``ROCM_QUICK_REDUCE_CAST_BF16_TO_FP16``) to 2 GiB (``qr_max_size``); smaller
messages keep the custom all-reduce.

The expert dispatch and combine of a prefill step under attention data parallelism run one-sided kernels
whose rate is set by the SMs that drive them, not by the link (:func:`all_to_all_time_s` with
``kernel_bytes_per_s``, the chip family's ``expert_a2a_kernel_gb_per_s``): DeepEP's normal (prefill) kernels,
which SGLang runs on prefill batches (``--moe-a2a-backend deepep``, ``--deepep-mode normal`` on the Dynamo
prefill workers, ai-dynamo/dynamo ``examples/backends/sglang/slurm_jobs/scripts/gb200-fp8/disagg/*.sh``), move
153 GB/s (dispatch) and 158 GB/s (combine) per H800 over 160 GB/s NVLink (deepseek-ai/DeepEP README, intranode)
and 169 / 135 GB/s per GB200 over NVLink 5's 900 GB/s (deepseek-ai/DeepEP issue #394, 4 GB200, 24 SMs), in
DeepEP's metric (all bytes a rank receives, its own included): about the same on both links. A step with
decodes keeps the link's bytes price.

Its latency is not ``p - 1`` link steps where the family has a figure for its one-sided low-latency (decode)
kernels (``expert_a2a_decode_floor_us``): each rank writes its rows straight into the peers' symmetric memory and
the call ends on one flag barrier (each rank writes one flag into every peer, then polls its own ``p`` flags), so
one call costs a floor plus a small term per peer, ``floor + (p-1) per_peer`` (:func:`all_to_all_latency_s`).
The figure: TensorRT-LLM tech blog 18 ("Optimizing MoE Communication with One-Sided AlltoAll Over NVLink", GB200
NVL72, DeepSeek-V3 profile hidden 7168, top-8) at 1 token per rank, where the bytes take under 0.2 us: dispatch
18.9 / 18.8 / 19.8 / 27.8 us and combine 31.0 / 30.8 / 31.4 / 32.6 us at EP 8 / 16 / 32 / 64. SGLang's decode
runs DeepEP's low-latency kernels (``--deepep-mode low_latency``), the same one-sided scheme over NVLink (IPC
stores, one atomic count per expert, receivers poll); DeepEP publishes their latency over RDMA only (README,
H800 + CX7, 128 tokens: 77-194 us dispatch, 114-369 us combine at EP 8-256, bandwidth-bound at 39-98 GB/s); over
single-node NVLink (8 H100) its dispatch takes 32 us at 16 tokens and 24 us plus 0.40 us a token above 64
(ai-dynamo/nixl pull request 1749, TensorRT-LLM's bench_moe_comm.py, BF16, kernel spans): the same floor. The
Blackwell family carries the figure since stop 33 (catalog/families.yaml; docs "floor33": closed-loop TTFT and
TPOT held out improve, throughput worsens within its target); other families keep ``p - 1`` link steps.

Under attention data parallelism with expert parallelism below the group (``ep < tp``: each rank holds a tensor
slice of every expert it holds) no all-to-all can reach an expert: every rank needs every token. The engines gather
the ranks' tokens before the MoE and reduce-scatter its partial outputs after it (:func:`all_gather_time_s`,
:func:`reduce_scatter_time_s`: ring, ``(p-1) alpha + (p-1)/p S beta`` with ``S`` the whole gathered / reduced buffer,
each the one half of the ring all-reduce above; Thakur, Rabenseifner, Gropp 2005; NCCL ``ncclAllGather`` /
``ncclReduceScatter``, NVIDIA/nccl-tests doc/PERFORMANCE.md bus-bandwidth factor ``(p-1)/p`` for both).

Every argument may be an array (steps, chips, operators); a group of one chip moves nothing
off-chip and takes no time. :func:`all_reduce_scalar_s` is the same equation on floats for
the scalar step path (``cost/scalar_step.py``).
"""

from __future__ import annotations

import math

import numpy as np

from inferchip.cost.constants import ALL_REDUCE_PHASES
from inferchip.cost.roofline import ArrayLike, FloatArray

ONE_SHOT_ROUNDS = 2  # start barrier + the reads of every peer's buffer (one hop each)
TWO_SHOT_ROUNDS = 2 * ONE_SHOT_ROUNDS  # reduce-scatter round + all-gather round
MIB = 1024.0 ** 2
QUICK_REDUCE_MAX_BYTES = 2048 * MIB  # SGLang/vLLM QuickAllReduce: ops.qr_max_size(), 2 GiB by default
# codec: (wire bytes per byte of the fp16 buffer, smallest message by group size). Wire fractions from the
# codecs' tiles (vLLM csrc/quickreduce/quick_reduce_impl.cuh: CodecQ4 1,152 B, CodecQ6 1,664 B, CodecQ8 2,176 B
# per 4,096 B of fp16 data); smallest sizes from QuickAllReduce._QR_MIN_SIZE, (torch.float16, world size) row.
QUICK_REDUCE_CODECS: dict[str, tuple[float, dict[int, float]]] = {
    "fp": (1.0, {2: 1 * MIB, 4: 1 * MIB, 8: 16 * MIB}),
    "int8": (2176 / 4096, {2: 2 * MIB, 4: 16 * MIB, 8: 4 * MIB}),
    "int6": (1664 / 4096, {2: 2 * MIB, 4: 4 * MIB, 8: 4 * MIB}),
    "int4": (1152 / 4096, {2: 1 * MIB, 4: 2 * MIB, 8: 2 * MIB}),
}


def quick_reduce_eligible(nbytes: ArrayLike, group: ArrayLike, codec: str) -> FloatArray:
    """1 where an all-reduce of ``nbytes`` over ``group`` chips runs ``codec``'s QuickReduce kernel (module doc),
    else 0 (any message where ``codec`` is empty). Units: B."""
    s = np.asarray(nbytes, dtype=float)
    g = np.asarray(group, dtype=float)
    if not codec:
        return np.zeros(np.broadcast_shapes(s.shape, g.shape))
    smallest = QUICK_REDUCE_CODECS[codec][1]
    low = np.select([g == k for k in smallest], list(smallest.values()), np.inf)
    return ((s >= low) & (s <= QUICK_REDUCE_MAX_BYTES)).astype(float)


def all_reduce_time_s(nbytes: ArrayLike, group: ArrayLike, link_bytes_per_s: ArrayLike,
                      latency_s: ArrayLike, efficiency: ArrayLike, direct: ArrayLike = 0.0,
                      codec: str = "") -> FloatArray:
    """All-reduce of ``nbytes`` (the buffer each chip holds) over ``group`` chips; ``direct`` > 0
    where one-shot / two-shot peer-to-peer kernels are available; ``codec``: the engine's QuickReduce
    codec for large messages between directly linked chips ("" none). Units: B, B/s, s -> s."""
    s = np.asarray(nbytes, dtype=float)
    g = np.asarray(group, dtype=float)
    lat = np.asarray(latency_s, dtype=float)
    bw = np.asarray(link_bytes_per_s) * efficiency
    ring = ALL_REDUCE_PHASES * (g - 1) * lat + ALL_REDUCE_PHASES * (g - 1) / g * s / bw
    tree = ALL_REDUCE_PHASES * np.ceil(np.log2(np.maximum(g, 1.0))) * lat + ALL_REDUCE_PHASES * s / bw
    one_shot = ONE_SHOT_ROUNDS * lat + (g - 1) * s / bw
    two_shot = TWO_SHOT_ROUNDS * lat + ALL_REDUCE_PHASES * (g - 1) / g * s / bw
    library = np.minimum(ring, tree)
    t = np.where(np.asarray(direct) > 0, np.minimum(library, np.minimum(one_shot, two_shot)), library)
    if codec:
        quick = TWO_SHOT_ROUNDS * lat + ALL_REDUCE_PHASES * (g - 1) / g * s * QUICK_REDUCE_CODECS[codec][0] / bw
        t = np.where((quick_reduce_eligible(s, g, codec) > 0) & (np.asarray(direct) > 0), quick, t)
    return np.where((s > 0) & (g > 1), t, 0.0)


def all_reduce_scalar_s(nbytes: float, group: float, link_bytes_per_s: float, latency_s: float,
                        efficiency: float, direct: float = 0.0, codec: str = "") -> float:
    """:func:`all_reduce_time_s` on floats (same equation, no numpy). Units: B, B/s, s -> s."""
    if nbytes <= 0 or group <= 1:
        return 0.0
    s, g, lat, bw = nbytes, group, latency_s, link_bytes_per_s * efficiency
    ring = ALL_REDUCE_PHASES * (g - 1) * lat + ALL_REDUCE_PHASES * (g - 1) / g * s / bw
    tree = ALL_REDUCE_PHASES * math.ceil(math.log2(g)) * lat + ALL_REDUCE_PHASES * s / bw
    t = min(ring, tree)
    if direct > 0:
        one_shot = ONE_SHOT_ROUNDS * lat + (g - 1) * s / bw
        two_shot = TWO_SHOT_ROUNDS * lat + ALL_REDUCE_PHASES * (g - 1) / g * s / bw
        t = min(t, one_shot, two_shot)
        if codec and QUICK_REDUCE_CODECS[codec][1].get(int(g), math.inf) <= s <= QUICK_REDUCE_MAX_BYTES:
            fraction = QUICK_REDUCE_CODECS[codec][0]
            t = TWO_SHOT_ROUNDS * lat + ALL_REDUCE_PHASES * (g - 1) / g * s * fraction / bw
    return t


def all_to_all_time_s(nbytes: ArrayLike, group: ArrayLike, link_bytes_per_s: ArrayLike,
                      latency_s: ArrayLike, efficiency: ArrayLike, kernel_bytes_per_s: ArrayLike = 0.0,
                      fixed_s: ArrayLike | None = None) -> FloatArray:
    """All-to-all where each chip sends ``nbytes`` in total, (p-1)/p of it off-chip:
    ``(p-1) alpha + (p-1)/p S beta``; where the expert kernels move all ``S`` bytes (own rows included)
    at their own rate ``R = kernel_bytes_per_s`` > 0 (module doc), ``(p-1) alpha + max((p-1)/p S beta, S / R)``.
    ``fixed_s``, where given, is the whole latency term in place of ``(p-1) alpha``
    (:func:`all_to_all_latency_s`). Units: B, B/s, s -> s."""
    s = np.asarray(nbytes, dtype=float)
    g = np.asarray(group, dtype=float)
    bw = np.asarray(link_bytes_per_s) * efficiency
    rate = np.asarray(kernel_bytes_per_s, dtype=float)
    wire = (g - 1) / g * s / bw
    move = np.where(rate > 0, np.maximum(wire, s / np.where(rate > 0, rate, 1.0)), wire)
    lat = (g - 1) * np.asarray(latency_s) if fixed_s is None else np.asarray(fixed_s, dtype=float)
    return np.where((s > 0) & (g > 1), lat + move, 0.0)


def low_latency_fixed_s(group: ArrayLike, floor_s: ArrayLike, per_peer_s: ArrayLike) -> FloatArray:
    """Fixed time of one call of the one-sided low-latency expert kernels over ``p = group`` ranks,
    ``floor + (p-1) per_peer`` (module doc: one flag written into each peer, then the poll). Units: s -> s."""
    g = np.asarray(group, dtype=float)
    return np.asarray(np.asarray(floor_s, dtype=float) + (g - 1.0) * np.asarray(per_peer_s, dtype=float), dtype=float)


def all_to_all_latency_s(group: ArrayLike, latency_s: ArrayLike, rank_elements: ArrayLike, decode_seqs: ArrayLike,
                         floor_s: ArrayLike, per_peer_s: ArrayLike) -> FloatArray:
    """Latency term of an all-to-all: ``(p-1) alpha``, one link step per peer; an expert dispatch / combine
    (``rank_elements`` > 0) of a step with decodes on a family with a low-latency kernel figure (``floor_s`` > 0)
    costs :func:`low_latency_fixed_s` instead (module doc). Units: s -> s."""
    g = np.asarray(group, dtype=float)
    low = (np.asarray(rank_elements) > 0) & (np.asarray(decode_seqs) > 0) & (np.asarray(floor_s) > 0)
    return np.where(low, low_latency_fixed_s(g, floor_s, per_peer_s), (g - 1) * np.asarray(latency_s))


def all_gather_time_s(nbytes: ArrayLike, group: ArrayLike, link_bytes_per_s: ArrayLike,
                      latency_s: ArrayLike, efficiency: ArrayLike) -> FloatArray:
    """Ring all-gather of ``nbytes`` = the gathered buffer each chip ends with (``nbytes / p`` its own):
    ``(p-1) alpha + (p-1)/p S beta`` (module doc). Units: B, B/s, s -> s."""
    s = np.asarray(nbytes, dtype=float)
    g = np.asarray(group, dtype=float)
    wire = (g - 1) / np.maximum(g, 1.0) * s / (np.asarray(link_bytes_per_s) * efficiency)
    return np.where((s > 0) & (g > 1), (g - 1) * np.asarray(latency_s) + wire, 0.0)


def reduce_scatter_time_s(nbytes: ArrayLike, group: ArrayLike, link_bytes_per_s: ArrayLike,
                          latency_s: ArrayLike, efficiency: ArrayLike) -> FloatArray:
    """Ring reduce-scatter of ``nbytes`` = the buffer each chip reduces (``nbytes / p`` of it left on each):
    ``(p-1) alpha + (p-1)/p S beta``, the all-gather's equation (module doc). Units: B, B/s, s -> s."""
    return all_gather_time_s(nbytes, group, link_bytes_per_s, latency_s, efficiency)


def ring_half_scalar_s(nbytes: float, group: float, link_bytes_per_s: float, latency_s: float,
                       efficiency: float) -> float:
    """:func:`all_gather_time_s` and :func:`reduce_scatter_time_s` on floats (same equation, no numpy).
    Units: B, B/s, s -> s."""
    if nbytes <= 0 or group <= 1:
        return 0.0
    return (group - 1) * latency_s + (group - 1) / group * nbytes / (link_bytes_per_s * efficiency)


def all_to_all_latency_scalar_s(group: float, latency_s: float, rank_elements: float, decode_seqs: float,
                                floor_s: float, per_peer_s: float) -> float:
    """:func:`all_to_all_latency_s` on floats (the same decision, no numpy). Units: s -> s."""
    if rank_elements > 0 and decode_seqs > 0 and floor_s > 0:
        return floor_s + (group - 1.0) * per_peer_s
    return (group - 1) * latency_s


def expert_kernel_terms(elements: ArrayLike, rank_elements: ArrayLike, decode_seqs: ArrayLike,
                        kernel_bytes_per_s: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """(elements per row, kernel rate) of an all-to-all: on a chip whose family has one-sided expert kernels
    (``kernel_bytes_per_s`` > 0) an expert dispatch / combine (``rank_elements`` > 0) sends ``rank_elements``
    per token (once per destination rank), and a step without decodes runs the normal kernels at their rate
    (module doc); else ``elements`` and no kernel rate (the link's price)."""
    rate = np.asarray(kernel_bytes_per_s, dtype=float)
    one_sided = (np.asarray(rank_elements) > 0) & (rate > 0)
    return (np.where(one_sided, rank_elements, elements),
            np.where(one_sided & (np.asarray(decode_seqs) <= 0), rate, 0.0))


def all_to_all_scalar_s(nbytes: float, group: float, link_bytes_per_s: float, latency_s: float,
                        efficiency: float, kernel_bytes_per_s: float = 0.0, fixed_s: float | None = None) -> float:
    """:func:`all_to_all_time_s` on floats (same equation, no numpy). Units: B, B/s, s -> s."""
    if nbytes <= 0 or group <= 1:
        return 0.0
    wire = (group - 1) / group * nbytes / (link_bytes_per_s * efficiency)
    lat = (group - 1) * latency_s if fixed_s is None else fixed_s
    return lat + (max(wire, nbytes / kernel_bytes_per_s) if kernel_bytes_per_s > 0 else wire)


def point_to_point_time_s(nbytes: ArrayLike, link_bytes_per_s: ArrayLike,
                          latency_s: ArrayLike, efficiency: ArrayLike) -> FloatArray:
    """One transfer between pipeline stages: ``alpha + S beta``. Units: B, B/s, s -> s."""
    s = np.asarray(nbytes, dtype=float)
    return np.where(s > 0, latency_s + s / (np.asarray(link_bytes_per_s) * efficiency), 0.0)
