"""Whether the prefill workers' KV-transfer posting can bound a disaggregated SGLang row's prompt rate (report only).

SGLang's NIXL connector (the transfer backend of the GB200 FP4 Dynamo recipes, NVIDIA/srt-slurm
``recipes/gb200-fp4/1k1k/max-tpt.yaml`` and its 8k/1k and mid-curve siblings: ``disaggregation-transfer-backend:
nixl``) posts each prompt's KV from the prefill rank's scheduler thread: ``NixlKVSender.send`` ->
``NixlKVManager.add_transfer_request`` -> ``send_kvcache``, which builds one descriptor per layer and per run of
pages contiguous on both sides (``group_concurrent_contiguous``), then calls ``get_xfer_descs``, ``initialize_xfer``
and ``transfer`` in line (sgl-project/sglang ``python/sglang/srt/disaggregation/nixl/conn.py``, stored copy). With
``attention-backend: trtllm_mla`` SGLang runs 64-token pages (``server_args``: "TensorRT-LLM MLA only supports
page_size of 32 or 64, changing page_size ... to 64"), so a prompt of ``n`` tokens takes at most ``L ceil(n / 64)``
descriptors (``L`` layers; fewer where pages happen to be contiguous on both sides).

The overlap scheduler posts a step's prompts while the next step runs, so posting at ``t`` seconds a descriptor
caps a posting rank at ``page / (L t)`` prompt tokens/s whatever the prompt length (the GPU step and the posting
run side by side, the slower sets the pace); posted in series with the steps instead, it adds ``L ceil(n / 64) t``
to each prompt. The report sets, per configuration and client count, the measured and simulated prompt tokens/s a
prefill GPU (Little's law on the row's triples, ``tools/closed_loop_runs/ttft_little_split.py``) beside the cap at
each sourced time per descriptor, and the time per descriptor at which posting alone would hold a rank to the
measured rate. Every prefill GPU is taken to post its own prompts (attention-DP ranks; a TP worker's decode peer
picks one of its ranks at random, sgl-project/sglang PR #5681).

    python tools/closed_loop_runs/kv_post_bound.py validate.json [--match REGEX] [--layers 61] [--page 64]
"""

from __future__ import annotations

import argparse
import math
import re
import statistics
import sys
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ttft_little_split import _ID, TPUT, _config, pool_gpus, side, triples  # noqa: E402

DEFAULT_MATCH = r"gb200-dynamo-sglang-fp4-disagg"
LAYERS = 61  # DeepSeek-R1's decoder layers (config.json num_hidden_layers), one KV region each
PAGE_TOKENS = 64  # trtllm_mla's page (SGLang server_args, quoted above)
# Time to post one transfer descriptor (s): what public sources give, none on the rows' own stack.
SOURCED_POST_S: tuple[tuple[str, float], ...] = (
    ("UCX cuda_ipc overhead estimate, openucx/ucx PR #8760", 4.0e-6),
    ("SGLang NIXL transfer(): ~15k segments in 0.6 s, ai-dynamo/nixl issue #176", 40e-6),
    ("vLLM NIXL telemetry example: 56 descriptors, 5.69 ms post, vllm-project/vllm PR #25388", 102e-6),
)


def descriptors(prompt_tokens: float, layers: int = LAYERS, page_tokens: int = PAGE_TOKENS) -> int:
    """The most descriptors one prompt's KV takes: one per layer and page (no two pages contiguous on both sides)."""
    if prompt_tokens <= 0 or layers < 1 or page_tokens < 1:
        raise ValueError(f"descriptors: prompt {prompt_tokens} tokens, {layers} layers, {page_tokens}-token pages: "
                         "all must be positive")
    return layers * math.ceil(prompt_tokens / page_tokens)


def posting_cap_tok_s(post_s: float, layers: int = LAYERS, page_tokens: int = PAGE_TOKENS) -> float:
    """Prompt tokens/s one rank can post at ``post_s`` a descriptor, a page per descriptor and layer."""
    if post_s <= 0:
        raise ValueError(f"posting_cap_tok_s: {post_s} s a descriptor, must be positive")
    return page_tokens / (layers * post_s)


def binding_post_s(rate_tok_s: float, layers: int = LAYERS, page_tokens: int = PAGE_TOKENS) -> float:
    """The time a descriptor at which posting alone holds a rank to ``rate_tok_s`` prompt tokens/s."""
    if rate_tok_s <= 0:
        raise ValueError(f"binding_post_s: {rate_tok_s} tokens/s, must be positive")
    return page_tokens / (layers * rate_tok_s)


def prompt_rates(path: str, match: str) -> dict[str, dict[int, list[tuple[float, float]]]]:
    """Configuration -> clients -> [(measured, simulated) prompt tokens/s a prefill GPU], one pair per run."""
    pat = re.compile(match)
    out: dict[str, dict[int, list[tuple[float, float]]]] = defaultdict(lambda: defaultdict(list))
    for base, g in triples(path).items():
        m, gp = _ID.search(base), pool_gpus(base)
        if not (pat.search(base) and m and gp and {TPUT, "ttft_ms", "tpot_ms"} <= set(g)):
            continue
        isl, osl, clients = (float(v) for v in m.groups())
        t, f, q = g[TPUT], g["ttft_ms"], g["tpot_ms"]
        ms = side(t["measured"], f["measured"] / 1e3, q["measured"] / 1e3, clients, osl)
        ss = side(t["sim"]["output_tokens_per_s"], f["sim"]["ttft_ms"] / 1e3, q["sim"]["tpot_ms"] / 1e3, clients, osl)
        prompt = 0.9 * isl  # InferenceX draws lengths uniformly in [0.8 L, L]
        out[_config(base)][int(clients)].append((ms["x_rps"] * prompt / gp[0], ss["x_rps"] * prompt / gp[0]))
    return out


def report(path: str, match: str, layers: int, page_tokens: int) -> list[str]:
    """The report's lines: the cap at each sourced time a descriptor, then per configuration and client count the
    measured and simulated prompt rates, the binding time a descriptor and the sourced times that would bind."""
    caps = [(name, s, posting_cap_tok_s(s, layers, page_tokens)) for name, s in SOURCED_POST_S]
    lines = [f"posting cap a rank at {layers} layers, {page_tokens}-token pages (prompt k tokens/s):"]
    lines += [f"  {s * 1e6:5.0f} us a descriptor: {c / 1e3:7.1f}   ({name})" for name, s, c in caps]
    lines.append("configuration | clients: prompt k tok/s a prefill GPU meas / sim (median of runs); us a descriptor "
                 "that binds at the measured rate; sourced times whose cap lies below the simulated rate")
    for cfg, by_c in sorted(prompt_rates(path, match).items()):
        lines.append(f"  {cfg}")
        for clients, pairs in sorted(by_c.items()):
            meas = statistics.median(p[0] for p in pairs)
            sim = statistics.median(p[1] for p in pairs)
            binds = [f"{s * 1e6:.0f}" for _, s, c in caps if c < sim]
            lines.append(f"    c{clients}: {meas / 1e3:5.1f} / {sim / 1e3:5.1f}; "
                         f"{binding_post_s(meas, layers, page_tokens) * 1e6:5.0f} us; "
                         f"{', '.join(binds) or 'none'} ({len(pairs)} runs)")
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("validate_json")
    ap.add_argument("--match", default=DEFAULT_MATCH, help="regex on the case id")
    ap.add_argument("--layers", type=int, default=LAYERS)
    ap.add_argument("--page", type=int, default=PAGE_TOKENS, help="tokens a KV page")
    a = ap.parse_args()
    print("\n".join(report(a.validate_json, a.match, a.layers, a.page)))


if __name__ == "__main__":
    main()
