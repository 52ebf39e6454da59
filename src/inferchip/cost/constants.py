"""Structural constants of the equations, each with its reason."""

FLOP_PER_MAC = 2  # one multiply-accumulate is a multiply and an add
KV_TENSORS = 2  # a KV cache holds K and V
ATTENTION_MATMULS = 2  # scores Q K^T and output P V
MIN_TILE_M = 16  # smallest M tile of tensor-core MMA instructions (m16n8k16 on NVIDIA)
ALL_REDUCE_PHASES = 2  # ring all-reduce = reduce-scatter + all-gather (NCCL PERFORMANCE.md)
FP32_BYTES = 4
