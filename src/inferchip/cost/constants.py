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
# states these kernels (Calibration.moe_token_vector_flop; validation.energy.rows): the tuned kernels of the
# other engines and launch recipes (Marlin, FlashInfer/CUTLASS, TensorRT-LLM, DeepGEMM, AITER) show no such
# cost on the closed-loop and MLPerf rows (docs/serving_journal.md, "A per-token MoE term").
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
# 2.4x slower on H100; 2.6x the rate overshoots the ML.ENERGY H100 throughput, docs/serving_journal.md).
# vLLM PR #11394 measured the same path end to end: ShareGPT 47.40 -> 40.20 requests/s with top-p.
# Applied only where a run states it (validation.moe_kernels.run_calibration).
VLLM_NATIVE_TOP_P_S_PER_VOCAB_ENTRY = 3.832e-3 / (384 * 131_072)
# DRAM bytes per sampled sequence and vocabulary entry that the same top-p masking moves (its energy; its time
# is VLLM_NATIVE_TOP_P_S_PER_VOCAB_ENTRY). Counted from the code the path runs, fp32 logits (4 B), int64 sort
# indices (8 B), bool mask (1 B): vLLM apply_top_k_top_p (logits.sort; softmax; cumsum; <= 1 - p; masked_fill_;
# scatter out of place) and torch's CUDA sort of rows above 4,096 entries (aten/src/ATen/native/cuda/
# SortStable.cu: cub radix sort of the fp32 keys with their indices, a segmented sort from 128 rows, a full sort
# then a sort by row below). The sort: an index fill (8) and 4 radix passes of 8-bit digits over 32-bit keys, each
# reading and writing key and index (4 x 24 = 96); below 128 rows its row sort and gather-back add about 40 more.
# The rest: softmax (two reads, one write: 12), cumsum (8), the comparison (5), masked_fill_ (read the mask and
# the row, write the row: 9), scatter (copy 8, read index and source 12, write 4: 24), 58 in all. About 160-200 B;
# 200 taken. ESTIMATE (ours, stop 35, branch tpj-median): pass counts from the code, not profiled. Cross-check:
# 200 B x 131,072 entries in PR #40376's 9.98 us per added row is 2.6 TB/s, 78 % of H100's 3.35 TB/s, the rate of
# a DRAM-bound chain of kernels on H100 (so the table reads as an H100 timing).
VLLM_NATIVE_TOP_P_BYTES_PER_VOCAB_ENTRY = 200.0
# The same sort's time below 128 rows beyond VLLM_NATIVE_TOP_P_S_PER_VOCAB_ENTRY, per row and vocabulary entry: the
# 76 ps rate is the slope between 128 and 512 rows, but PR #40376's tables put 64 rows at 1.005 ms and 128 at
# 2.272-2.318 ms (vocabulary 131,072): 120-138 ps per row and entry, about proportional to the rows up to 128, the
# marginal 76 ps above (a line through the 128- and 512-row points would put 1.04 ms at zero rows, and 1.68 ms at
# 64). torch sorts fewer than 128 rows by a full sort of every entry then a stable sort by row, 128 and more by a
# segmented sort (aten/src/ATen/native/cuda/SortStable.cu). So the time is vocab x (76 ps x b + 59 ps x min(b, 128))
# for b running sequences: 59 ps = the 128-row point of the second table (2.272 ms: 135.4 ps per entry) less 76.1.
# ESTIMATE (ours, stop 36, branch tpj-board36): read from PR #40376's tables (GPU not named in the table as stored;
# read as H100, as VLLM_NATIVE_TOP_P_S_PER_VOCAB_ENTRY is); within 13 % of the three points
# (tests/test_native_top_p_small_batch.py). No DRAM bytes of its own: the per-row bytes above hold the sort's passes.
VLLM_NATIVE_TOP_P_SMALL_BATCH_S_PER_VOCAB_ENTRY = 59e-12
VLLM_NATIVE_TOP_P_SEGMENTED_SORT_ROWS = 128
# Output tiles (M rows x N columns of the weight GEMM, rows = tokens) that cuBLAS(Lt) picks from per shape for
# 16-bit GEMMs on Hopper (SM90), where an engine runs its unquantised linear layers through
# torch.nn.functional.linear (the scope of Calibration.gemm_split_k_16bit: engines.yaml split_k_16bit_families).
# Source: vLLM's own H100 profile, vllm-project/vllm docs/contributing/profiling.md @b0f85e66 ("CLI example",
# nsys cuda_gpu_kern_sum of a vLLM bf16 run): cuBLAS kernels sm90_xmma_gemm_bf16bf16_bf16f32_f32_tn_n_tilesize
# 128x128x64 (46.3 % of GPU time), 256x128x64 (14.8 %), 64x128x64 (12.1 %) and 64x64x64 (9.5 %). cuBLAS sees
# torch's row-major x @ W^T transposed ("tn": its M is the layer's output features, its N the tokens), so in this
# model's (tokens x features) orientation they are 128x128, 128x256, 128x64 and 64x64. Which one a shape gets is
# cuBLASLt's heuristic (cublasLtMatmulAlgoGetHeuristic ranks its candidates by estimated time), not public:
# the model takes the candidate whose waves spend the least (cost.gemm.cublas_tile_compute_s). Each entry is
# (most rows, columns, row step): row step 0, the rows' tile is the smallest power of two that holds them
# (cost.gemm.m_tile), as the Hopper profile's power-of-two tiles.
# Blackwell (SM100: B200, GB200): the 16-bit tcgen05 MMA takes its N side (the tokens, cuBLAS's N in the same "tn"
# orientation) in any multiple of 8 from 8 to 256 with a 64-row M, and of 16 with a 128-row M (NVIDIA/cutlass
# python/cutlass_library/sm100_shapes.py @30ac8288 SM100_MMA_SHAPES_16b_DENSE_1SM); cuBLAS on B200 runs such
# tiles sized to the batch: vLLM issue #35467 (github.com/vllm-project/vllm/issues/35467, B200, bf16 [272, 4096] x
# [4096, 14336]): F.linear's heuristic picks cublasLt 128x136, the fastest listed is 256x144 and vLLM's own run
# 192x144 (2 CTAs): two token tiles of 136 or 144 for 272 rows, not a 128-row tile padded to 256. So on Blackwell the
# token tile of the 64- and 128-feature kernels grows in 8-row steps up to 256 (cost.gemm.row_tile), beside the
# chip's 128 x 256 tile; split K as on Hopper. For the 128-feature kernel the 8-row step is the vLLM issue's (its
# 128x136 tile: 136 = 17 x 8), not CUTLASS's table (16 with a 128-row M): an estimate, ours, that the cuBLAS
# kernels seen hold (with 16 the closed-loop predictions are the same, mtile47).
# That F.linear on B200 has no step with the batch: NVIDIA/cutlass
# issue #2923 (B200, torch fp16 linear 2,048 x 1,024): 5.02 / 4.86 / 4.93 / 5.06 / 5.26 us at 8 / 32 / 64 / 128 /
# 256 rows.
# CDNA (MI300X / MI325X: amd-cdna3; MI355X: amd-cdna4), where vLLM runs its 16-bit linears through F.linear =
# hipBLASLt above 4 tokens (rocm_unquantized_gemm_impl, vllm/model_executor/layers/utils.py) and SGLang / ATOM
# through aiter's tuned GEMM (tgemm): aiter's tuner output ROCm/aiter aiter/configs/bf16_tuned_gemm.csv
# @c5ff88ed8b34f61f06e45826cce718bc9624c82e (80 CUs, bf16, N 256 K 5,120, M 80-256) picks its asm kernels
# bf16gemm_fp32bf16_tn_48x64 and _64x64 with split K 10 or 5: 80 rows as two 48-row tiles (split 10), 128 as two 64-row
# tiles (10), 192 as four 48-row (5), 220 and 256 as four 64-row (5). So the token side grows in 16-row steps (the
# MFMA's 16-row block) up to 64 rows, and K is split into as many slices as the idle CUs take, at most K / 512
# (cost.gemm.split_slices gives the file's tile and split at 80, 128, 220 and 256 rows; at 192 three 64-row tiles
# split 6, the same 192 padded rows; tests/test_cdna_row_tile.py). Candidates: the chip's 256 x 256 tile and
# 64 x 64 in 16-row steps; CDNA4 the same (estimate, inferchip: aiter's gfx950 bf16 rows were not read). No sourced
# tile is wider than 64 columns at decode sizes in that file; its FP8 row-wise tuner output on MI355X
# (a8w8_tuned_gemm.csv, tools/kernel_rates/aiter_rowwise_gemm_check.py) runs 16-128-row blocks below M 256.
CUBLASLT_16BIT_TILES: dict[str, tuple[tuple[float, float, float], ...]] = {
    "nvidia-hopper": ((128.0, 256.0, 0.0), (128.0, 128.0, 0.0), (128.0, 64.0, 0.0), (64.0, 64.0, 0.0)),
    "nvidia-blackwell": ((128.0, 256.0, 0.0), (256.0, 64.0, 8.0), (256.0, 128.0, 8.0)),
    "amd-cdna3": ((256.0, 256.0, 0.0), (64.0, 64.0, 16.0)),
    "amd-cdna4": ((256.0, 256.0, 0.0), (64.0, 64.0, 16.0)),
}

# Block-scaled 4-bit GEMMs (NVFP4/MXFP4 weights and activations: the tensor cores' mxf4 MMA) by the chip file's
# architecture: (mainloop fraction of the 4-bit peak, seconds per output tile outside the mainloop). A 4-bit tile's
# MMA mainloop is half an FP8 one's, so the tile's time outside it (pipeline fill, scale-factor loads, the
# accumulator drained and stored) weighs twice as much: the attainable rate rises with the reduction depth K.
# Both numbers are solved from two published B200 rates under this model's own tile and wave count (128 x 256 output
# tile per SM, 148 at once: cost.gemm): vLLM PR #20646 "Before" (2025-07, CUTLASS NVFP4, no activation quantisation),
# Llama-3.1-8B's N 6,144 K 4,096 at M 16,384: 3,904 TFLOP/s (21 waves, 10.06 us each); DeepGEMM PR #348 (cublasTest
# 13.3, MXFP4 x MXFP4, B200), 8,192^3: 5,239 TFLOP/s (14 waves, 14.99 us each): 1.204 ns a unit of K a wave, 0.895 of
# the 1.078 ns the 9 PFLOP/s peak takes, and 5.13 us a tile besides. Two kernels of two libraries: an estimate
# (inferchip) of the engines' NVFP4 GEMMs of 2025; SGLang PR #22091's later CUTLASS NVFP4 (2026, B200) is 13-40 %
# faster than this at its large shapes (docs/serving_journal.md, fp4step46). The time outside the mainloop is taken
# in proportion to the tile's rows (a skinny decode tile drains a smaller accumulator). Blackwell (SM100: B200, GB200)
# only: Blackwell Ultra's (SM103) 4-bit rate is not measured here. Dense weight GEMMs only (cost.rules
# _matrix_gemm_table: projections, MLPs, the LM head): the two rates are dense kernels', and a grouped MoE expert GEMM
# (cost.rules' grouped compute) is another kernel class with no such figure here, so it keeps gemm_compute_fraction.
BLOCK_SCALED_4BIT_GEMM: dict[str, tuple[float, float]] = {
    "blackwell": (0.895, 5.13e-6),
}

# Dense 16-bit tensor-core FLOP per softmax exponential, each unit at its own peak, by the chip file's architecture
# (spec.chip.ChipSpec.architecture; a user's chip file that names one gets its cap): a flash attention
# forward computes one exponential per query-key pair and head on the special-function units (MUFU.EX2), 16 per
# clock per SM on Hopper and on Blackwell alike (NVIDIA CUDA C++ Programming Guide, "Arithmetic Instructions"
# throughput table, compute capabilities 9.0 and 10.0; FlashAttention-4, Zadouri, Hoehnerbach, Shah, Liu, Thakkar,
# Dao 2026, research.colfax-intl.com/flashattention-4-algorithm-and-kernel-pipelining-co-design-for-asymmetric-
# hardware-scaling: from H100 to B200 "BF16 tensor core throughput increases from 1 to 2.25 PFLOPs, while both the
# SFU count and shared memory bandwidth remains unchanged", the forward pass bottlenecked by the exponential).
# Dense 16-bit tensor-core FLOP per clock and SM: Hopper 4,096 (H100 SXM5 989.4 TFLOP/s over 132 SMs at 1.83 GHz,
# NVIDIA H100 datasheet), Blackwell 8,192 (SemiAnalysisAI/microbench-blackwell umma_throughput/full.csv: E4M3 UMMA
# M128 N256 16,345 FLOP/cycle/SM, the 16-bit rate half of it). So 4,096 / 16 = 256 and 8,192 / 16 = 512: a head of
# d_qk + d_v = 128 (head dimension 64, 256 FLOP per pair) keeps Hopper's exponentials exactly as busy as its
# tensor cores and caps Blackwell's prefill at half its 16-bit peak. Blackwell Ultra (B300, GB300) doubles the
# SFU throughput of Blackwell (NVIDIA technical blog "Making Softmax More Efficient with NVIDIA Blackwell Ultra",
# developer.nvidia.com/blog/making-softmax-more-efficient-with-nvidia-blackwell-ultra): 8,192 / 32 = 256.
# The ratio takes the chip's 16-bit peak to be its architecture's full per-SM MMA rate (a part with cut tensor
# cores would need its own). Read by cost.kernels.attention.prefill_exp_cap_flop_per_s; an architecture without an
# entry (Ampere, Ada: not read; Rubin: not published), a chip file naming none, other vendors: no such cap.
MMA_FLOP_PER_EXP_16BIT: dict[str, float] = {
    "hopper": 4096.0 / 16.0,
    "blackwell": 8192.0 / 16.0,
    "blackwell-ultra": 8192.0 / 32.0,
}
# The largest silicon interposer of TSMC's CoWoS packages, in multiples of the reticle field (spec.bounds.RETICLE_MM2,
# 858 mm2; TSMC's own multiple is of a slightly smaller field, ~830 mm2, so these areas are upper bounds), by the first
# year TSMC offers it: (year, reticles, source). A package's compute dies and HBM stacks that exceed the limit of its
# year fit no CoWoS interposer then (package.stacks.interposer_check flags it). All are TSMC's statements AS REPORTED
# (TSMC's symposium slides were not read): CoWoS-S 3.3x: TSMC's 2024 North America Technology Symposium roadmap (up to
# eight HBM stacks in a 3.3x budget), reported by epium.com ("TSMC Reveals Ambitious Roadmap for Wafer-Scale and
# Advanced Packaging") and copperroad.news ("CoWoS-S max interposer size 3.3x reticle (~2,700 mm2)", citing TSMC
# 3DFabric). CoWoS-L: 3.5x through 2025 (TSMC's Kevin Zhang at the 2025 North America Technology Symposium, "today's
# 3.5X reticle size", Tom's Hardware via TrendForce News 2025-05-02); 5.5x from 2026 (TSMC's 2024 symposium roadmap:
# 5.5x with up to twelve HBM3E/HBM4 stacks, reported by epium.com; TrendForce 2026-04 via copperroad.news, "5.5x
# now"); 9.5x from 2027 (TSMC's press release of its 2025 North America Technology Symposium, "9.5 reticle size
# CoWoS" in volume by 2027 with 12 or more HBM stacks, reported by TrendForce News 2025-05-02).
COWOS_INTERPOSER_RETICLES: dict[str, tuple[tuple[int, float], ...]] = {
    "cowos-s": ((0, 3.3),),
    "cowos-l": ((0, 3.5), (2026, 5.5), (2027, 9.5)),
}
# Footprint of one HBM stack on the interposer (mm2), by memory level (cost.energy.memory_level): HBM2/HBM2E 7.75 x
# 11.87 mm = 92.0 mm2 (the JEDEC HBM2 known-good-stack footprint, as reported); HBM3/HBM3E 11 x 11 mm = 121 mm2
# (Micron HBM3E product brief, as reported); HBM4 ESTIMATE (inferchip): at least HBM3E's 121 mm2 (a stack with twice
# the data pins is not smaller; JEDEC JESD270-4's footprint not read). A level not listed takes the smallest, 92 mm2:
# the package area is then a lower bound, and a flag from it is certain.
HBM_STACK_FOOTPRINT_MM2: dict[str, float] = {
    "hbm2": 7.75 * 11.87, "hbm2e": 7.75 * 11.87, "hbm3": 11.0 * 11.0, "hbm3e": 11.0 * 11.0, "hbm4": 11.0 * 11.0,
}
