"""Compare ``inferchip predict --format json`` of two installs on diverse settings.

Usage: ``python benchmarks/compare_predict.py OLD_INFERCHIP NEW_INFERCHIP`` (paths to the
``inferchip`` executables, e.g. main's and a branch's ``.venv/bin/inferchip``). Prints the
largest relative difference of any number in the outputs, per setting and overall.
"""

from __future__ import annotations

import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from typing import Any

SETTINGS = [
    "--chip nvidia-h100-sxm-80gb --count 8 --model meta-llama/Llama-2-70b-chat-hf --weights fp8 --batch 32",
    "--chip nvidia-h100-sxm-80gb --count 8 --model deepseek-ai/DeepSeek-V2-Lite --attn-dp --max-throughput",
    "--chip nvidia-h100-sxm-80gb --count 8 --model deepseek-ai/DeepSeek-V2-Lite --no-attn-dp --batch 32",
    "--chip nvidia-h100-sxm-80gb --count 8 --model openai/gpt-oss-120b --weights mxfp4 --activations bf16 --batch 32",
    "--chip nvidia-h100-sxm-80gb --count 2 --model google/gemma-2-9b --tp 1 --pp 2 --batch 32",
    "--chip nvidia-b200-180gb --count 4 --model meta-llama/Llama-3.1-70B --weights fp4 --tp 4 --batch 32",
    "--chip nvidia-h100-sxm-80gb --count 1 --model meta-llama/Llama-3.1-8B --weights int4 --activations bf16 "
    "--batch 32",
    "--chip nvidia-h100-sxm-80gb --count 8 --model mistralai/Mixtral-8x7B-v0.1 --tp 4 --ep 2 --pp 2 --batch 32",
    "--chip nvidia-h100-sxm-80gb --count 8 --model deepseek-ai/DeepSeek-V3 --weights fp4 --activations fp8 --tp 8 "
    "--ep 8 --attn-dp --batch 64",
    "--chip nvidia-a100-sxm-80gb --count 2 --model Qwen/Qwen3-30B-A3B --max-throughput",
    "--chip nvidia-h100-sxm-80gb --count 1 --model google/gemma-3-27b-it --weights fp8 --input-tokens 8192 --batch 32",
    "--chip nvidia-h100-sxm-80gb --count 8 --model meta-llama/Llama-4-Scout-17B-16E-Instruct --weights fp8 "
    "--max-throughput --max-tpot-ms 30",
]


def run(exe: str, args: str) -> Any:
    out = subprocess.run([exe, "predict", *args.split(), "--format", "json"], capture_output=True, text=True)
    if out.returncode != 0:
        return {"error": (out.stderr or out.stdout).strip()[-300:]}
    return json.loads(out.stdout)


def max_rel(a: Any, b: Any, path: str = "") -> tuple[float, str]:
    if isinstance(a, dict) and isinstance(b, dict):
        if set(a) != set(b):
            return float("inf"), f"{path}: keys differ {sorted(set(a) ^ set(b))}"
        return max((max_rel(a[k], b[k], f"{path}.{k}") for k in a), default=(0.0, path))
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return float("inf"), f"{path}: lengths differ"
        return max((max_rel(x, y, f"{path}[{i}]") for i, (x, y) in enumerate(zip(a, b, strict=False))),
                   default=(0.0, path))
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        if a == b or (a != a and b != b):
            return 0.0, path
        return abs(a - b) / max(abs(a), abs(b)), path
    return (0.0, path) if a == b else (float("inf"), f"{path}: {a!r} != {b!r}")


def main(old: str, new: str) -> None:
    with ThreadPoolExecutor(2) as ex:
        olds = list(ex.map(lambda s: run(old, s), SETTINGS))
        news = list(ex.map(lambda s: run(new, s), SETTINGS))
    worst = 0.0
    for s, a, b in zip(SETTINGS, olds, news, strict=False):
        d, where = max_rel(a, b)
        worst = max(worst, d)
        flag = " ERROR" if "error" in a or "error" in b else ""
        print(f"{d:.3e}  {s}{flag}  {where if d else ''}")
    print(f"max relative difference: {worst:.3e}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
