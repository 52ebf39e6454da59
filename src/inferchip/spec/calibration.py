"""The few calibration parameters of the performance model, each physical in meaning.

Defaults are engineering estimates (sources in each field's description). The package
ships a calibration fitted on the published measurements (``catalog/calibration.yaml``,
written by ``inferchip calibrate``, read by :mod:`inferchip.catalog.calibration_file`);
every command uses it unless told ``--calibration none``. The cost model takes a
:class:`Calibration` as an argument and never reads the file.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class Calibration(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)  # strict: YAML `true` is no number

    gemm_compute_fraction: float = Field(
        0.80, gt=0, le=1,
        description="Attainable fraction of dense peak for a large GEMM after tile/wave quantisation. "
        "Measured 0.87-0.93 on A100 FP16 (LLMCompass ae/figure5 data); lower for FP8/FP4 (estimate).",
    )
    attention_compute_fraction: float = Field(
        0.55, gt=0, le=1,
        description="Attainable fraction of peak in decode attention (a query or a few per sequence against its "
        "KV cache; absorbed MLA: FlashMLA 660 of 989 TFLOPS on H800 at its compute-bound end, DeepSeek FlashMLA "
        "README). Prefill attention is its own kernel class: prefill_attention_compute_fraction.",
    )
    prefill_attention_compute_fraction: float = Field(
        0.55, gt=0, le=1,
        description="Attainable fraction of peak in fused causal prefill attention (flash attention; MLA prefill "
        "non-absorbed, head dims 192/128). Sourced, not fitted: FlashAttention-3 (Shah et al. 2024, "
        "arXiv:2407.08608) BF16 up to 740 of 989 TFLOPS on H100 (0.75), FP8 about 1.2 of 1.98 PFLOPS (0.61); "
        "FA3 causal head dim 128 at 1k-16k tokens 517-621 TFLOPS (0.52-0.63, pytorch/benchmark #2391); on B200 "
        "BF16 FlashAttention-4 reaches 1613 of 2250 TFLOPS (0.71) and is 1.3x cuDNN 9.13 (0.55), the kernels "
        "the engines ran (FA4 paper, Together AI blog 2026-03). 0.55: the engines' kernels at serving prompt "
        "lengths, the low end of the long-prompt figures. Heads of 64 dimensions or fewer reach 475/616 of it "
        "(cost.kernels.attention.prefill_head_rate).",
    )
    memory_bandwidth_fraction: float = Field(
        0.80, gt=0, le=1,
        description="Attainable fraction of peak DRAM bandwidth when streaming weights/KV: 0.53-0.80 (A100 decode "
        "GEMMs, LLMCompass data).",
    )
    link_bandwidth_fraction: float = Field(
        0.70, gt=0, le=1,
        description="NCCL bus-bandwidth over link peak: 0.65 (Calculon A100 NVLink), ~0.70 (LLMCompass all-reduce "
        "data).",
    )
    kernel_overhead_scale: float = Field(
        1.0, gt=0, le=10,
        description="Multiplier on the family's per-kernel overhead (launch, prologue, tail).",
    )
    step_overhead_s: float = Field(
        0.002, ge=0, le=0.1,
        description="Host time per engine iteration not overlapped with the device (scheduling, sampling, "
        "input prep); vLLM v0.6 profiling found CPU overhead dominant for small models.",
    )
    sequence_overhead_s: float = Field(
        0.0, ge=0, le=1e-4,
        description="Host time per running sequence per engine iteration not overlapped with the device "
        "(per-sequence scheduling, input preparation, sampling, output processing). vLLM 0.5: about 20 ms per "
        "step at 200 sequences, ~100 us each (vllm-project/vllm#6801); 0 = none (the default; not in "
        "physical_parameter_names, so not fitted unless asked: docs/validation.md, calibration section).",
    )
    sequence_dram_bytes: float = Field(
        0.0, ge=0, le=1e10,
        description="DRAM bytes per running sequence per engine iteration that the device moves within "
        "sequence_overhead_s (no time of its own: the time is sequence_overhead_s; the bytes carry the energy). "
        "0 (the default): none. vLLM's native top-p sampler: the vocabulary times "
        "cost.constants.VLLM_NATIVE_TOP_P_BYTES_PER_VOCAB_ENTRY, set for the runs that state it "
        "(validation.moe_kernels.run_calibration). Not fitted.",
    )
    moe_token_vector_flop: float = Field(
        0.0, ge=0, le=1e9,
        description="Work per token and MoE layer of the run's expert kernels beyond their MMA and weight stream, "
        "in vector-unit FLOP (paid at the chip's vector rate). 0 (the default) for tuned kernels; vLLM's Triton "
        "MoE kernels at default configs: cost.constants.TRITON_MOE_TOKEN_VECTOR_FLOP (0.49 us per token and layer "
        "on H100, vLLM PR #39902), set for the runs that state them (validation.energy.rows) and for a user's "
        "--engine prediction whose expert kernel is one (catalog/engines.yaml moe_kernels token_vector_work, "
        "performance.moe_kernel). Not fitted.",
    )
    moe_mma_peak_fraction: float = Field(
        1.0, gt=0, le=1,
        description="Share of the chip's tensor-core peak that the run's expert (grouped-GEMM) kernels can issue, "
        "before gemm_compute_fraction. 1 (the default) for kernels written for the chip; 2/3 for Ampere-style "
        "mma.sync kernels on Hopper (Marlin: FlashAttention-3, arXiv:2407.08608, section 2: mma.sync reaches about "
        "2/3 of H100's tensor-core peak, WGMMA the rest), set for the runs whose launch recipe names them "
        "(spec.engine.RecipeMoeKernel). Not fitted.",
    )
    moe_stream_cap_bytes_per_s: float = Field(
        float("inf"), gt=0,
        description="Most bytes/s the run's expert (grouped-GEMM) kernels read, whatever the chip's DRAM stream: "
        "inf (the default) for kernels bound by DRAM; for SM-issue-bound kernels (vLLM's Marlin MoE on Hopper) the "
        "chip's SM count x the recipe entry's per-SM rate (spec.engine.RecipeMoeKernel.read_gb_per_s_per_sm; "
        "cost.gemm.expert_stream_cap_bytes_per_s), resolved once per engine and chip. Not fitted.",
    )
    moe_pad_hidden_to: int = Field(
        1, ge=1, le=4096,
        description="Multiple the run's expert kernel rounds each routed expert's hidden width up to (zeros it "
        "multiplies and reads: mapping.sharding.pad_experts, applied by performance.mapped.map_model). 1 (the "
        "default): the checkpoint's width. Set for the runs that state their kernels "
        "(validation.moe_kernels.run_calibration) and the closed-loop rows whose launch recipe picks a padding expert "
        "kernel (spec.engine.RecipeMoeKernel, validation.closed_loop_rows). Not fitted.",
    )
    moe_pad_intermediate_to: int = Field(
        1, ge=1, le=4096,
        description="Multiple the run's expert kernel rounds each routed expert's per-rank intermediate width up to "
        "(as moe_pad_hidden_to). vLLM's Triton matmul_ogs MXFP4 path on CUDA: its catalog/engines.yaml "
        "moe_kernels entry. Not fitted.",
    )
    moe_activations: str | None = Field(
        None,
        description="The activation format the run's expert kernel takes the experts' input in, where its engine's "
        "catalog/engines.yaml moe_kernels entry states one (vLLM on Blackwell: MXFP4 x BF16 by default, MXFP4 x MXFP8 "
        "under VLLM_USE_FLASHINFER_MOE_MXFP4_MXFP8=1): the activations' default of a 4-bit float MoE setting "
        "(performance.setting.format_choice); None (the default): the format rule's. Not fitted.",
    )
    prefill_attention_follows_projections: bool = Field(
        False,
        description="The run's prefill attention computes in the attention projections' format where those are "
        "16-bit, whatever the activations and KV (TensorRT-LLM runs FP8 context FMHA only for quantised attention: "
        "spec.engine.EngineSpec.context_attention_follows_projections), set for the runs whose engine states it. "
        "False (the default): FP8 where the activations and KV are FP8. Not fitted.",
    )
    mla_prefill_attention_16bit: bool = Field(
        False,
        description="An MLA model's prefill attention computes in bf16 even where the KV and activations are FP8: "
        "the engine's MLA extend path runs a 16-bit flash-attention kernel on the chip's family "
        "(spec.engine.EngineSpec.mla_prefill_16bit_families, catalog.engines.family_kernel_calibration). Not fitted.",
    )
    mla_prefill_attention_fp8_kv: bool = Field(
        False,
        description="An MLA model's prefill attention computes in FP8 wherever the KV cache is FP8, whatever the "
        "activations: the context worker's engine build quantises Q, K and V to FP8 on the chip's family "
        "(spec.engine.workers.WorkerScheduling.mla_context_fp8_families, validation.closed_loop_rows). Not fitted.",
    )
    dense_gemm_cap_flop_per_s: float | None = Field(
        None, gt=0,
        description="Most FLOP/s per chip the run's dense (non-expert) weight GEMMs in the checkpoint's weight format "
        "reach, whatever their size: the plateau of the kernel the engine build runs for them "
        "(spec.engine.RecipeKernelEfficiency.dense_gemm_flop_per_s, catalog.engines.engine_calibration); attention "
        "projections kept in another format and the LM head run other kernels (cost.rules.gemm_takes_plateau). None "
        "(the default): the calibrated fraction of the peak. Not fitted.",
    )
    expert_gemm_cap_flop_per_s: float | None = Field(
        None, gt=0,
        description="Most useful FLOP/s per chip the run's routed-expert grouped GEMMs reach, whatever their size: the "
        "plateau of the fused-MoE kernel the engine build runs (spec.engine.RecipeKernelEfficiency."
        "expert_gemm_flop_per_s, catalog.engines.engine_calibration). None (the default): the calibrated fraction "
        "of the peak. Not fitted.",
    )
    gemm_split_k_16bit: bool = Field(
        False,
        description="The run's 16-bit (unquantised) weight GEMMs may split K across idle units where that is "
        "faster (cost.gemm.split_k_slices_max, split_k_compute_s): their library is cuBLASLt under "
        "torch.nn.functional.linear, whose heuristic returns split-K algorithms. Set from the run's engine and chip "
        "family (spec.engine.EngineSpec.split_k_16bit_families, catalog.engines.family_kernel_calibration). The same "
        "fact (cuBLASLt runs them) also lets those GEMMs take the output tile cuBLASLt picks per shape where the "
        "chip's family lists its candidates (cost.constants.CUBLASLT_16BIT_TILES, CostContext.cublas_tiles, "
        "cost.gemm.cublas_tile_compute_s: Hopper, Blackwell). False (the default): every GEMM keeps the chip's one "
        "tile and its full-wave count. Not fitted.",
    )
    moe_imbalance: float = Field(
        1.25, ge=1, le=4,
        description="Most-loaded expert over mean load under expert routing (straggler factor; 1.2-1.8 reported).",
    )
    expert_popularity_log_sd: float = Field(
        1.0, ge=0, le=3,
        description="Log standard deviation of the experts' routing popularity within a layer (log-normal; "
        "cost.gemm.experts_reached): how many distinct experts a step's tokens reach, hence read. 0: uniform "
        "routing. Not fitted: an estimate, bracketed by AIConfigurator's default MoE workload (ai-dynamo/"
        "aiconfigurator collector/helper.py power_law_logits_v3, power law alpha 1.2 on [1, 0.8 m] per expert: "
        "log spread 0.73 / 0.93 / 1.12 / 1.31 at 16 / 32 / 64 / 128 tokens); docs/serving_journal.md, "
        "branch vllm-decode38.",
    )
    memory_utilization_fraction: float = Field(
        0.92, gt=0, le=1,
        description="Share of usable device memory the serving engine may allocate (vLLM gpu_memory_utilization "
        "0.9; TRT-LLM kv fraction 0.95 of free).",
    )

    fitted: bool = False
    fitted_on: str | None = None
    fit_summary: dict[str, float] = Field(default_factory=dict)

    @classmethod
    def pinned_elsewhere(cls) -> dict[str, str]:
        """Physical parameters that rows outside ``inferchip calibrate``'s pin, with why: where calibrate's rows
        leave one flat, calibrate holds it at the shipped calibration's value (``validation.calibrate.identified_fit``).
        ``kernel_overhead_scale``: the closed-loop rows (``inferencemax_cases.csv``, 4,776) read it but not
        ``step_overhead_s`` (each engine's host time per step replaces it), and the engines' host times were fitted
        against the shipped value (``tools/closed_loop/fit_engines.py``); moving it along the MLPerf rows' flat
        kernel / step-overhead direction (0.99 -> 0.72) worsens five of six closed-loop figures (branch refit40)."""
        return {"kernel_overhead_scale": "pinned by the closed-loop rows (inferencemax_cases.csv), which read it but "
                "not step_overhead_s: held at the shipped calibration's value"}

    @classmethod
    def physical_parameter_names(cls) -> list[str]:
        return [
            "gemm_compute_fraction", "attention_compute_fraction", "memory_bandwidth_fraction",
            "link_bandwidth_fraction", "kernel_overhead_scale", "step_overhead_s", "moe_imbalance",
        ]


class DatasetLengths(BaseModel):
    """Mean input lengths of the MLPerf data sets, which validation's MLPerf rows need (the
    rows give none). Fitted with the calibration and stored in the same file (its
    ``mlperf_mean_input_tokens`` mapping), but no part of the performance model."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)  # strict: YAML `true` is no number

    mean_input_tokens: dict[str, float] = Field(
        default_factory=lambda: {"llama2-70b": 700.0, "llama3.1-405b": 9000.0, "llama3.1-8b": 780.0,
                                 "mixtral-8x7b": 650.0, "deepseek-r1": 800.0, "gptj": 780.0,
                                 "lm-arena-chat": 400.0, "gpqa": 260.0},
        description="Mean input length of each data set (MLPerf's and the serving data sets of "
        "validation.cases.SERVING_DATASETS; not published in the sources read): one unknown per data set, "
        "fitted or assumed, never per row. The serving sets' defaults: lm-arena-chat an estimate (a chat turn "
        "with its history), gpqa the published prompt statistics (validation.cases.SERVING_DATASETS).",
    )
