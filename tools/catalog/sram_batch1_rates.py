"""The SRAM-only, layer-pipelined chips at batch 1 against their published per-user rates (sram41, stop 41).

Predicts each published configuration with ``inferchip.performance.predict.predict`` (batch 1, 128 input and
128 output tokens, as sram40/sram40b/host40 did) and prints a markdown table: the predicted tokens/s per user,
the published figure with its date and source, their ratio, and what the predicted TPOT is made of, by the bound
of each operator class (``overhead``: the family's per-kernel time and the host step, both inferchip estimates
for these families; ``network``: the collective and pipeline hand-off latencies; ``compute`` / ``memory``).
Nothing is fitted; a configuration that does not fit prints the first line of the error.

Usage: ``python tools/catalog/sram_batch1_rates.py`` (seconds).
"""

from __future__ import annotations

import argparse
from typing import NamedTuple

from inferchip.performance.predict import predict


class Published(NamedTuple):
    """One published per-user rate at (about) batch 1 and the configuration it is predicted on."""

    chip: str
    model: str
    count: int  # chips; where the vendor does not publish it, ``count_source`` says whose figure it is
    weights: str | None  # None: what the checkpoint ships
    tokens_per_s_per_user: float
    date: str
    source: str
    count_source: str
    one_token_per_step: bool = True  # False: the published rate uses speculative decoding


PUBLISHED: tuple[Published, ...] = (
    Published("cerebras-wse-3", "meta-llama/Llama-3.1-8B-Instruct", 1, None, 1800.0, "2024-08-27",
              "Cerebras blog 'Introducing Cerebras Inference' (vendor; 16-bit weights)", "one CS-3 (same blog)"),
    Published("cerebras-wse-3", "meta-llama/Llama-3.1-70B-Instruct", 4, None, 450.0, "2024-08-27",
              "Cerebras blog 'Introducing Cerebras Inference' (vendor)",
              "four CS-3s (The Register's Hot Chips 2024 report of Cerebras' talk)"),
    Published("cerebras-wse-3", "meta-llama/Llama-3.1-70B-Instruct", 4, None, 2100.0, "2024-10-24",
              "Cerebras blog 'Cerebras Inference now 3x faster' (vendor; rewritten kernels, asynchronous wafer IO, "
              "speculative decoding)", "four systems: a secondary report only", one_token_per_step=False),
    Published("groq-lpu-v1", "meta-llama/Llama-3.1-8B-Instruct", 576, None, 750.0, "2024-08-27",
              "implied by Cerebras' '2.4x faster than Groq' at 1,800 (a competitor's figure)",
              "576: inferchip assumption (the 70B deployment's size; Groq publishes no 8B count)"),
    Published("groq-lpu-v1", "meta-llama/Llama-2-7b-chat-hf", 576, None, 750.0, "2024-02",
              "TechPowerUp news, LLMPerf leaderboard (secondary)", "576: inferchip assumption, as above"),
    Published("groq-lpu-v1", "meta-llama/Llama-2-70b-chat-hf", 640, "fp8", 300.0, "2024-02",
              "TechPowerUp news, LLMPerf leaderboard (secondary)",
              "'over 500 GroqChip' (Groq, SC23 Exhibitor Forum 2023-11-16); 640 = tp 8 x pp 80, one layer a "
              "stage, the fewest chips at tp 8 on which 8-bit weights fit; the weight format is not published "
              "(16-bit weights need more: 138 GB / 640 = 216 MB a chip, above the 211.6 MB usable)"),
)

BOUNDS = ("overhead", "network", "compute", "memory")


def tpot_parts(decode: dict[str, dict[str, object]]) -> dict[str, float]:
    """Seconds of a decode step by bound, from ``Prediction.breakdown['decode']`` ({class: {time_s, bound}}).
    The host step is reported on its own ("host"), not under "overhead"."""
    parts = {b: 0.0 for b in ("host", *BOUNDS)}
    for name, row in decode.items():
        key = "host" if name == "host" else str(row["bound"])
        if key not in parts:
            raise ValueError(f"decode class {name!r}: bound {key!r}; allowed: {', '.join(BOUNDS)}")
        parts[key] += float(row["time_s"])  # type: ignore[arg-type]
    return parts


def ratio(predicted: float, published: float) -> float:
    """Predicted over published (> 1: the model is faster than the published rate)."""
    if published <= 0:
        raise ValueError(f"published rate {published!r}: must be > 0 tokens/s")
    return predicted / published


def row(p: Published) -> str:
    """One markdown table row for ``p``."""
    try:
        pr = predict(p.chip, p.model, count=p.count, weights=p.weights, batch=1, input_tokens=128, output_tokens=128)
    except Exception as exc:  # noqa: BLE001 - a configuration that does not fit is a result here
        first = str(exc).splitlines()[0]
        return f"| {p.chip} | {p.model} | {p.count} | {p.weights or 'ckpt'} | - | {first} | " \
               f"{p.tokens_per_s_per_user:,.0f} ({p.date}) | - | - |"
    parts = tpot_parts(pr.breakdown["decode"])
    total = sum(parts.values())
    share = ", ".join(f"{k} {v / total:.0%}" for k, v in parts.items() if v > 0)
    spec = "" if p.one_token_per_step else " (speculative decoding)"
    return (f"| {p.chip} | {p.model} | {p.count} | {pr.weights} | tp {pr.tp} pp {pr.pp} | "
            f"{pr.output_tokens_per_s_per_user:,.1f} | {p.tokens_per_s_per_user:,.0f} ({p.date}){spec} | "
            f"{ratio(pr.output_tokens_per_s_per_user, p.tokens_per_s_per_user):.2f} | "
            f"TPOT {pr.tpot_s * 1e3:.3f} ms: {share} |")


def main() -> None:
    argparse.ArgumentParser(description=__doc__.split("\n\n")[0]).parse_args()
    print("| chip | model | chips | weights | layout | predicted tok/s/user | published (date) | ratio | "
          "predicted TPOT by bound |")
    print("|---|---|---|---|---|---|---|---|---|")
    for p in PUBLISHED:
        print(row(p))
    print()
    for i, p in enumerate(PUBLISHED, 1):
        print(f"{i}. {p.chip} {p.model}: {p.source}; chips: {p.count_source}")


if __name__ == "__main__":
    main()
