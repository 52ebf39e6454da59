"""The settings and the point-by-point path the sweep's array tests compare against (test_sweep_columns: static
batches; test_sweep_best: most-throughput points): one list of drawn settings and one way to turn an array path
off, so both files test the same grid the same way."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest

import inferchip as ic
from inferchip.interfaces.api import sweep_columns
from inferchip.performance import predict as predict_module
from inferchip.performance.setting import resolve as resolve_module

SETTINGS: list[tuple[tuple[str, ...], str, dict[str, Any]]] = [
    (("nvidia-h100-sxm-80gb", "amd-mi300x"), "meta-llama/Llama-3.1-8B", dict(tp=1)),
    (("nvidia-h200-sxm-141gb", "nvidia-a100-sxm-80gb"), "meta-llama/Llama-3.2-1B", dict(weights="fp8", kv="fp8")),
    (("nvidia-h100-sxm-80gb",), "mistralai/Mixtral-8x7B-v0.1", dict(count=8, tp=4, ep=2, pp=2)),
    (("nvidia-h100-sxm-80gb",), "deepseek-ai/DeepSeek-V2-Lite", dict(count=8, tp=8, attn_dp=True)),
    (("nvidia-h100-sxm-80gb", "nvidia-b200-180gb"), "google/gemma-2-9b", dict(count=2, tp=2)),
    (("amd-mi300x",), "Qwen/Qwen3-30B-A3B", dict(tp=1, weights="fp8")),
    (("nvidia-gb200-186gb",), "meta-llama/Llama-3.1-8B", dict(tp=1, weights="fp4", activations="fp4")),
    (("google-tpu-v5e",), "meta-llama/Llama-3.1-8B", dict(count=4, tp=4, padding=None)),  # no TDP
    (("nvidia-h100-sxm-80gb",), "meta-llama/Llama-3.1-8B", dict(weights="int4", kv="fp8")),
]


def by_points(segment: str, *args: Any, **kw: Any) -> pd.DataFrame:
    """The sweep with the array path ``segment`` of ``sweep_columns`` off (``static_segment``, ``best_segment``):
    those points through ``predict``, one by one."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(sweep_columns, segment, lambda *a, **k: None)
        return ic.sweep(*args, **kw)


def forget_settings() -> None:
    """Forget predict's recent settings and resolve_setting's cache: the next sweep resolves its setting afresh."""
    predict_module._RECENT.clear()
    resolve_module._SETTINGS.clear()


def hold_or_forget(chips: tuple[str, ...], model: str, kw: dict[str, Any], fresh: bool) -> None:
    """The settings both sweeps start from: none held (``fresh``: :func:`forget_settings`), or each chip's asked twice
    already (its fast layout made)."""
    if fresh:
        forget_settings()
        return
    for c in chips:
        ic.sweep(c, model, batch=[1, 1], input_tokens=8, output_tokens=8, **kw)
