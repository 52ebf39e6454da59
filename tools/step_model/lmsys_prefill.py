"""The published prefill check of docs/serving_validation.md: LMSYS, "Deploying DeepSeek with PD Disaggregation
and Large-scale Expert Parallelism on 96 H100 GPUs" (2025-05-05): prefill on 4 nodes of 8 H100, attention data
parallel and expert parallel over 32 GPUs, 2,000-token prompts, 16,384 tokens per GPU per step; measured
52.3k input tokens/s per node (with two-batch overlap of compute and communication, which the model's serial
step does not have). Prints the step model's figure (SGLang engine calibration, FP8 weights, activations, KV).

    python tools/step_model/lmsys_prefill.py [--calibration X.yaml]
"""

from __future__ import annotations

import argparse

MEASURED_TOKENS_PER_S_PER_NODE = 52.3e3
GPUS, GPUS_PER_NODE, TOKENS_PER_GPU, PROMPT = 32, 8, 16384, 2000


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--calibration", default=None, help="a calibration YAML (default: the shipped one)")
    a = ap.parse_args()
    from inferchip.catalog.calibration_file import load_calibration
    from inferchip.catalog.chips import get_chip_params
    from inferchip.catalog.engines import engine_calibration, get_engine
    from inferchip.catalog.models import load_model
    from inferchip.cost.step import compile_step
    from inferchip.mapping.layout import Layout
    from inferchip.mapping.memory_fit import Formats
    from inferchip.mapping.sharding import shard

    cal = load_calibration() if a.calibration is None else load_calibration(a.calibration)
    cal = engine_calibration(cal, get_engine("sglang"))
    sm = shard(load_model("deepseek-ai/DeepSeek-V3"), Layout(tp=GPUS, ep=GPUS, attn_dp=True))
    plan = compile_step(sm, get_chip_params("nvidia-h100-sxm-80gb"), Formats("fp8", "fp8", "fp8"), cal)
    pairs = TOKENS_PER_GPU * (PROMPT + 1) / 2  # causal pairs of whole 2,000-token prompts
    c = plan.cost(float(TOKENS_PER_GPU * GPUS), 0.0, 0.0, float(pairs * GPUS))
    t = float(c.time_s)
    per_node = GPUS_PER_NODE * TOKENS_PER_GPU / t
    parts = ", ".join(f"{k} {float(v.time_s) * 1e3:.0f}" for k, v in c.classes.items() if float(v.time_s) > 0)
    print(f"step {t * 1e3:.0f} ms ({parts} ms); {per_node / 1e3:.1f}k input tokens/s per node, measured "
          f"{MEASURED_TOKENS_PER_S_PER_NODE / 1e3:.1f}k ({per_node / MEASURED_TOKENS_PER_S_PER_NODE - 1:+.1%})")


if __name__ == "__main__":
    main()
