"""The prefill rate a closed-loop benchmark implies, measured against simulated, per configuration.

Aggregated rows: at low concurrency (``--max-clients``, default 8) a request's TTFT is its host time, its wait
and its prefill; the host time and the wait are about the same at 1k and 8k input (the same clients, the same
output length), so the TTFT difference between a configuration's 8k/1k and 1k/1k rows at the same clients is
the prefill of the extra prompt tokens. With lengths uniform in ``[0.8 L, L]`` the mean prompt is ``0.9 L``, so

    marginal prefill rate (tokens/s) = 0.9 (8192 - 1024) / (TTFT(8k/1k) - TTFT(1k/1k))

read from the measured and from the simulated figures of the same rows (``ratio`` = measured time / simulated
time: how many times slower the measured prefill is than the step model's). A configuration is the case id
without its lengths, clients and run; of several runs the median is read (a stalled run does not move it).

Disaggregated rows (``-disagg-``): where the prefill pool is the bottleneck the closed loop admits prompts at the
pool's rate, so the prompt intake ``0.9 ISL x requests/s`` with ``requests/s = throughput / (0.9 OSL)`` (Little's
law on the output rate) is the pool's capacity; measured and simulated, per row at ``--min-clients`` and above.

    python tools/step_model/prefill_rate.py validate.json [--match REGEX] [--max-clients 8] [--min-clients 128]
"""

from __future__ import annotations

import argparse
import json
import re
from collections import defaultdict
from statistics import median

MEAN_FRACTION = 0.9  # benchmark_serving --random-range-ratio 0.8: lengths uniform in [0.8 L, L]
_ID = re.compile(r"^(?P<cfg>.+)-(?P<isl>\d+)-(?P<osl>\d+)-c(?P<conc>\d+)-r\d+-(?P<metric>tput|ttft|tpot)$")


def marginal_rate_tokens_per_s(ttft_long_s: float, ttft_short_s: float, long_tokens: int, short_tokens: int) -> float:
    """Prompt tokens per second the TTFT difference of two prompt lengths implies (nan where the longer
    prompt is not slower): ``0.9 (long - short) / (TTFT_long - TTFT_short)``."""
    dt = ttft_long_s - ttft_short_s
    return MEAN_FRACTION * (long_tokens - short_tokens) / dt if dt > 0 else float("nan")


def intake_tokens_per_s(output_tokens_per_s: float, input_tokens: int, output_tokens: int) -> float:
    """Prompt tokens per second a closed loop admits: requests/s = output rate / mean output, times the mean
    prompt (both means 0.9 of the nominal lengths)."""
    return output_tokens_per_s / (MEAN_FRACTION * output_tokens) * MEAN_FRACTION * input_tokens


def rows(path: str, match: str) -> dict[tuple[str, int, int, int], dict[str, tuple[float, float]]]:
    """(configuration, input, output, clients) -> metric -> (measured, simulated), runs: the median."""
    acc: dict = defaultdict(lambda: defaultdict(list))
    for c in json.load(open(path))["cases"]:
        m = _ID.match(c["case_id"])
        if c.get("status") != "ok" or m is None or not re.search(match, c["case_id"]):
            continue
        key = (m["cfg"], int(m["isl"]), int(m["osl"]), int(m["conc"]))
        acc[key][m["metric"]].append((c["measured"], c["predicted"]))
    return {k: {mt: (median(a for a, _ in v), median(b for _, b in v)) for mt, v in d.items()} for k, d in acc.items()}


def aggregated_table(data: dict, max_clients: int) -> list[str]:
    out = ["| configuration | clients | TTFT 1k/1k meas / sim ms | TTFT 8k/1k meas / sim ms | "
           "prefill rate meas / sim tok/s | ratio |", "|---|---|---|---|---|---|"]
    for (cfg, isl, osl, conc), d in sorted(data.items()):
        if "-disagg-" in cfg or (isl, osl) != (1024, 1024) or conc > max_clients or "ttft" not in d:
            continue
        long = data.get((cfg, 8192, 1024, conc), {}).get("ttft")
        if long is None:
            continue
        (m1, p1), (m8, p8) = d["ttft"], long
        rm = marginal_rate_tokens_per_s(m8 / 1e3, m1 / 1e3, 8192, 1024)
        rp = marginal_rate_tokens_per_s(p8 / 1e3, p1 / 1e3, 8192, 1024)
        out.append(f"| {cfg} | {conc} | {m1:.0f} / {p1:.0f} | {m8:.0f} / {p8:.0f} | {rm:,.0f} / {rp:,.0f} | "
                   f"{(p8 - p1) and (m8 - m1) / (p8 - p1):.2f} |")
    return out


def disaggregated_table(data: dict, min_clients: int) -> list[str]:
    out = ["| configuration | ISL/OSL | clients | prompt intake meas / sim tok/s | TTFT meas / sim ms |",
           "|---|---|---|---|---|"]
    for (cfg, isl, osl, conc), d in sorted(data.items()):
        if "-disagg-" not in cfg or conc < min_clients or "tput" not in d or "ttft" not in d:
            continue
        (tm, tp), (fm, fp) = d["tput"], d["ttft"]
        out.append(f"| {cfg} | {isl}/{osl} | {conc} | {intake_tokens_per_s(tm, isl, osl):,.0f} / "
                   f"{intake_tokens_per_s(tp, isl, osl):,.0f} | {fm:,.0f} / {fp:,.0f} |")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("json")
    ap.add_argument("--match", default="", help="regular expression the case ids must contain")
    ap.add_argument("--max-clients", type=int, default=8)
    ap.add_argument("--min-clients", type=int, default=128)
    a = ap.parse_args()
    data = rows(a.json, a.match)
    print("\n".join(aggregated_table(data, a.max_clients)))
    print()
    print("\n".join(disaggregated_table(data, a.min_clients)))


if __name__ == "__main__":
    main()
