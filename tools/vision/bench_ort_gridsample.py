"""Time ONNX Runtime's CPU ``GridSample`` per output element on one thread, at BEVFormer-tiny's shapes: the figure
behind ``cost/vision/ort_gridsample.py`` ``CYCLES_PER_OUTPUT`` (stop 31: 11.45-12.17 ns per output on an AMD EPYC VM
core whose dependent-add loop ran 3.92-4.04 G iterations per CPU second, i.e. 46-48 cycles per output; rerun by the
lead with onnxruntime 1.22.0 at 4.0 GHz: 46-54 cycles inside the map, 40-50 with two thirds outside. onnxruntime 1.32.0
on the same machine: 4-8 cycles, the bilinear/zeros fast path of microsoft/onnxruntime PR #27359: the version matters).

One GridSample-16 node (bilinear, zeros, align_corners 0) per shape, ``intra_op_num_threads = 1``, best of 5 runs
in process CPU time (a shared machine's wall time counts other processes' time slices). Sampling points inside the
map, and with two thirds outside it. Multiply the ns per output by the core's clock (GHz) for cycles per output:
``--clock-ghz`` (the clock the core ran at; measure it, e.g. with a dependent-add loop timed in CPU time).

    python tools/vision/bench_ort_gridsample.py [--clock-ghz 4.0]

Needs ``onnx`` and ``onnxruntime`` (``pip install onnxruntime==1.22.0``, the version of the MLPerf Automotive CPU row;
not a dependency of inferchip).
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

SHAPES = {  # value (N, C, H, W), grid (N, H_out, W_out, 2): BEVFormer-tiny, 8 heads of 32 channels
    "spatial cross-attention": ((48, 32, 15, 25), (48, 2500, 8, 2)),  # 6 cameras x 8 heads, 2,500 BEV queries
    "temporal self-attention": ((16, 32, 50, 50), (16, 2500, 4, 2)),  # 2 BEV frames x 8 heads
    "decoder cross-attention": ((8, 32, 50, 50), (8, 900, 4, 2)),  # 900 object queries
}


def gridsample_model(value_shape: tuple[int, ...], grid_shape: tuple[int, ...]) -> bytes:
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("X", TensorProto.FLOAT, list(value_shape))
    g = helper.make_tensor_value_info("G", TensorProto.FLOAT, list(grid_shape))
    out_shape = [value_shape[0], value_shape[1], grid_shape[1], grid_shape[2]]
    y = helper.make_tensor_value_info("Y", TensorProto.FLOAT, out_shape)
    node = helper.make_node("GridSample", ["X", "G"], ["Y"], mode="bilinear", padding_mode="zeros", align_corners=0)
    model = helper.make_model(helper.make_graph([node], "gridsample", [x, g], [y]),
                              opset_imports=[helper.make_opsetid("", 16)])
    model.ir_version = 8
    return bytes(model.SerializeToString())


def ns_per_output(value_shape: tuple[int, ...], grid_shape: tuple[int, ...], outside_share: float,
                  runs: int = 5) -> float:
    """Best-of-``runs`` CPU time of one single-threaded GridSample call per output element, ns."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    sess = ort.InferenceSession(gridsample_model(value_shape, grid_shape), opts, providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(0)
    x = rng.standard_normal(value_shape, dtype=np.float32)
    grid = rng.uniform(-1.0, 1.0, grid_shape).astype(np.float32)
    outside = int(grid_shape[1] * outside_share)
    grid[:, grid_shape[1] - outside:] = rng.uniform(3.0, 30.0, (grid_shape[0], outside) + tuple(grid_shape[2:]))
    sess.run(None, {"X": x, "G": grid})
    best = min(_cpu_time(sess, x, grid) for _ in range(runs))
    outputs = value_shape[0] * value_shape[1] * grid_shape[1] * grid_shape[2]
    return best / outputs * 1e9


def _cpu_time(sess: object, x: np.ndarray, grid: np.ndarray) -> float:
    t0 = time.process_time()
    sess.run(None, {"X": x, "G": grid})  # type: ignore[attr-defined]
    return time.process_time() - t0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clock-ghz", type=float, default=None, help="the core clock, to print cycles per output")
    args = ap.parse_args(argv)
    if args.clock_ghz is not None and not args.clock_ghz > 0:
        ap.error(f"--clock-ghz: {args.clock_ghz} is not a positive clock in GHz")
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        print("bench_ort_gridsample: onnxruntime is not installed (pip install onnxruntime)", file=sys.stderr)
        return 2
    for name, (value_shape, grid_shape) in SHAPES.items():
        for label, share in (("inside", 0.0), ("2/3 outside", 2.0 / 3.0)):
            ns = ns_per_output(value_shape, grid_shape, share)
            cycles = "" if args.clock_ghz is None else f", {ns * args.clock_ghz:.0f} cycles"
            print(f"{name}, points {label}: {ns:.2f} ns per output{cycles}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
