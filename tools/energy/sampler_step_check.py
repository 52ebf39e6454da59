"""Does vLLM's native top-p sampler have a fixed time per step that the ML.ENERGY runs show? A measurement, not
the shipped model.

The shipped sampler term (``validation.moe_kernels.native_top_p_sequence_s``) is a line through zero: 76 ps per
running sequence and vocabulary entry, the marginal slope of vLLM PR #40376's PyTorch column between 128 and 512
rows. The same tables have an intercept. Two points of one vocabulary give it (:func:`intercept_s`):

* PR #40376, ``topp_whole``, vocabulary 131,072: 2.318 ms at 128 rows, 6.150 ms at 512: slope 9.98 us per row,
  intercept 1.040 ms, 7.9 ns per vocabulary entry;
* the same PR, vocabulary 32,768: 0.626 ms at 128 rows, 1.694 ms at 512: slope 2.78 us per row, intercept
  0.270 ms, 8.2 ns per entry.

The intercept per entry is the same at both sizes (:data:`PR40376_POINTS`): read as a line, a time per step of
about 8 ns x the vocabulary (1.0 ms at Llama's 128,256 entries, 1.6 ms at gpt-oss's 201,088). But the same PR's
64-row point (vocabulary 131,072, :data:`PR40376_SMALL_POINTS`) is 1.005 ms, 15.7 us per row, not the line's
1.68 ms: below 128 rows the time is about proportional to the rows, at 120-138 ps per entry (torch sorts fewer than
128 rows by a full sort then a sort by row, 128 and more by a segmented sort: ``aten/src/ATen/native/cuda/
SortStable.cu``), and the marginal 76 ps holds above. PR #42191's table (vocabulary 32,768) gives 0.094 / 0.179 ms
at 1 / 4 rows: a launch-bound floor of about 0.1 ms. So the table's shape is ``V x (76 ps x b + 59 ps x min(b, 128))``
(``validation.moe_kernels.native_top_p_small_batch_s``, the second term), not a fixed 1 ms.

This tool checks it against the runs:

``gaps``: each power run of at most ``--max-batch`` running sequences (its notes' mean running batch): measured
median ITL, predicted step (``tools/energy/mlenergy_step_gaps.py``'s step at that batch, the shipped sampler term
included) and the gap ITL - step, beside the intercept ``NS x vocabulary``. A fixed sampler time the model lacks
shows as a positive gap of about that size on every model.

``figures``: ``tools/energy/energy_fold_split.py`` at the H100 fold's power values (``--values``; the ML.ENERGY rows
are all H100, so the H100 fold's values are those a full refit holds them out with) with the rows that state the
native top-p sampler given ``NS x vocabulary`` more seconds per step (``Calibration.step_overhead_s``, no DRAM
bytes: the sort's bytes are in the shipped per-row term) for each ``--ns`` value, and the held-out-style tokens/J,
board power and throughput lines for all runs and per data set. The shape itself ships
(``validation.moe_kernels.native_top_p_small_batch_s``, at the row's concurrency), so ``--ns`` adds a fixed time
on top of what a checkout ships.

``gemm``: the one public H100 timing of cuBLAS under ``torch.nn.functional.linear`` at decode sizes found (vLLM PR
#49363, "H100 benchmarks", ``benchmark_fp8_gemm.py`` torch-bf16 column, N 12,288, K 5,376, M 1-128,
:data:`PR49363_H100_BF16`) against this model's charge for the same GEMM on the H100 (``cost.rules._matrix_gemm``:
the full wave of ``tile_m x tile_n`` tiles at the calibration's GEMM fraction, or the weight and activation bytes
at the attainable bandwidth, whichever is longer) and against stop 28's split-K rule (commit 4af2e0f, reverted on
main: ``s = min(floor(T / tiles), floor(K / 512))`` slices plus each slice's fp32 partial written and read at DRAM).

    PYTHONPATH=src python tools/energy/sampler_step_check.py gaps [--max-batch 16]
    PYTHONPATH=src python tools/energy/sampler_step_check.py figures [--ns 0 2 4 8]
    PYTHONPATH=src python tools/energy/sampler_step_check.py gemm
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import math
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

TOOLS = Path(__file__).resolve().parent
# vLLM PR #40376 ("[Perf] Enable FlashInfer top-k/top-p sampler by default"), benchmark table, PyTorch column,
# scenario topp_whole (top-p on every row): vocabulary -> ((rows, ms), (rows, ms)).
PR40376_POINTS: dict[int, tuple[tuple[int, float], tuple[int, float]]] = {
    131_072: ((128, 2.318), (512, 6.150)),
    32_768: ((128, 0.626), (512, 1.694)),
}
# The same PR's second table (same scenario and column), vocabulary 131,072: (rows, ms).
PR40376_SMALL_POINTS: tuple[tuple[int, float], ...] = ((64, 1.005), (128, 2.272))
# vLLM PR #49363 (HDCharles, "H100 benchmarks for google/gemma-4-31B-it", benchmark_fp8_gemm.py --tp-sizes 1):
# torch-bf16 TFLOP/s of the N 12,288 x K 5,376 GEMM at batch (M) 1, 16, 64, 128.
PR49363_H100_BF16 = {"n": 12_288, "k": 5_376, "tflops": {1: 2.870333, 16: 46.541434, 64: 182.588263,
                                                          128: 352.560566}}
SPLIT_K_MIN_SLICE = 512  # stop 28's smallest K slice (commit 4af2e0f, cost/gemm.py split_k_slices_max)
# The H100 fold's power values of tools/energy/fit_power.py at main dd75249 (busy fraction, GEMM rate at the
# limit, host J per request), as docs/serving_journal.md's tpj-dense section quotes them, and the lm-arena-chat
# mean input the fold without H100 rows uses (the data set's default).
H100_FOLD_VALUES = (0.5168078648338315, 0.8744507980663854, 0.26311234992849686)
LM_ARENA_DEFAULT_MEAN = 400.0


def intercept_s(points: tuple[tuple[int, float], tuple[int, float]]) -> tuple[float, float]:
    """(slope seconds per row, intercept seconds) of the line through two (rows, milliseconds) points;
    ValueError for two points at the same row count."""
    (r0, t0), (r1, t1) = points
    if r0 == r1:
        raise ValueError(f"two points at the same row count {r0} give no line")
    slope = (t1 - t0) / (r1 - r0) * 1e-3
    return slope, t0 * 1e-3 - slope * r0


def step_time_s(ns_per_entry: float, vocab_size: int) -> float:
    """Seconds per step of a sampler time of ``ns_per_entry`` nanoseconds per vocabulary entry; ValueError for a
    negative rate or a vocabulary below one entry."""
    if ns_per_entry < 0.0:
        raise ValueError(f"ns_per_entry must be at least 0, got {ns_per_entry!r}")
    if vocab_size < 1:
        raise ValueError(f"vocab_size must be at least 1 entry, got {vocab_size!r}")
    return ns_per_entry * 1e-9 * vocab_size


def gemm_charges_s(m: float, k: float, n: float, tile_m: float, tile_n: float, units: float, flop_per_s: float,
                   bytes_per_s: float, act_bytes: float = 2.0) -> tuple[float, float, float]:
    """(full-wave compute, split-K compute, memory) seconds of a 16-bit ``(m x k) @ (k x n)`` GEMM: the full wave as
    ``cost.rules._matrix_gemm`` counts it (:func:`~inferchip.cost.gemm.m_tile`, :func:`~inferchip.cost.gemm.
    gemm_waves`: waves x M tile x ``units`` x 2 ``tile_n`` ``k`` FLOP at ``flop_per_s``), stop 28's split-K (the
    faster of that and ``s`` slices' waves plus ``s`` fp32 ``m x n`` partials written and read at ``bytes_per_s``),
    the weights once plus the activations in and out at ``bytes_per_s``."""
    from inferchip.cost.gemm import gemm_waves_scalar, m_tile_scalar

    tm = m_tile_scalar(m, tile_m)
    tiles = math.ceil(m / tm) * math.ceil(n / tile_n)
    per_wave_s = tm * units * 2.0 * tile_n * k / flop_per_s
    full = gemm_waves_scalar(tiles, units) * per_wave_s
    s = max(1.0, min(math.floor(units / tiles), math.floor(k / SPLIT_K_MIN_SLICE)))
    split = full if s <= 1.0 else min(full, math.ceil(tiles * s / units) / s * per_wave_s
                                      + s * 2.0 * m * n * 4.0 / bytes_per_s)
    return full, split, (k * n + m * (k + n)) * act_bytes / bytes_per_s


def with_step_sampler(plain: Callable, ns_per_entry: float, vocab: Callable[[str], int]) -> Callable:
    """``validation.moe_kernels.run_calibration`` (``plain``) followed by :func:`step_time_s` more seconds per
    step on a row whose notes state vLLM's native top-p sampler; every other row's calibration unchanged."""
    from inferchip.validation.moe_kernels import states_native_top_p

    def run(cal, row, closed_loop, family):  # type: ignore[no-untyped-def]
        out = plain(cal, row, closed_loop, family)
        if not (ns_per_entry and states_native_top_p(row)):
            return out
        extra = step_time_s(ns_per_entry, vocab((row.get("model") or "").strip()))
        return out.model_copy(update={"step_overhead_s": out.step_overhead_s + extra})

    return run


def _gaps(max_batch: float, ns: float) -> None:
    sys.path.insert(0, str(TOOLS))
    import mlenergy_step_gaps as g
    from inferchip.validation.moe_kernels import _vocab_size

    with (g.CATALOG / "mlenergy_cases.csv").open(encoding="utf-8-sig", newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["metric"] == "power_w_board_total"]
    print("kind | model | GPUs | running batch | ITL ms | step ms | ITL - step ms | intercept ms")
    seen = set()
    for x in sorted(g.run_steps(rows), key=lambda x: (x["model"], x["gpus"], x["batch"], x["itl_ms"])):
        key = (x["model"], x["gpus"], round(x["batch"]), round(x["itl_ms"], 2))
        if x["batch"] > max_batch or key in seen:
            continue
        seen.add(key)
        kind = "MoE" if any(k in x["model"] for k in g.MOE) else "dense"
        print(f"{kind} | {x['model'].split('/')[-1]} | {x['gpus']} | {x['batch']:.0f} | {x['itl_ms']:.2f} | "
              f"{x['step_ms']:.2f} | {x['itl_ms'] - x['step_ms']:+.2f} | "
              f"{1e3 * step_time_s(ns, _vocab_size(x['model'])):.2f}")


def _figures(ns_values: Sequence[float]) -> None:
    sys.path.insert(0, str(TOOLS))
    import energy_fold_split as efs
    import inferchip.validation.moe_kernels as mk

    plain = mk.run_calibration
    argv = ["energy_fold_split", "--values", *map(str, H100_FOLD_VALUES), "--lm-arena-mean",
            str(LM_ARENA_DEFAULT_MEAN)]
    for ns in ns_values:
        mk.run_calibration = with_step_sampler(plain, ns, mk._vocab_size)  # type: ignore[assignment]
        buf, saved = io.StringIO(), sys.argv
        try:
            sys.argv = argv
            with contextlib.redirect_stdout(buf):
                efs.main()
        finally:
            sys.argv, mk.run_calibration = saved, plain  # type: ignore[assignment]
        print(f"== {ns:g} ns per vocabulary entry and step")
        for line in buf.getvalue().splitlines():
            if not line.lstrip().startswith("model |"):
                print(line)


def _gemm() -> None:
    from inferchip.catalog.calibration_file import load_calibration
    from inferchip.catalog.chips import family_defaults, load_chip
    from inferchip.spec.chip import chip_params

    spec = load_chip("nvidia-h100-sxm-80gb")
    cp, cal = chip_params(spec, family_defaults(spec.family)), load_calibration(None)
    rate = cp.peak_flop_per_s["bf16"] * cal.gemm_compute_fraction
    bw = cp.memory_bytes_per_s * cal.memory_bandwidth_fraction
    n, k = PR49363_H100_BF16["n"], PR49363_H100_BF16["k"]
    print(f"H100 bf16 GEMM N {n} K {k} (vLLM PR #49363, torch-bf16): M | measured us | full-wave model us | "
          "split-K model us | memory us | full-wave / measured | split-K / measured")
    for m, tflops in PR49363_H100_BF16["tflops"].items():
        meas = 2.0 * m * n * k / (tflops * 1e12)
        full, split, mem = gemm_charges_s(m, k, n, cp.gemm_tile_m, cp.gemm_tile_n, cp.gemm_tiles_in_flight, rate, bw)
        a, b = max(full, mem), max(split, mem)
        print(f"  {m} | {meas * 1e6:.1f} | {a * 1e6:.1f} | {b * 1e6:.1f} | {mem * 1e6:.1f} | {a / meas:.2f} | "
              f"{b / meas:.2f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="what", required=True)
    g = sub.add_parser("gaps", help="measured ITL against the predicted step at small running batches")
    g.add_argument("--max-batch", type=float, default=16.0)
    g.add_argument("--ns", type=float, default=8.0, help="intercept per vocabulary entry shown beside the gap")
    f = sub.add_parser("figures", help="tokens/J, board power and throughput with the intercept added")
    f.add_argument("--ns", type=float, nargs="+", default=[0.0, 2.0, 4.0, 8.0])
    sub.add_parser("gemm", help="the H100 cuBLAS timing of PR #49363 against the model's GEMM charge")
    args = ap.parse_args()
    for vocab, pts in sorted(PR40376_POINTS.items()):
        slope, icpt = intercept_s(pts)
        print(f"PR #40376 topp_whole, vocabulary {vocab}: slope {slope * 1e6:.2f} us per row "
              f"({slope / vocab * 1e12:.0f} ps per entry), intercept {icpt * 1e3:.3f} ms "
              f"({icpt / vocab * 1e9:.1f} ns per entry)")
    for rows, ms in PR40376_SMALL_POINTS:
        print(f"PR #40376 topp_whole, vocabulary 131072, {rows} rows: {ms:.3f} ms, {ms / rows * 1e3:.1f} us per row "
              f"({ms * 1e-3 / rows / 131_072 * 1e12:.0f} ps per entry)")
    if args.what == "gaps":
        _gaps(args.max_batch, args.ns)
    elif args.what == "gemm":
        _gemm()
    else:
        _figures(args.ns)


if __name__ == "__main__":
    main()
