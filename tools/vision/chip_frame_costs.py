"""Frame latency and DRAM bytes per frame of a few networks on a few chips as JSON; two such files compared.

Made for a chip-data change that no validation row covers (branch sram45: the on-chip SRAM of chips with no vision
rows): run it once on each checkout and compare.

    PYTHONPATH=src python tools/vision/chip_frame_costs.py run OUT.json [--chips a,b] [--networks x,y] [--batches 1,8]
    python tools/vision/chip_frame_costs.py compare BEFORE.json AFTER.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

NETWORKS = "resnet50-v1.5,yolov8n-640,vit-b16-224,retinanet-resnext50-fpn-800,ssd-resnet50-cognata-8mp"


def _one(x: object) -> float:
    """A frame cost's figure for its one batch (the cost model answers arrays, one entry a batch)."""
    import numpy as np

    return float(np.asarray(x, dtype=float).reshape(-1)[0])


def run(chips: list[str], networks: list[str], batches: list[int]) -> dict[str, dict[str, float | str]]:
    from inferchip.performance.vision import frame_cost  # the checkout on PYTHONPATH

    out: dict[str, dict[str, float | str]] = {}
    for chip in chips:
        for net in networks:
            for b in batches:
                key = f"{chip}|{net}|{b}"
                try:
                    f = frame_cost(chip, net, b)
                except Exception as e:  # a chip that cannot run the network says why, in the file
                    out[key] = {"error": f"{type(e).__name__}: {e}"[:200]}
                    continue
                out[key] = {"latency_s": _one(f.latency_s), "dram_bytes_per_frame": _one(f.bytes_per_frame),
                            "energy_j": _one(f.energy_j),
                            "all_dram_note": float(any("states no on-chip SRAM" in n for n in f.notes))}
    return out


def compare(before: dict[str, dict[str, float | str]], after: dict[str, dict[str, float | str]]) -> list[str]:
    lines = [f"{'chip | network | batch':62s} {'latency ms':>21s} {'DRAM MB/frame':>21s}"]
    for key in before:
        a, b = before[key], after.get(key)
        if b is None or "error" in a or "error" in b:
            lines.append(f"{key:62s} {a.get('error', '')} -> {(b or {}).get('error', 'missing')}")
            continue
        la, lb = float(a["latency_s"]) * 1e3, float(b["latency_s"]) * 1e3
        da, db = float(a["dram_bytes_per_frame"]) / 1e6, float(b["dram_bytes_per_frame"]) / 1e6
        lines.append(f"{key:62s} {la:9.3f} -> {lb:9.3f} {da:9.2f} -> {db:9.2f}")
    return lines


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("out", type=Path)
    r.add_argument("--chips", required=True, help="comma-separated chip ids")
    r.add_argument("--networks", default=NETWORKS)
    r.add_argument("--batches", default="1,8")
    c = sub.add_parser("compare")
    c.add_argument("before", type=Path)
    c.add_argument("after", type=Path)
    args = p.parse_args(argv)
    if args.cmd == "run":
        batches = [int(x) for x in args.batches.split(",")]
        data = run(args.chips.split(","), args.networks.split(","), batches)
        args.out.write_text(json.dumps(data, indent=1))
        return 0
    print("\n".join(compare(json.loads(args.before.read_text()), json.loads(args.after.read_text()))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
