"""Where a vision row's modelled time goes, batch by batch (shipped calibration, in sample).

For every case whose id contains PATTERN it prints the row's measured and predicted metric, then per batch of the
row's grid: the device time of one call (``RowModel.latency_s``), that time per sample, the time per call under load
(``pipelined_s``), the sums over layers of matrix, vector and DRAM time, the summed per-layer maxima, the kernel and
per-call overheads, the TDP bound (dynamic energy / (TDP - static)), the input copy, and the matrix units' spent
FLOP over the useful FLOP (tile padding and partial waves, ``cost/vision/layers.py``). Used for docs/vision.md
(stop 31, gpu-ms: the RTX 2000E ResNet-50 MultiStream row).

    PYTHONPATH=src python tools/vision/vision_row_breakdown.py rtx2000e-ada-16gbx1-trt-resnet50 --batches 1,8,32,1024
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np

from inferchip.catalog.chips import family_defaults, load_chip
from inferchip.catalog.vision_networks import VISION_CASES_FILE, load_vision_calibration
from inferchip.cost.vision.dataflow import is_dataflow
from inferchip.cost.vision.layers import layer_costs
from inferchip.spec.chip import chip_params
from inferchip.spec.vision import VisionCalibration, is_cpu_family
from inferchip.validation.vision.cases import VisionCase, read_vision_cases
from inferchip.validation.vision.harness import executed_format, gridsample_clock_hz, runs_eager_nchw, runs_mlas_nchwc
from inferchip.validation.vision.predict import predict_row
from inferchip.validation.vision.rows import build_row, inference_streams, on_cores, program_cores
from inferchip.validation.vision.validate import params_of
from inferchip.workload.vision.network import load_network


def flop_ratio(case: VisionCase, cal: VisionCalibration, batches: np.ndarray) -> np.ndarray:
    """Spent over useful matrix FLOP of one call per batch, with the chip, format and harness facts ``build_row``
    sets a call's work with (cores of the program, executed format, inference streams, the runtime's CPU kernels: NCHWc,
    eager NCHW, scalar GridSample); not its side-by-side programs' shares of DRAM, link and power, which do not change
    the FLOP."""
    spec = load_chip(case.accelerator)
    params = chip_params(spec, family_defaults(spec.family))
    cores = int(spec.compute.matrix_unit_count or 1)
    params = on_cores(params, program_cores(case, cores), cores)
    cpu = is_cpu_family(params.family)
    streams = inference_streams(case, cpu=cpu, dataflow=is_dataflow(params.family))
    c = layer_costs(params, load_network(case.model).arrays, batches, executed_format(case, params, cpu=cpu), cal,
                    streams=streams, nchwc=runs_mlas_nchwc(case, cpu=cpu), eager_nchw=runs_eager_nchw(case, cpu=cpu),
                    gridsample_clock_hz=gridsample_clock_hz(case, spec, cpu=cpu))
    useful = c.useful_flop.sum(axis=0)
    return np.asarray(np.where(useful > 0, c.spent_flop.sum(axis=0) / np.maximum(useful, 1.0), math.nan), dtype=float)


def breakdown(case: VisionCase, cal: VisionCalibration, batches: list[float] | None = None) -> list[dict[str, float]]:
    """One dict per batch of the row's grid (those in ``batches`` when given), times in ms."""
    row = build_row(case, cal)
    p = params_of(cal)
    keep = [i for i, b in enumerate(row.batches) if batches is None or float(b) in batches]
    t, tl = row.latency_s(p), row.pipelined_s(p)
    matrix = row.matrix_s * (row.fraction0 / row.layer_fraction(p))[:, None]
    memory = row.memory_s * (row.memory_fraction0 / p.memory_bandwidth_fraction)
    compute = np.maximum(matrix, row.vector_s)
    bound = (row.e_dyn_j / (row.tdp_w - row.static_w) if math.isfinite(row.tdp_w) and row.tdp_w > row.static_w
             else np.full(row.batches.shape, math.nan))
    ratio = flop_ratio(case, cal, row.batches)
    ms = 1e3
    return [{"batch": float(row.batches[i]), "device_ms": float(t[i]) * ms,
             "per_sample_ms": float(t[i] / row.batches[i]) * ms,
             "loaded_ms": float(tl[i]) * ms, "matrix_ms": float(matrix[:, i].sum()) * ms,
             "vector_ms": float(row.vector_s[:, i].sum()) * ms, "dram_ms": float(memory[:, i].sum()) * ms,
             "layer_max_ms": float(np.maximum(compute[:, i], memory[:, i]).sum()) * ms,
             "overhead_ms": float(row.overhead_s[i]) * ms, "tdp_bound_ms": float(bound[i]) * ms,
             "copy_ms": float(row.copy_s[i]) * ms, "spent_over_useful": float(ratio[i])} for i in keep]


COLUMNS = ("batch", "device_ms", "per_sample_ms", "loaded_ms", "matrix_ms", "vector_ms", "dram_ms", "layer_max_ms",
           "overhead_ms", "tdp_bound_ms", "copy_ms", "spent_over_useful")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("pattern", help="part of the case id")
    ap.add_argument("--cases", type=Path, default=VISION_CASES_FILE)
    ap.add_argument("--batches", default="", help="comma-separated batches of the grid to print (default: all)")
    args = ap.parse_args(argv)
    batches = [float(x) for x in args.batches.split(",") if x.strip()] or None
    cal = load_vision_calibration()
    for case in read_vision_cases(args.cases):
        if args.pattern not in case.case_id:
            continue
        value, point = predict_row(build_row(case, cal), params_of(cal))
        print(f"{case.case_id}: {case.scenario} {case.metric} measured {case.value:.4g}, predicted {value:.4g} "
              f"({(value / case.value - 1) * 100:+.1f} %, in sample) at batch {point.get('batch', math.nan):g}")
        print("| " + " | ".join(COLUMNS) + " |")
        for r in breakdown(case, cal, batches):
            print("| " + " | ".join(f"{r[c]:.4g}" for c in COLUMNS) + " |")


if __name__ == "__main__":
    main()
