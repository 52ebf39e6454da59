"""`--engine` on predict, serve and curve resolves the engine's 16-bit GEMM library on the chip's family once, as
the validated closed-loop and energy rows do (split_k_16bit_families): vLLM splits K on Hopper and Blackwell (stop 47),
not on CDNA (ROCm: hipBLASLt)."""
from inferchip.catalog.engines import get_engine
from inferchip.performance.setting.engine import engine_setting


def test_vllm_splits_k_on_hopper_blackwell_and_cdna_only():
    cal_h100, spec = engine_setting("vllm", None, "nvidia-h100-sxm-80gb")
    cal_b200, _ = engine_setting("vllm", None, "nvidia-b200-180gb")
    cal_mi300x, _ = engine_setting("vllm", None, "amd-mi300x")
    cal_a100, _ = engine_setting("vllm", None, "nvidia-a100-sxm-80gb")
    assert spec.splits_16bit_k_on("nvidia-hopper") and spec.splits_16bit_k_on("nvidia-blackwell")
    assert cal_h100.gemm_split_k_16bit is True and cal_b200.gemm_split_k_16bit is True
    assert cal_mi300x.gemm_split_k_16bit is True
    assert cal_a100.gemm_split_k_16bit is False


def test_engine_without_families_never_splits():
    trt = get_engine("trtllm")
    assert not trt.split_k_16bit_families
    cal, _ = engine_setting("trtllm", None, "nvidia-h100-sxm-80gb")
    assert cal.gemm_split_k_16bit is False


def test_split_k_moves_an_h100_vllm_prediction_only_where_it_applies():
    from inferchip.performance.predict import predict

    kw = dict(count=1, weights="bf16", batch=64, input_tokens=1024, output_tokens=256)
    cal_split, _ = engine_setting("vllm", None, "nvidia-h100-sxm-80gb")
    cal_full = cal_split.model_copy(update={"gemm_split_k_16bit": False})
    t_split = predict("nvidia-h100-sxm-80gb", "meta-llama/Llama-3.1-8B", calibration=cal_split, **kw)
    t_full = predict("nvidia-h100-sxm-80gb", "meta-llama/Llama-3.1-8B", calibration=cal_full, **kw)
    assert t_split.tpot_s < t_full.tpot_s  # the full-wave charge of small-M 16-bit GEMMs is what split-K removes
