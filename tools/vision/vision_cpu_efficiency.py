"""What share of its fp32 vector peak each CPU reaches on each measured fp32 vision row: the network's useful
matrix FLOP per sample over the measured time per sample, against the chip's fp32 vector FMA peak at its sustained
clock (catalogue ``vector_tflops`` x ``catalog/vision/sustained_clocks.csv``), one line per row, with the LOAO
signed error of a validate JSON when one is given.

    inferchip validate src/inferchip/catalog/vision/vision_cases.csv --format json > after.json
    python tools/vision/vision_cpu_efficiency.py [after.json] [--cases FILE.csv]

The cost model prices every fp32 CPU layer at one fitted share of that peak (``cpu_vector_fraction``); this
listing shows what the measured rows need of it, network by network and batch by batch. Time per sample: a
SingleStream latency (one sample per query), a MultiStream latency / 8 (MLPerf's 8 samples per query), or
chips / an Offline or Server sample rate. Latency rows quote a percentile (p90, p99, and for the MLPerf Automotive
rows the p99.9, which is the run's maximum), so their share is a lower bound on the mean's.

A second table splits the pairs of a batch-1 SingleStream row and a MultiStream row of the same chip, network and
runtime version (the MLPerf reference harness runs a MultiStream query's 8 samples as one batch-8 call:
mlcommons/inference ``vision/classification_and_detection/python/main.py``, ``QueueRunner.enqueue`` with the default
``max-batchsize`` 32) into a time per call and a time per sample, t(b) = fixed + b x marginal, and gives the share of
the peak the marginal (per-sample) time reaches.

A third table pairs each such latency row with an Offline row of the same chip, network and runtime version: the
Offline rate's time per sample taken as the marginal time, the latency call minus batch x that time is what the
call spends beyond it. The reference harness runs Offline as ``--threads`` (default ``os.cpu_count()``) Python
workers each calling the backend on ``max-batchsize`` samples (``QueueRunner``), so several calls overlap and a
per-call cost that leaves cores idle is partly hidden there: the Offline time per sample is a lower bound of one
call's marginal time and the excess an upper bound of its fixed time.
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path
from typing import Any

from inferchip.catalog.chips import get_chip_params
from inferchip.cost.vision.clocks import at_sustained_clock
from inferchip.workload.vision.network import load_network

DEFAULT_CASES = Path(__file__).resolve().parents[2] / "src" / "inferchip" / "catalog" / "vision" / "vision_cases.csv"
MULTISTREAM_SAMPLES = 8.0  # MLPerf MultiStream: each query holds 8 samples (LoadGen mlperf.conf)
LATENCY_METRICS = ("latency_p90_ms", "latency_p99_ms", "latency_p999_ms", "latency_mean_ms")
RATE_METRICS = ("samples_per_s",)


def seconds_per_sample(scenario: str, metric: str, value: float, chips: float) -> float | None:
    """Measured seconds one chip spends per sample, or None for a metric that is not a time or a rate. Hand
    checks: SingleStream 7.63 ms -> 7.63e-3 s; MultiStream 37.77 ms -> 37.77e-3 / 8 = 4.72e-3 s; Offline 228.7
    samples/s on 1 chip -> 4.37e-3 s, on 2 chips -> 8.75e-3 s."""
    if metric in LATENCY_METRICS:
        per_query = MULTISTREAM_SAMPLES if scenario == "multi_stream" else 1.0
        return value * 1e-3 / per_query
    if metric in RATE_METRICS and value > 0:
        return chips / value
    return None


def peak_share(useful_flop_per_sample: float, s_per_sample: float, peak_flop_per_s: float) -> float:
    """Achieved share of the peak: (useful FLOP / time) / peak. Hand check: ResNet-50's 8.18 GFLOP in 4.72 ms on a
    2.56 TFLOP/s peak -> 1.733 / 2.56 = 0.677."""
    return useful_flop_per_sample / s_per_sample / peak_flop_per_s


def runtime(software: str) -> str:
    """The runtime a row's software column names first (``onnxruntime v1.22.1; Python ...`` -> ``onnxruntime``)."""
    first = software.replace(";", ",").split(",")[0].strip()
    return first.split(" ")[0] if first else ""


def is_fp32_cpu(c: dict[str, str]) -> bool:
    """An fp32 row on a ``cpu:`` chip (the rows every table here reads)."""
    return c["accelerator"].startswith("cpu:") and c["precision"] == "fp32"


def flop_and_peak(model: str, chip: str) -> tuple[float, float]:
    """(useful FLOP per sample of the network, the chip's fp32 vector peak at its sustained clock, FLOP/s)."""
    net = load_network(model)
    peak = float(at_sustained_clock(get_chip_params(chip)).vector_flop_per_s)
    return 2.0 * net.macs_per_frame * net.frames_per_sample, peak


def table(header: list[str], rows: list[list[str]]) -> str:
    """A markdown table."""
    return "\n".join(["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
                     + ["| " + " | ".join(r) + " |" for r in rows])


def fp32_cpu_rows(cases: list[dict[str, str]], loao: dict[str, float]) -> list[dict[str, Any]]:
    """One record per fp32 row on a ``cpu:`` chip whose metric is a time or a rate, sorted by chip, network and
    time per sample."""
    out = []
    for c in cases:
        if not is_fp32_cpu(c):
            continue
        chips = float(c["num_accelerators"] or 1)
        s = seconds_per_sample(c["scenario"], c["metric"], float(c["value"]), chips)
        if s is None:
            continue
        flop, peak = flop_and_peak(c["model"], c["accelerator"])
        out.append({"chip": c["accelerator"], "model": c["model"], "runtime": runtime(c["software"]),
                    "scenario": c["scenario"], "metric": c["metric"], "ms_per_sample": s * 1e3,
                    "tflops": flop / s / 1e12, "peak_tflops": peak / 1e12, "share": peak_share(flop, s, peak),
                    "loao_pct": loao.get(c["case_id"])})
    return sorted(out, key=lambda r: (r["chip"], r["model"], r["ms_per_sample"]))


MULTISTREAM_BATCH = MULTISTREAM_SAMPLES  # the reference harness runs a MultiStream query as one call (module doc)


def batch_split(t1_s: float, tb_s: float, batch: float = MULTISTREAM_BATCH) -> tuple[float, float]:
    """(fixed s per call, marginal s per sample) of the line through a batch-1 call of ``t1_s`` and a batch-``batch``
    call of ``tb_s``. The rows give a SingleStream p90 and a MultiStream p99, so the line mixes percentiles: the
    p90-to-p99 spread of the batch-8 call lands in the marginal time (an upper bound of the mean's). Hand check:
    7.724 ms and 37.77 ms at batch 8 -> marginal (37.77 - 7.724) / 7 = 4.292 ms, fixed 7.724 - 4.292 = 3.432 ms."""
    marginal = (tb_s - t1_s) / (batch - 1.0)
    return t1_s - marginal, marginal


def version_key(software: str) -> str:
    """The runtime and its version as the software column gives them, up to the first ``;`` (``onnxruntime v1.22.1;
    Python ...`` -> ``onnxruntime v1.22.1``): rows of two harnesses or builds are not paired."""
    return software.split(";")[0].strip().lower()


def pair_key(c: dict[str, str]) -> tuple[str, str, str]:
    """The (chip, network, runtime version) rows are paired on."""
    return c["accelerator"], c["model"], version_key(c["software"])


def batch_pairs(cases: list[dict[str, str]]) -> list[dict[str, Any]]:
    """One record per (chip, network, runtime version) with a batch-1 SingleStream latency row and a MultiStream
    latency row of fp32 on a ``cpu:`` chip: the two times, their :func:`batch_split` and the marginal share of the
    peak (sorted by chip and network)."""
    single: dict[tuple[str, str, str], dict[str, str]] = {}
    multi: dict[tuple[str, str, str], dict[str, str]] = {}
    for c in cases:
        if not is_fp32_cpu(c) or c["metric"] not in LATENCY_METRICS:
            continue
        key = pair_key(c)
        for scenario, seen in (("single_stream", single), ("multi_stream", multi)):
            if c["scenario"] == scenario:
                if key in seen:  # two rows of one key would be paired arbitrarily
                    raise ValueError(f"two {scenario} rows for {key}: {seen[key]['case_id']}, {c['case_id']}")
                seen[key] = c
    out = []
    for key in sorted(single.keys() & multi.keys()):
        t1, tb = float(single[key]["value"]) * 1e-3, float(multi[key]["value"]) * 1e-3
        fixed, marginal = batch_split(t1, tb)
        flop, peak = flop_and_peak(key[1], key[0])
        out.append({"chip": key[0], "model": key[1], "runtime": key[2], "t1_ms": t1 * 1e3, "t8_ms": tb * 1e3,
                    "fixed_ms": fixed * 1e3, "marginal_ms": marginal * 1e3,
                    "marginal_share": peak_share(flop, marginal, peak) if marginal > 0 else float("nan")})
    return out


def offline_excess(t_call_s: float, batch: float, offline_s_per_sample: float) -> float:
    """Seconds a latency call of ``batch`` samples spends beyond ``batch`` x the Offline time per sample (module
    doc). Hand check: 13.31 ms at batch 1 against 215.6 samples/s -> 13.31 - 4.638 = 8.67 ms; 44.48 ms at batch 8
    against 228.7 samples/s -> 44.48 - 8 x 4.372 = 9.50 ms."""
    return t_call_s - batch * offline_s_per_sample


def offline_pairs(cases: list[dict[str, str]]) -> list[dict[str, Any]]:
    """One record per fp32 ``cpu:`` latency row (SingleStream batch 1, MultiStream batch 8) with an Offline
    ``samples_per_s`` row of the same chip, network and runtime version: the call time, the Offline time per
    sample, :func:`offline_excess` and the Offline share of the peak (sorted by chip, network, batch)."""
    offline: dict[tuple[str, str, str], dict[str, str]] = {}
    latency: list[dict[str, str]] = []
    for c in cases:
        if not is_fp32_cpu(c):
            continue
        key = pair_key(c)
        if c["scenario"] == "offline" and c["metric"] in RATE_METRICS:
            if key in offline:
                raise ValueError(f"two offline rows for {key}: {offline[key]['case_id']}, {c['case_id']}")
            offline[key] = c
        elif c["scenario"] in ("single_stream", "multi_stream") and c["metric"] in LATENCY_METRICS:
            latency.append(c)
    out = []
    for c in latency:
        key = pair_key(c)
        if key not in offline:
            continue
        o = offline[key]
        s = seconds_per_sample("offline", o["metric"], float(o["value"]), float(o["num_accelerators"] or 1))
        assert s is not None
        batch = MULTISTREAM_BATCH if c["scenario"] == "multi_stream" else 1.0
        t = float(c["value"]) * 1e-3
        flop, peak = flop_and_peak(key[1], key[0])
        out.append({"chip": key[0], "model": key[1], "runtime": key[2], "batch": batch, "metric": c["metric"],
                    "t_ms": t * 1e3, "offline_ms": s * 1e3, "excess_ms": offline_excess(t, batch, s) * 1e3,
                    "offline_share": peak_share(flop, s, peak)})
    return sorted(out, key=lambda r: (r["chip"], r["model"], r["batch"]))


def offline_markdown(pairs: list[dict[str, Any]]) -> str:
    return table(["chip", "network", "runtime", "batch", "metric", "call ms", "Offline ms / sample", "Offline share",
                  "call excess ms"],
                 [[r["chip"], r["model"], r["runtime"], f"{r['batch']:g}", r["metric"], f"{r['t_ms']:.4g}",
                   f"{r['offline_ms']:.4g}", f"{r['offline_share']:.2f}", f"{r['excess_ms']:.3g}"] for r in pairs])


def split_markdown(pairs: list[dict[str, Any]]) -> str:
    return table(["chip", "network", "runtime", "batch 1 ms", "batch 8 ms", "fixed ms / call", "marginal ms / sample",
                  "marginal share"],
                 [[r["chip"], r["model"], r["runtime"], f"{r['t1_ms']:.4g}", f"{r['t8_ms']:.4g}",
                   f"{r['fixed_ms']:.3g}", f"{r['marginal_ms']:.3g}", f"{r['marginal_share']:.2f}"] for r in pairs])


def markdown(rows: list[dict[str, Any]]) -> str:
    return table(["chip", "network", "runtime", "scenario", "metric", "ms / sample", "TFLOP/s", "peak", "share",
                  "LOAO %"],
                 [[r["chip"], r["model"], r["runtime"], r["scenario"], r["metric"], f"{r['ms_per_sample']:.4g}",
                   f"{r['tflops']:.3f}", f"{r['peak_tflops']:.3f}", f"{r['share']:.2f}",
                   "" if r["loao_pct"] is None else f"{r['loao_pct']:+.1f}"] for r in rows])


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("results", type=Path, nargs="?", help="a validate JSON (for the LOAO signed errors)")
    ap.add_argument("--cases", type=Path, default=DEFAULT_CASES)
    args = ap.parse_args(argv)
    with open(args.cases, encoding="utf-8", newline="") as fh:
        cases = list(csv.DictReader(fh))
    loao: dict[str, float] = {}
    if args.results:
        for r in json.loads(args.results.read_text(encoding="utf-8"))["vision"]["cases"]:
            if r.get("loao_signed_error_pct") is not None:
                loao[r["case_id"]] = float(r["loao_signed_error_pct"])
    print(markdown(fp32_cpu_rows(cases, loao)))
    pairs = batch_pairs(cases)
    if pairs:
        print()
        print(split_markdown(pairs))
    with_offline = offline_pairs(cases)
    if with_offline:
        print()
        print(offline_markdown(with_offline))


if __name__ == "__main__":
    main()
