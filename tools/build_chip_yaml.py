"""One-off converter: draft inferchip chip YAMLs from the research table chips.csv.

Usage::

    python tools/build_chip_yaml.py /path/to/chips.csv --out src/inferchip/catalog/chips [--force] [ids...]

The drafts follow ``inferchip.spec.chip.ChipSpec``: dense peaks per number format,
memory capacity with the unit the source means (stacked DRAM is binary, GiB; SRAM-only
parts in MB), scale-up bandwidth per direction, sources split from the CSV's
``sources`` column, the CSV's conventions, qualifiers and notes kept in ``notes``.

The catalogue files were hand-reviewed and, for chips whose figures are estimates
(Tesla AI4/AI5/AI6, Jetson/DRIVE Thor, Jetson Orin bandwidth, GH200 compute, Cerebras
dense compute, Dojo D1 bandwidth), hand-written after drafting; existing files are never
overwritten unless ``--force`` is given.
"""

from __future__ import annotations

import argparse
import csv
import re
import sys
from pathlib import Path
from typing import Any

import yaml

FAMILY = {
    "nvidia-a100-sxm-80gb": "nvidia-ampere",
    "nvidia-h100-sxm-80gb": "nvidia-hopper",
    "nvidia-h100-pcie-80gb": "nvidia-hopper",
    "nvidia-h100-nvl-94gb": "nvidia-hopper",
    "nvidia-h200-sxm-141gb": "nvidia-hopper",
    "nvidia-gh200-144gb": "nvidia-hopper",
    "nvidia-b200-180gb": "nvidia-blackwell",
    "nvidia-gb200-186gb": "nvidia-blackwell",
    "nvidia-b300-288gb": "nvidia-blackwell",
    "nvidia-gb300-288gb": "nvidia-blackwell",
    "nvidia-l4": "nvidia-ada",
    "nvidia-l40s": "nvidia-ada",
    "nvidia-jetson-agx-orin-64gb": "nvidia-jetson",
    "nvidia-jetson-agx-thor-t5000": "nvidia-jetson",
    "nvidia-drive-agx-thor": "nvidia-jetson",
    "amd-mi250x": "amd-cdna2",
    "amd-mi300x": "amd-cdna3",
    "amd-mi325x": "amd-cdna3",
    "amd-mi355x": "amd-cdna4",
    "google-tpu-v4": "google-tpu",
    "google-tpu-v5e": "google-tpu",
    "google-tpu-v5p": "google-tpu",
    "google-tpu-v6e-trillium": "google-tpu-v6",
    "google-tpu7x-ironwood": "google-tpu-v6",
    "aws-inferentia2": "aws-neuron",
    "aws-trainium2": "aws-neuron",
    "intel-gaudi2": "intel-gaudi",
    "intel-gaudi3": "intel-gaudi",
    "groq-lpu-v1": "groq",
    "cerebras-wse-3": "cerebras",
    "sambanova-sn40l": "sambanova",
    "tenstorrent-wormhole-n150": "tenstorrent",
    "tenstorrent-blackhole-p150a": "tenstorrent",
    "qualcomm-cloud-ai-100-pro": "qualcomm",
    "qualcomm-cloud-ai-100-ultra": "qualcomm",
    "tesla-fsd-hw3": "tesla",
    "tesla-ai4-hw4": "tesla",
    "tesla-ai5": "tesla",
    "tesla-ai6": "tesla",
    "tesla-dojo-d1": "tesla-dojo",
    "tesla-dojo-training-tile": "tesla-dojo",
}

# Which 16-bit format names the source's "BF16/FP16" column covers.
HALF_KEYS = {
    "google": ("bf16",),
    "sambanova": ("bf16",),
    "tesla-dojo": ("bf16",),
    "groq": ("fp16",),
    "qualcomm": ("fp16",),
    "tenstorrent": ("fp16",),
}
FOUR_BIT = {"INT4": "int4", "FP4": "fp4", "MXFP4/MXFP6": "mxfp4", "MXFP4": "mxfp4"}

# Matrix units (tensor cores / matrix cores / MXUs / MMEs / cores), with how the count was read.
MATRIX_UNITS: dict[str, tuple[int, str | None]] = {
    "nvidia-a100-sxm-80gb": (432, None),
    "nvidia-h100-sxm-80gb": (528, None),
    "nvidia-h100-pcie-80gb": (456, None),
    "nvidia-h200-sxm-141gb": (528, None),
    "nvidia-b300-288gb": (640, "640 Tensor Cores (160 SMs x 4) per awesomeagents (secondary)."),
    "nvidia-gb300-288gb": (640, "640 Tensor Cores taken from the B300 row: same Blackwell Ultra GPU."),
    "nvidia-l4": (240, None),
    "nvidia-l40s": (568, None),
    "nvidia-jetson-agx-orin-64gb": (64, None),
    "amd-mi250x": (880, "880 = 220 CUs x 4 Matrix Cores per CU (CDNA CU layout; cf. MI300X 304 CUs = 1,216)."),
    "amd-mi300x": (1216, None),
    "amd-mi325x": (1216, None),
    "amd-mi355x": (1024, "1,024 = 256 CUs x 4 Matrix Cores per CU (CDNA CU layout; cf. MI300X)."),
    "google-tpu-v4": (8, None),
    "google-tpu-v5e": (4, None),
    "google-tpu-v5p": (8, None),
    "google-tpu-v6e-trillium": (2, None),
    "aws-inferentia2": (2, "2 = one 128x128 TensorE systolic array per NeuronCore-v2."),
    "aws-trainium2": (8, "8 = one TensorE systolic array per NeuronCore-v3."),
    "intel-gaudi2": (2, None),
    "intel-gaudi3": (8, None),
    "groq-lpu-v1": (
        4,
        "4 MXM planes DERIVED: 750 TOPS / (2 x 320 x 320 MAC x 0.9 GHz) = 4.07.",
    ),
    "cerebras-wse-3": (900000, None),
    "sambanova-sn40l": (1040, None),
    "tenstorrent-wormhole-n150": (72, None),
    "tenstorrent-blackhole-p150a": (140, "140 Tensix as for the 774 TFLOPS peak (120 enabled after Feb-2026 firmware)."),
    "qualcomm-cloud-ai-100-pro": (16, None),
    "qualcomm-cloud-ai-100-ultra": (64, None),
    "tesla-fsd-hw3": (2, None),
    "tesla-dojo-d1": (354, None),
    "tesla-dojo-training-tile": (8850, None),
}

# Scale-up bandwidth per chip per direction (GB/s) and how it was obtained from the CSV.
SCALEUP: dict[str, tuple[Any, str]] = {
    "nvidia-a100-sxm-80gb": (300, "NVLink 600 GB/s bidirectional total -> 300 per direction."),
    "nvidia-h100-sxm-80gb": (450, "NVLink 900 GB/s bidirectional total -> 450 per direction."),
    "nvidia-h100-pcie-80gb": (
        300,
        "NVLink bridge 600 GB/s, direction not stated: read as NVIDIA's usual bidirectional total -> 300.",
    ),
    "nvidia-h100-nvl-94gb": (300, "NVLink bridge 600 GB/s bidirectional -> 300 per direction."),
    "nvidia-h200-sxm-141gb": (450, "NVLink 900 GB/s bidirectional total -> 450 per direction."),
    "nvidia-gh200-144gb": (
        450,
        "GPU NVLink 450 GB/s per direction (GenZ config); the 900 GB/s is NVLink-C2C CPU<->GPU, bidirectional.",
    ),
    "nvidia-b200-180gb": (900, "NVLink 5 1,800 GB/s bidirectional total -> 900 per direction."),
    "nvidia-gb200-186gb": (900, "NVLink 5 1,800 GB/s bidirectional per GPU -> 900 per direction."),
    "nvidia-b300-288gb": (900, "NVLink 5 1,800 GB/s bidirectional total -> 900 per direction."),
    "nvidia-gb300-288gb": (900, "NVLink 5 1,800 GB/s bidirectional per GPU -> 900 per direction."),
    "google-tpu-v5e": (200, "ICI 400 GB/s bidirectional per chip -> 200 per direction."),
    "google-tpu-v5p": (600, "ICI 1,200 GB/s bidirectional per chip -> 600 per direction."),
    "google-tpu-v6e-trillium": (400, "ICI 800 GB/s bidirectional per chip -> 400 per direction."),
    "google-tpu7x-ironwood": (600, "ICI 1,200 GB/s bidirectional per chip -> 600 per direction."),
    "aws-trainium2": (
        {
            "low": 640,
            "central": 640,
            "high": 1280,
            "derivation": "AWS: '1.28 TB/sec bandwidth per chip', direction not stated. Central and low read it "
            "as a bidirectional total (1,280 / 2 = 640 per direction, the convention of NVIDIA and Google); "
            "high reads it as per direction (inferchip reading of the AWS doc).",
        },
        "NeuronLink-v3 1.28 TB/s per chip, direction not stated (Range).",
    ),
    "intel-gaudi2": (
        300,
        ("24 x 100 GbE = 4.8 Tb/s bidirectional = 600 GB/s -> 300 per direction (all 24 ports; "
        "in an 8-card server 21 ports form the all-to-all)."),
    ),
    "intel-gaudi3": (
        600,
        ("24 x 200 GbE = 9.6 Tb/s bidirectional = 1,200 GB/s -> 600 per direction (all 24 ports; "
        "in an 8-card server 21 ports form the all-to-all)."),
    ),
    "groq-lpu-v1": (
        240,
        "C2C 480 GB/s total (Linley) -> 240 per direction = 16 links x 4 lanes x 30 Gb/s / 8.",
    ),
    "tenstorrent-wormhole-n150": (
        {
            "low": 50,
            "central": 100,
            "high": 100,
            "derivation": "2 x QSFP-DD 400 GbE per card (Tenstorrent docs) = 800 Gb/s = 100 GB/s per direction; "
            "low 50 GB/s if the ports are 200G as hardwareluxx lists them.",
        },
        "2 x QSFP-DD Ethernet per card (Range: 400G per Tenstorrent, 200G per hardwareluxx).",
    ),
    "tenstorrent-blackhole-p150a": (400, "4 x 800 Gb/s = 3.2 Tb/s = 400 GB/s per direction (derived in the CSV)."),
    "tesla-dojo-training-tile": (
        {
            "low": 18000,
            "central": 18000,
            "high": 36000,
            "derivation": "Tesla AI Day 2021: '36 TB/s off-tile aggregate bandwidth' (4 edges x 9 TB/s), direction "
            "not stated; central reads the aggregate as both directions (36 / 2 = 18 TB/s per direction), high "
            "as per direction (inferchip reading).",
        },
        "36 TB/s aggregate off-tile I/O, direction not stated (Range).",
    ),
}

VECTOR_FP32 = {  # ids whose fp32 column is the SIMT/vector rate (GPU CUDA cores or similar)
    "nvidia-a100-sxm-80gb",
    "nvidia-h100-sxm-80gb",
    "nvidia-h100-pcie-80gb",
    "nvidia-h100-nvl-94gb",
    "nvidia-h200-sxm-141gb",
    "nvidia-b200-180gb",
    "nvidia-gb200-186gb",
    "nvidia-b300-288gb",
    "nvidia-gb300-288gb",
    "nvidia-l4",
    "nvidia-l40s",
    "nvidia-jetson-agx-orin-64gb",
    "amd-mi250x",
    "amd-mi300x",
    "amd-mi325x",
    "tesla-fsd-hw3",
    "tesla-dojo-d1",
    "tesla-dojo-training-tile",
}

# Hand-written after drafting (figures are estimates built in the file); never overwritten.
HAND_WRITTEN = {
    "nvidia-gh200-144gb",
    "nvidia-jetson-agx-orin-64gb",
    "nvidia-jetson-agx-thor-t5000",
    "nvidia-drive-agx-thor",
    "cerebras-wse-3",
    "tesla-ai4-hw4",
    "tesla-ai5",
    "tesla-ai6",
    "tesla-dojo-d1",
}

# Reviewed additions, merged into the draft (dicts merged, "notes" appended).
EXTRA: dict[str, dict[str, Any]] = {
    "amd-mi250x": {
        "compute": {"dense_tflops": {"fp32": 95.7}},
        "notes": "dense fp32 = FP32 matrix/packed 95.7 (peak_convention); vector_tflops = FP32 vector 47.9.",
    },
    "nvidia-b200-180gb": {
        "memory": {"usable_capacity_gib": 179},
        "silicon": {"memory_stacks": 8},
        "notes": "usable_capacity_gib 179: nvidia-smi total as listed by docs.vultr.com ('179 GB visible'; "
        "nvidia-smi counts MiB, so read as GiB). memory_stacks 8 from the CSV notes (192 GB physical).",
    },
    "nvidia-b300-288gb": {
        "memory": {"usable_capacity_gib": 270},
        "notes": "usable_capacity_gib 270 = Verda's 'usable' figure for HGX B300 (unit not stated; read as GiB).",
    },
    "nvidia-gb300-288gb": {
        "memory": {"usable_capacity_gib": 279},
        "notes": "usable_capacity_gib 279 = Verda's 'usable' figure for GB300 (unit not stated; read as GiB).",
    },
    "tenstorrent-blackhole-p150a": {
        "compute": {"dense_tflops": {"bf16": 332}},
        "notes": "bf16 332 TFLOPS is awesomeagents' figure at 120 Tensix (secondary, peak_convention); the fp8 774 "
        "is at 140 Tensix. Entered so BF16 work does not fall back to the FP8 peak.",
    },
    "intel-gaudi3": {
        "compute": {"vector_tflops": 28.7},
        "interconnect": {"scaleout_bw_gb_per_s_per_direction": 75},
        "notes": "vector_tflops 28.7 is the TPC BF16 vector peak (FP32 vector not in sources read). "
        "scaleout 75 GB/s = 3 of the 24 x 200 GbE ports used for scale-out in an 8-card server "
        "(inferchip assumption, as the intel-gaudi family default for Gaudi 2).",
    },
}

SRAM_ONLY_MB = {"groq-lpu-v1", "cerebras-wse-3", "tesla-dojo-d1"}
SRAM_IN_MIB = {  # onchip_sram_mb column holds MiB (vendor units); converted to MB
    "aws-inferentia2",
    "aws-trainium2",
    "qualcomm-cloud-ai-100-pro",
    "qualcomm-cloud-ai-100-ultra",
    "tesla-fsd-hw3",
}
STACKS = {
    "amd-mi250x": 8,
    "amd-mi300x": 8,
    "amd-mi325x": 8,
    "google-tpu7x-ironwood": 8,
    "aws-inferentia2": 2,
    "aws-trainium2": 4,
    "intel-gaudi3": 8,
}


def _num(s: str) -> float | int | None:
    s = s.strip()
    if not s:
        return None
    v = float(s.replace(",", ""))
    return int(v) if v.is_integer() and "." not in s else v


def node_nm(process: str) -> float | None:
    """Nominal node number from the CSV's process text: 'TSMC 4N' -> 4, 'N3P' -> 3, '14nm' -> 14."""
    m = re.search(r"(\d+)\s*nm", process)
    if m:
        return float(m.group(1))
    m = re.search(r"\b(\d)NP?\b", process) or re.search(r"\bN(\d)P?\b", process)
    return float(m.group(1)) if m else None


_URL = re.compile(r"(?<![\w./-])((?:[a-z0-9-]+\.)+([a-z]{2,10})(?:/[^\s;,()]*)?)")
_NOT_TLD = {"json", "py", "md", "rst", "html", "pdf", "csv", "txt"}
_VENDOR_DOCS = ("docs.cloud.google", "cloud.google.com/tpu", "aws-neuron", "docs.tenstorrent", "quic.github.io",
                "rocm", "mlperf", "product brief", "slides", "nvidia.com/dgx", "nki")


def _split_top_level(text: str) -> list[str]:
    """Split on ';' outside parentheses."""
    parts, depth, cur = [], 0, []
    for ch in text:
        depth += ch == "("
        depth -= ch == ")"
        if ch == ";" and depth == 0:
            parts.append("".join(cur).strip())
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur).strip())
    return [p for p in parts if p]


def source_records(text: str) -> list[dict[str, Any]]:
    out = []
    for part in _split_top_level(text):
        rec: dict[str, Any] = {"citation": part}
        low = part.lower()
        head = low.split(" (")[0]
        if "cross-check" in low or ("genz" in low and "config" in low):
            kind = "press"
            rec["note"] = "cross-check only (simulator config)"
        elif "estimate" in low:
            kind = "estimate"
        elif any(k in low for k in ("ieee", "isca", "doi ")):
            kind = "paper"
        elif any(k in low for k in _VENDOR_DOCS) or (
            "datasheet" in low and "cites" not in low and "forum" not in head
        ):
            kind = "datasheet"
        else:
            kind = "press"
        rec["kind"] = kind
        doi = re.search(r"DOI (10\.[^\s;,)]+)", part)
        gh = re.search(r"github (?:repo )?([A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+)", part)
        if doi:
            rec["url"] = "https://doi.org/" + doi.group(1)
        elif gh:
            rec["url"] = "https://github.com/" + gh.group(1)
        else:
            for m in _URL.finditer(part):
                if m.group(2) not in _NOT_TLD:
                    rec["url"] = "https://" + m.group(1).rstrip(".")
                    break
        out.append(rec)
    return out


def draft(row: dict[str, str]) -> dict[str, Any]:
    cid = row["id"]
    fam = FAMILY[cid]
    n = {k: _num(v) if k.endswith(("_tflops", "_tops", "_ghz", "_mb", "_gb", "_tbps", "_gbps", "_w", "_usd",
                                     "_mm2_per_compute_die", "_billion", "_count", "_domain", "_hour", "_low",
                                     "_high")) else v for k, v in row.items()}
    notes: list[str] = []

    dense: dict[str, Any] = {}
    if n["fp32_tflops"] is not None:
        dense["fp32"] = n["fp32_tflops"]
    if n["tf32_tflops"] is not None:
        dense["tf32"] = n["tf32_tflops"]
    if n["bf16_fp16_tflops"] is not None:
        keys = HALF_KEYS.get(fam, HALF_KEYS.get(fam.split("-")[0], ("bf16", "fp16")))
        for k in keys:
            dense[k] = n["bf16_fp16_tflops"]
    if n["fp8_tflops"] is not None:
        dense["fp8"] = n["fp8_tflops"]
    if n["int8_tops"] is not None:
        dense["int8"] = n["int8_tops"]
    if n["fp4_or_int4_tops"] is not None:
        dense[FOUR_BIT[row["fp4_or_int4_format"]]] = n["fp4_or_int4_tops"]
    compute: dict[str, Any] = {"dense_tflops": dense}
    if cid in VECTOR_FP32 and n["fp32_tflops"] is not None:
        compute["vector_tflops"] = n["fp32_tflops"]
    if n["clock_ghz"] is not None:
        compute["clock_ghz"] = n["clock_ghz"]
    if cid in MATRIX_UNITS:
        count, why = MATRIX_UNITS[cid]
        compute["matrix_unit_count"] = count
        if why:
            notes.append(why)
    if row["matrix_units"]:
        compute["matrix_units_description"] = row["matrix_units"]

    memory: dict[str, Any] = {"type": row["memory_type"]}
    if n["memory_capacity_gb"] is not None:
        if cid in SRAM_ONLY_MB:
            mb = round(n["memory_capacity_gb"] * 1000, 6)
            memory["capacity"] = int(mb) if float(mb).is_integer() else mb
            memory["capacity_unit"] = "MB"
        else:
            memory["capacity"] = n["memory_capacity_gb"]
            memory["capacity_unit"] = "GiB"
            notes.append(
                f"Capacity {n['memory_capacity_gb']} GB read as GiB: stacked/DRAM capacities are binary."
            )
    if n["memory_bandwidth_tbps"] is not None:
        memory["bandwidth_tb_per_s"] = n["memory_bandwidth_tbps"]

    sram: dict[str, Any] = {}
    if n["onchip_sram_mb"] is not None:
        if cid in SRAM_IN_MIB:
            sram["capacity_mb"] = round(n["onchip_sram_mb"] * 2**20 / 1e6, 2)
            notes.append(f"On-chip SRAM {n['onchip_sram_mb']} MiB = {sram['capacity_mb']} MB.")
        else:
            sram["capacity_mb"] = n["onchip_sram_mb"]

    inter: dict[str, Any] = {}
    if row["scaleup_interconnect"]:
        inter["scaleup_name"] = row["scaleup_interconnect"]
    if cid in SCALEUP:
        bw, why = SCALEUP[cid]
        inter["scaleup_bw_gb_per_s_per_direction"] = bw
        notes.append(why)
        row = {**row, "scaleup_bw_convention": ""}  # restated in the line above
    elif n["scaleup_bw_gbps"] is not None:
        raise SystemExit(f"{cid}: scale-up bandwidth {n['scaleup_bw_gbps']} needs a direction decision")
    if n["max_scaleup_domain"] is not None:
        inter["max_scaleup_domain"] = n["max_scaleup_domain"]

    power = {"tdp_w": n["tdp_w"]} if n["tdp_w"] is not None else {}

    silicon: dict[str, Any] = {}
    if row["process_node"]:
        silicon["process_node"] = row["process_node"]
        nm = node_nm(row["process_node"])
        if nm is not None:
            silicon["node_nm"] = nm
            if "4N" in row["process_node"]:
                notes.append("TSMC 4N/4NP is a 5nm-class node; node_nm 4 as named.")
    if n["die_area_mm2_per_compute_die"] is not None:
        silicon["die_area_mm2"] = n["die_area_mm2_per_compute_die"]
    if n["compute_die_count"] is not None:
        silicon["compute_die_count"] = n["compute_die_count"]
    if n["transistors_billion"] is not None:
        silicon["transistors_billion"] = n["transistors_billion"]
    if cid in STACKS:
        silicon["memory_stacks"] = STACKS[cid]

    price: dict[str, Any] = {}
    lo, hi = n["price_usd_low"], n["price_usd_high"]
    if lo is not None and hi is not None:
        if lo == hi:
            price["usd"] = lo
        else:
            price["usd"] = {
                "low": lo,
                "central": (lo + hi) / 2,
                "high": hi,
                "derivation": f"Reported range ${lo:,}-${hi:,}, central = midpoint; sources in price.note.",
            }
    if n["cloud_usd_per_chip_hour"] is not None:
        price["cloud_usd_per_hour"] = n["cloud_usd_per_chip_hour"]
    pnote = "; cloud: ".join(x for x in (row["price_note"], row["cloud_note"]) if x)
    if pnote:
        price["note"] = pnote

    for label, key in (
        ("Peaks", "peak_convention"),
        ("SRAM", "onchip_sram_breakdown"),
        ("Scale-up", "scaleup_bw_convention"),
        ("Qualifiers", "field_qualifiers"),
        ("CSV notes", "notes"),
    ):
        if row[key]:
            notes.append(f"{label}: {row[key]}")

    doc: dict[str, Any] = {
        "id": cid,
        "name": row["name"],
        "vendor": row["vendor"],
        "family": fam,
        "category": row["category"],
        "status": row["status"],
    }
    if n["year"]:
        doc["year"] = int(row["year"])
    doc["compute"] = compute
    doc["memory"] = memory
    for key, part in (("sram", sram), ("interconnect", inter), ("power", power), ("silicon", silicon),
                      ("price", price)):
        if part:
            doc[key] = part
    doc["sources"] = source_records(row["sources"])
    extra = EXTRA.get(cid, {})
    for key, val in extra.items():
        if key == "notes":
            notes.insert(0, val)
        else:
            _merge(doc.setdefault(key, {}), val)
    doc["notes"] = "\n".join(notes)
    return doc


def _merge(into: dict[str, Any], new: dict[str, Any]) -> None:
    for k, v in new.items():
        if isinstance(v, dict) and isinstance(into.get(k), dict):
            _merge(into[k], v)
        else:
            into[k] = v


class _Dumper(yaml.SafeDumper):
    pass


def _str(dumper: yaml.SafeDumper, data: str) -> yaml.Node:
    style = "|" if "\n" in data else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


_Dumper.add_representer(str, _str)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("csv", type=Path)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--force", action="store_true", help="overwrite existing YAML files")
    ap.add_argument("ids", nargs="*")
    args = ap.parse_args(argv)
    rows = list(csv.DictReader(args.csv.open(encoding="utf-8")))
    args.out.mkdir(parents=True, exist_ok=True)
    for row in rows:
        if args.ids and row["id"] not in args.ids:
            continue
        path = args.out / f"{row['id']}.yaml"
        if row["id"] in HAND_WRITTEN and path.exists():
            sys.stderr.write(f"skip {path} (hand-written)\n")
            continue
        if path.exists() and not args.force:
            sys.stderr.write(f"skip {path} (exists)\n")
            continue
        text = yaml.dump(draft(row), Dumper=_Dumper, sort_keys=False, width=110, allow_unicode=True)
        path.write_text(f"# Drafted by tools/build_chip_yaml.py from chips.csv, then reviewed by hand.\n{text}",
                        encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
