"""What each candidate MLA prefill kernel path costs one prompt, in GPU-seconds, against the prefill excess a
saturated pool measures (docs/serving_journal.md, "MI355X SGLang MLA prefill attention", stop 37).

The paths, for a prompt of ``p`` tokens with no prefix (one causal block of ``p (p + 1) / 2`` query-key pairs):

* the MHA form SGLang's aiter backend runs for a non-speculative extend (deepseek_v2 ``handle_attention_aiter``):
  ``heads`` heads of ``qk_nope + qk_rope`` query/key and ``v`` value dims, ``2 heads (qk + v)`` FLOP a pair;
* the absorbed (MLA) form over the latent (one stored version takes it with DP attention and any prefix):
  ``kv_lora_rank + qk_rope`` query/key dims and ``kv_lora_rank`` value dims;
* the aiter backend's gather branch (sgl-project/sglang @25b38cc2 ``AiterAttnBackend.forward_extend``), taken by a
  batch with any prefix (a chunked continuation); a stored fork without the ``extend_no_prefix`` test takes it for
  every batch, its prefill ``kv_indices`` spanning each whole sequence: the KV up-projection ``kv_b_proj`` again
  over every token, ``2 kv_lora_rank heads (qk_nope + v)`` FLOP a token and layer -- linear in the prompt.

Each is priced at a stated rate (TFLOP/s, with its source on the command line) and compared with the measured
excess (``tools/step_model/pd_prefill_excess.py``): the share of the excess it explains, and the rate the
attention alone would need to carry all of it.

    python tools/step_model/mla_prefill_paths.py [--prompt 7373] [--excess-gpu-s 1.0] [--model-tflops 2768]
        [--rate NAME=TFLOPS ...]

Model dimensions default to DeepSeek-R1 (huggingface.co/deepseek-ai/DeepSeek-R1-0528 config.json:
num_hidden_layers 61, num_attention_heads 128, qk_nope_head_dim 128, qk_rope_head_dim 64, v_head_dim 128,
kv_lora_rank 512).
"""

from __future__ import annotations

import argparse
from typing import NamedTuple


class MlaDims(NamedTuple):
    """An MLA model's attention dimensions (all heads; a rank holding every head runs all of them)."""

    layers: int = 61
    heads: int = 128
    qk_nope: int = 128
    qk_rope: int = 64
    v: int = 128
    kv_lora_rank: int = 512


def causal_pairs(prompt_tokens: int) -> int:
    """Query-key pairs of one causal block of ``prompt_tokens`` tokens with no prefix."""
    if prompt_tokens <= 0:
        raise ValueError(f"prompt_tokens must be positive, got {prompt_tokens}")
    return prompt_tokens * (prompt_tokens + 1) // 2


def mha_attention_flop(prompt_tokens: int, d: MlaDims = MlaDims()) -> float:
    """FLOP of the MHA (non-absorbed) prefill attention of one prompt: scores and values over every pair."""
    return 2.0 * d.heads * (d.qk_nope + d.qk_rope + d.v) * causal_pairs(prompt_tokens) * d.layers


def absorbed_attention_flop(prompt_tokens: int, d: MlaDims = MlaDims()) -> float:
    """FLOP of the absorbed (latent) prefill attention of one prompt: keys of ``kv_lora_rank + qk_rope`` dims,
    values of ``kv_lora_rank`` dims (the Q and output absorptions, linear in the prompt, not counted)."""
    return 2.0 * d.heads * (2 * d.kv_lora_rank + d.qk_rope) * causal_pairs(prompt_tokens) * d.layers


def kv_up_projection_flop(tokens: int, d: MlaDims = MlaDims()) -> float:
    """FLOP of ``kv_b_proj`` over ``tokens`` latent rows in every layer (the gather branch's recompute)."""
    if tokens < 0:
        raise ValueError(f"tokens must be non-negative, got {tokens}")
    return 2.0 * d.kv_lora_rank * d.heads * (d.qk_nope + d.v) * tokens * d.layers


def gpu_s(flop: float, tflops: float) -> float:
    """Seconds of one GPU running ``flop`` at ``tflops`` TFLOP/s."""
    if tflops <= 0 or flop < 0:
        raise ValueError(f"a rate must be positive and FLOP non-negative, got {tflops} TFLOP/s, {flop} FLOP")
    return flop / (tflops * 1e12)


def share_of_excess(path_gpu_s: float, model_gpu_s: float, excess_gpu_s: float) -> float:
    """Fraction of the measured ``excess_gpu_s`` a path costing ``path_gpu_s`` (where the model has
    ``model_gpu_s``) explains."""
    if excess_gpu_s <= 0:
        raise ValueError(f"excess_gpu_s must be positive, got {excess_gpu_s}")
    return (path_gpu_s - model_gpu_s) / excess_gpu_s


def needed_tflops(flop: float, model_gpu_s: float, excess_gpu_s: float) -> float:
    """The rate at which ``flop`` of attention would take the model's time plus the whole excess."""
    return flop / (model_gpu_s + excess_gpu_s) / 1e12


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--prompt", type=int, default=7373, help="prompt tokens (8k rows: 0.9 x 8192)")
    ap.add_argument("--excess-gpu-s", type=float, default=1.0, help="measured excess per prompt (pd_prefill_excess)")
    ap.add_argument("--model-tflops", type=float, default=2768.0,
                    help="the model's prefill attention rate (0.55 x MI355X FP8 dense 5,033 TFLOP/s)")
    ap.add_argument("--gemm-tflops", type=float, default=2768.0, help="rate of the kv_b_proj recompute GEMM")
    ap.add_argument("--rate", action="append", default=[], metavar="NAME=TFLOPS",
                    help="a kernel rate to price the MHA and absorbed forms at (repeatable)")
    a = ap.parse_args()
    mha = mha_attention_flop(a.prompt)
    model_s = gpu_s(mha, a.model_tflops)
    print(f"prompt {a.prompt} tokens: MHA attention {mha:.3e} FLOP, absorbed {absorbed_attention_flop(a.prompt):.3e}"
          f" FLOP, kv_b_proj recompute {kv_up_projection_flop(a.prompt):.3e} FLOP")
    print(f"model attention {model_s:.3f} GPU-s at {a.model_tflops:g} TFLOP/s; measured excess {a.excess_gpu_s:g}"
          f" GPU-s; attention alone would need {needed_tflops(mha, model_s, a.excess_gpu_s):.0f} TFLOP/s")
    print("| path | rate TFLOP/s | GPU-s / prompt | share of the excess |")
    print("|---|---|---|---|")
    recompute_s = gpu_s(kv_up_projection_flop(a.prompt), a.gemm_tflops)
    print(f"| kv_b_proj recompute (gather branch) | {a.gemm_tflops:g} | {recompute_s:.3f} | "
          f"{recompute_s / a.excess_gpu_s:.1%} |")
    for item in a.rate:
        name, _, val = item.partition("=")
        r = float(val)
        for form, flop in (("MHA", mha), ("absorbed", absorbed_attention_flop(a.prompt))):
            s = gpu_s(flop, r)
            print(f"| {form} at {name} | {r:g} | {s:.3f} | {share_of_excess(s, model_s, a.excess_gpu_s):.1%} |")


if __name__ == "__main__":
    main()
