"""One-off converter: draft inferchip chip YAMLs from the research table chips.csv.

Usage::

    python tools/catalog/build_chip_yaml.py /path/to/chips.csv --out src/inferchip/catalog/chips [--force] [ids...]

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

from chip_yaml_tables import (  # the sibling module of this script (its folder is on sys.path)
    EXTRA,
    FAMILY,
    FOUR_BIT,
    HALF_KEYS,
    HAND_WRITTEN,
    MATRIX_UNITS,
    SCALEUP,
    SRAM_IN_MIB,
    SRAM_ONLY_MB,
    STACKS,
    VECTOR_FP32,
)
from inferchip.units import CAPACITY_UNIT_BYTES, capacity_bytes


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
            sram["capacity_mb"] = round(capacity_bytes(n["onchip_sram_mb"], "MiB") / CAPACITY_UNIT_BYTES["MB"], 2)
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
        path.write_text(f"# Drafted by tools/catalog/build_chip_yaml.py from chips.csv, then reviewed by hand.\n{text}",
                        encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
