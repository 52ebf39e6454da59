"""Structural constants of the equations, each with its reason."""

FLOP_PER_MAC = 2  # one multiply-accumulate is a multiply and an add
KV_TENSORS = 2  # a KV cache holds K and V
ATTENTION_MATMULS = 2  # scores Q K^T and output P V
MIN_TILE_M = 16  # smallest M tile of tensor-core MMA instructions (m16n8k16 on NVIDIA)
ALL_REDUCE_PHASES = 2  # ring all-reduce = reduce-scatter + all-gather (NCCL PERFORMANCE.md)
FP32_BYTES = 4
# Work per token and MoE layer of vLLM's Triton MoE kernels beyond their MMA (top-k, aligning and sorting
# the token ids per expert, gathering and scattering the routed rows, the combine, and the small default
# tiles), in vector-unit FLOP-equivalents: vLLM PR #39902 times the gpt-oss-120b TP2 expert layer on H100
# (bf16, default Triton fused_moe configs) at 2,930.81 / 3,387.01 us for 256 / 1,024 tokens: 0.594 us per
# added token, of which 0.101 us is the bf16 MMA at the dense peak (99.5 MFLOP per token per GPU at
# 989.4 TFLOP/s); 0.49 us beyond it, times H100's 66.9 TFLOP/s FP32 vector rate. Applied only where a run
# states these kernels (Calibration.moe_token_vector_flop; validation.energy_rows): the tuned kernels of the
# other engines and launch recipes (Marlin, FlashInfer/CUTLASS, TensorRT-LLM, DeepGEMM, AITER) show no such
# cost on the closed-loop and MLPerf rows (docs/serving_validation.md, "A per-token MoE term").
TRITON_MOE_TOKEN_VECTOR_FLOP = 0.49e-6 * 66.9e12
# The FLOP bucket of that per-token work (cost.rules.MOE_TOKEN_VECTOR): FLOP-equivalents at the chip's datasheet
# FP32 vector rate, kept apart from real FP32 FLOP because their energy is rated at that rate itself
# (cost.economics.UnitEnergies.flop_j): the measured time says the work runs there, so it draws no more than the limit.
VECTOR_WORK_FORMAT = "vector_work"
# Device time per sampled sequence and vocabulary entry of vLLM's PyTorch top-p masking
# (vllm/v1/sample/ops/topk_topp_sampler.py apply_top_k_top_p: a top-p request sorts its whole logit row,
# softmax, cumsum, mask and scatter back; the path vLLM 0.11.1 takes on CUDA, its FlashInfer sampler being
# opt-in, VLLM_USE_FLASHINFER_SAMPLER=1). vLLM PR #40376 times that function ("PyTorch" column, top-p on
# every row): vocab 131,072: 2.318 / 6.150 ms at 128 / 512 rows, 3.832 ms / (384 x 131,072) = 76 ps per
# entry; vocab 32,768: 0.626 / 1.694 ms, 85 ps. ESTIMATE (stop 35, branch tpj35): the PR names B200 for its
# functional tests and no GPU for this table as stored; read as the H100 rate (a DRAM-bound sort would be up to
# 2.4x slower on H100; 2.6x the rate overshoots the ML.ENERGY H100 throughput, docs/serving_validation.md).
# vLLM PR #11394 measured the same path end to end: ShareGPT 47.40 -> 40.20 requests/s with top-p.
# Applied only where a run states it (validation.moe_kernels.run_calibration).
VLLM_NATIVE_TOP_P_S_PER_VOCAB_ENTRY = 3.832e-3 / (384 * 131_072)
