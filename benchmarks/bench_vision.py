"""Speed of the vision pieces: ONNX import of a 1,000-node graph (target < 2 s), a ResNet-50 prediction
(target < 5 ms) and an 8 MP segmentation prediction (DeepLabV3+ at 2160x3840, target < 50 ms).

usage: PYTHONPATH=src python benchmarks/bench_vision.py [--runs N]

A "prediction" is :func:`inferchip.performance.vision.frame_cost` for one chip (catalogue spec already
loaded) at one batch size, network already built (the first build of each network is timed apart:
a command pays it once). Best and median of N runs, wall seconds. Not a timed test: a loaded machine
makes every figure slower.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np


def timed(fn: Callable[[], object], runs: int) -> tuple[float, float]:
    out = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return min(out), statistics.median(out)


def onnx_graph(path: Path, nodes: int = 1000) -> None:
    """A chain of nodes/2 3x3 convolutions, each followed by a ReLU, on a 1x64x56x56 input."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    ops, x = [], "x"
    for i in range(nodes // 2):
        ops += [helper.make_node("Conv", [x, "w"], [f"c{i}"], pads=[1, 1, 1, 1]),
                helper.make_node("Relu", [f"c{i}"], [f"r{i}"])]
        x = f"r{i}"
    w = numpy_helper.from_array(np.zeros((64, 64, 3, 3), dtype=np.float32), "w")
    g = helper.make_graph(ops, "chain", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 64, 56, 56])],
                          [helper.make_tensor_value_info(x, TensorProto.FLOAT, None)], [w])
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), str(path))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=20)
    runs = ap.parse_args().runs
    from inferchip.catalog.chips import load_chip
    from inferchip.performance.vision import frame_cost
    from inferchip.workload.vision.network import load_network

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "chain.onnx"
        onnx_graph(path)
        best, med = timed(lambda: load_network(str(path), N=1), max(3, runs // 5))
        print(f"ONNX import, 1,000 nodes:                best {best:.3f} s, median {med:.3f} s (target < 2 s)")

    chip = load_chip("nvidia-h100-sxm-80gb")
    for label, net_id, target in (("ResNet-50 v1.5, batch 1", "resnet50-v1.5", 5.0),
                                  ("DeepLabV3+ at 8 MP, batch 1", "deeplabv3plus-resnet50-os16-cognata-8mp", 50.0)):
        t = time.perf_counter()
        net = load_network(net_id)
        build = time.perf_counter() - t
        frame_cost(chip, net, np.array([1]))  # warm the chip's parameters
        best, med = timed(lambda net=net: frame_cost(chip, net, np.array([1])), runs)
        print(f"{label + ' prediction:':40} best {best * 1e3:.2f} ms, median {med * 1e3:.2f} ms "
              f"(target < {target:g} ms); first build of the network {build * 1e3:.0f} ms")
    net = load_network("resnet50-v1.5")
    grid = np.arange(1, 257)
    best, med = timed(lambda: frame_cost(chip, net, grid), max(3, runs // 4))
    print(f"ResNet-50, 256 batch sizes in one call:  best {best * 1e3:.2f} ms, median {med * 1e3:.2f} ms")


if __name__ == "__main__":
    main()
