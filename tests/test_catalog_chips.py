"""The bundled chip catalogue: every chip of the research table, loaded, sourced and converted to SI.

Expected numbers are written out from the datasheets (via the research table, copied to
tests/data/reference/chips.csv) with the reason next to them; the CSV-wide check compares the
YAMLs with the table cell by cell.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import pytest
from pydantic import BaseModel

from inferchip.catalog.chips import (
    all_chips,
    chip_ids,
    family_defaults,
    family_names,
    get_chip_params,
    load_chip,
)
from inferchip.errors import InvalidSettingError, SpecError
from inferchip.spec.chip import Range

CSV_PATH = Path(__file__).parent / "data/reference/chips.csv"  # a copy of the research table
GIB = 2**30

# Chips whose missing datasheet figures were filled with Range estimates (estimate: true).
ESTIMATED = {
    "nvidia-rubin-288gb",
    "amd-mi455x",
    "nvidia-gh200-144gb",
    "nvidia-jetson-agx-orin-64gb",
    "nvidia-jetson-agx-thor-t5000",
    "nvidia-drive-agx-thor",
    "cerebras-wse-3",
    "tesla-ai4-hw4",
    "tesla-ai5",
    "tesla-ai6",
    "tesla-dojo-d1",
    "untetherai-speedai240-preview",  # card power, LPDDR5 and the dense reading of the FP8 headline
    "untetherai-speedai240-slim",
}


def _csv_rows() -> list[dict[str, str]]:
    if not CSV_PATH.is_file():
        pytest.skip(f"reference table not found at {CSV_PATH}")
    with CSV_PATH.open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _ranges(obj: object, prefix: str = "") -> dict[str, Range]:
    """Every Range inside a spec, by dotted path (independent of ChipSpec.figures)."""
    out: dict[str, Range] = {}
    if isinstance(obj, Range):
        out[prefix.rstrip(".")] = obj
    elif isinstance(obj, BaseModel):
        for k in type(obj).model_fields:
            out.update(_ranges(getattr(obj, k), f"{prefix}{k}."))
    elif isinstance(obj, dict):
        for k, v in obj.items():
            out.update(_ranges(v, f"{prefix}{k}."))
    return out


# ---------------------------------------------------------------- coverage


def test_catalogue_has_at_least_the_41_researched_chips():
    assert len(chip_ids()) >= 41
    assert chip_ids() == sorted(chip_ids())


def test_every_csv_id_is_in_the_catalogue():
    ids = {r["id"] for r in _csv_rows()}
    assert len(ids) == 41
    missing = ids - set(chip_ids())
    assert not missing, f"chips.csv ids without a YAML: {sorted(missing)}"


@pytest.mark.parametrize("chip_id", chip_ids())
def test_each_chip_loads_and_converts_at_every_level(chip_id):
    spec = load_chip(chip_id)
    assert spec.id == chip_id, "file name and id must agree"
    assert spec.sources, "every chip names its sources"
    family_defaults(spec.family)  # the family exists
    prev = None
    for level in ("low", "central", "high"):
        p = get_chip_params(chip_id, level)
        assert p.memory_bytes_per_s > 0
        assert p.memory_capacity_bytes > 0
        assert max(p.peak_flop_per_s.values()) > 0
        assert 0 < p.usable_memory_bytes <= p.memory_capacity_bytes
        if prev is not None:  # a Range is ordered low <= central <= high, so the params are too
            assert p.memory_bytes_per_s >= prev.memory_bytes_per_s
            assert max(p.peak_flop_per_s.values()) >= max(prev.peak_flop_per_s.values())
        prev = p


def test_all_chips_returns_every_id_in_order():
    assert [c.id for c in all_chips()] == chip_ids()


# ---------------------------------------------------------------- hand-checked values


def test_h100_sxm_in_si_units():
    p = get_chip_params("nvidia-h100-sxm-80gb")
    # NVIDIA datasheet sparse 1,979 BF16 / 3,958 FP8 TFLOPS, halved for dense.
    assert p.peak_flop_per_s["bf16"] == pytest.approx(989.4e12)
    assert p.peak_flop_per_s["fp8"] == pytest.approx(1978.9e12)
    assert p.memory_bytes_per_s == pytest.approx(3.35e12)  # 3.35 TB/s, decimal
    assert p.memory_capacity_bytes == 80 * GIB  # 80 GB of HBM3 stacks = 80 GiB
    assert p.link_bytes_per_s == pytest.approx(450e9)  # NVLink 900 GB/s bidirectional / 2
    # 132 SMs x 4 Tensor Cores = 528 units, one 128x256 CTA tile per SM -> 528 x 0.25 = 132 tiles.
    assert p.gemm_tiles_in_flight == pytest.approx(132)
    assert p.tdp_w == 700
    # Hopper family: 2 GiB runtime reserve when no usable capacity is given.
    assert p.usable_memory_bytes == 78 * GIB


def test_mi300x_and_a100_peaks():
    mi = get_chip_params("amd-mi300x")
    assert mi.peak_flop_per_s["bf16"] == pytest.approx(1307.4e12)  # ROCm: 2048 FLOP/clk/CU x 304 CU x 2.1 GHz
    assert 2048 * 304 * 2.1e9 == pytest.approx(1307.4e12, rel=1e-3)
    assert mi.memory_capacity_bytes == 192 * GIB
    a100 = get_chip_params("nvidia-a100-sxm-80gb")
    assert a100.peak_flop_per_s["bf16"] == pytest.approx(312e12)
    assert a100.peak_flop_per_s["int4"] == pytest.approx(1248e12)
    assert a100.link_bytes_per_s == pytest.approx(300e9)  # 600 GB/s bidirectional / 2


def test_sram_only_capacity_in_decimal_megabytes():
    groq = get_chip_params("groq-lpu-v1")
    assert groq.memory_capacity_bytes == pytest.approx(230e6)  # 230 MB SRAM as Groq publishes
    assert groq.memory_bytes_per_s == pytest.approx(80e12)
    assert groq.usable_memory_bytes == pytest.approx(230e6)  # groq family keeps no runtime reserve
    assert get_chip_params("cerebras-wse-3").memory_capacity_bytes == pytest.approx(44e9)


def test_mib_sram_is_converted_to_mb():
    # Inferentia2: 2 NeuronCores x (24 MiB SBUF + 2 MiB PSUM) = 52 MiB = 54.53 MB.
    p = get_chip_params("aws-inferentia2")
    assert p.sram_bytes == pytest.approx(52 * 2**20, rel=1e-4)


def test_fp4_format_follows_the_csv_column():
    assert "fp4" in load_chip("nvidia-b200-180gb").compute.dense_tflops  # NVFP4
    assert "mxfp4" in load_chip("amd-mi355x").compute.dense_tflops  # MXFP4/MXFP6
    assert "int4" in load_chip("nvidia-a100-sxm-80gb").compute.dense_tflops


def test_usable_capacity_where_the_runtime_figure_is_published():
    # docs.vultr.com: nvidia-smi shows 179 GB on B200 (nvidia-smi counts MiB, so GiB).
    assert get_chip_params("nvidia-b200-180gb").usable_memory_bytes == 179 * GIB


# ---------------------------------------------------------------- estimates


@pytest.mark.parametrize("chip_id", sorted(ESTIMATED))
def test_estimated_chips_are_flagged_and_carry_ranges(chip_id):
    spec = load_chip(chip_id)
    assert spec.estimate is True
    ranges = _ranges(spec)
    assert ranges, "an estimated chip must give Range figures"
    for path, r in ranges.items():
        assert r.derivation.strip(), f"{path} needs its derivation written out"
    assert any(s.kind == "estimate" for s in spec.sources), "whose estimate it is must be cited"


def test_chips_not_listed_as_estimates_are_not_flagged():
    flagged = {c.id for c in all_chips() if c.estimate}
    assert flagged == ESTIMATED


def test_tesla_ai5_follows_the_published_reports():
    ai5 = load_chip("tesla-ai5")
    assert ai5.memory.memory_type == "lpddr5x"  # 12 SK hynix LPDDR5X packages (sample photo, leak report 2026-04)
    bw = ai5.memory.bandwidth_tb_per_s
    assert isinstance(bw, Range)
    assert bw.low == pytest.approx(12 * 64 * 8.533e9 / 8 / 1e12, rel=0.01)  # 12 x 64-bit LPDDR5X-8533
    assert 0.8 <= bw.low <= bw.central <= bw.high <= 1.2  # 'about 0.8-1.2 TB/s' reported
    assert bw.low <= 1.15 <= bw.high  # the one report's 1.15 TB/s lies inside
    cap = ai5.memory.capacity
    assert isinstance(cap, Range) and ai5.memory.capacity_unit == "GiB"
    assert cap.central == 12 * 8  # 96 GB reported = 12 packages x 8 GB
    int8 = ai5.compute.dense_tflops["int8"]
    assert isinstance(int8, Range)
    assert (int8.low, int8.high) == (2000, 2500)  # '2,000-2,500 TOPS' reported
    h100_int8 = load_chip("nvidia-h100-sxm-80gb").compute.dense_tflops["int8"]
    assert int8.low <= 1.1 * h100_int8  # 'one AI5 ~ Hopper'
    bf16 = ai5.compute.dense_tflops["bf16"]
    assert bf16.central == pytest.approx(int8.central / 2)  # 16-bit at half the 8-bit rate
    area = ai5.silicon.die_area_mm2
    assert isinstance(area, Range) and area.low <= 858 / 2 <= area.high  # half reticle (26 x 33 mm field)
    tdp = ai5.power.tdp_w
    assert tdp.central == pytest.approx(1000 / 3, rel=0.01)  # '~1/3 the power of Blackwell' (B200 1,000 W)
    assert tdp.high == pytest.approx(1200 / 3)  # GB200 1,200 W
    p = get_chip_params("tesla-ai5")
    assert p.max_scaleup_domain > 1  # deployed as boards of N chips, not one chip alone
    # AI4 re-checked: per SoC, the central is twice the earlier 62.5 TOPS (125 = the HW4 computer's 250 / 2).
    ai4 = load_chip("tesla-ai4-hw4")
    assert ai4.compute.dense_tflops["int8"].central == pytest.approx(250 / 2)
    assert ai4.memory.bandwidth_tb_per_s.central == pytest.approx(0.384 / 2)


def test_tesla_ai6_doubles_ai5_at_central():
    ai5, ai6 = load_chip("tesla-ai5"), load_chip("tesla-ai6")
    for fmt in ("int8", "bf16", "fp4"):
        assert ai6.compute.dense_tflops[fmt].central == pytest.approx(2 * ai5.compute.dense_tflops[fmt].central)
        assert ai6.compute.dense_tflops[fmt].low == pytest.approx(ai5.compute.dense_tflops[fmt].low)
    assert ai6.memory.bandwidth_tb_per_s.central == pytest.approx(2 * ai5.memory.bandwidth_tb_per_s.central)


def test_orin_dense_int8_is_half_the_sparse_headline_and_bandwidth_is_lpddr5():
    p = get_chip_params("nvidia-jetson-agx-orin-64gb")
    assert p.peak_flop_per_s["int8"] == pytest.approx(275e12 / 2)
    assert p.memory_bytes_per_s == pytest.approx(256 / 8 * 6400e6)  # 256-bit LPDDR5 at 6,400 MT/s


def test_estimate_levels_pick_low_and_high():
    lo, hi = get_chip_params("cerebras-wse-3", "low"), get_chip_params("cerebras-wse-3", "high")
    assert lo.peak_flop_per_s["bf16"] == pytest.approx(62.5e15)  # 125 PF headline read as sparse
    assert hi.peak_flop_per_s["bf16"] == pytest.approx(125e15)  # ... or as dense
    with pytest.raises(InvalidSettingError, match="medium"):
        get_chip_params("cerebras-wse-3", "medium")


# ---------------------------------------------------------------- families


def test_families_cover_the_catalogue_and_generic():
    names = set(family_names())
    assert "generic" in names
    assert {c.family for c in all_chips()} <= names
    for name in names:
        fam = family_defaults(name)
        assert fam.sources
        # an undocumented default must say it is an estimate or an assumption
        assert all(s.kind in ("datasheet", "paper", "measurement", "press", "estimate", "assumption")
                   for s in fam.sources)


def test_nvidia_tile_rule_from_the_matrix_multiplication_guide():
    # One 256x128 thread-block tile per SM on A100 (guide's example: 108 tiles per wave).
    fam = family_defaults("nvidia-ampere")
    assert fam.gemm_tile == (256, 128)
    assert 432 * fam.gemm_tiles_in_flight_per_unit == 108
    # Systolic arrays: one array-sized tile per array.
    assert family_defaults("google-tpu").gemm_tile == (128, 128)
    assert family_defaults("google-tpu").gemm_tiles_in_flight_per_unit == 1.0
    assert family_defaults("intel-gaudi").gemm_tile == (256, 256)


# NVIDIA GPUs whose SM count is public (device queries): Tensor Cores = SMs x 4 per SM.
_NVIDIA_SMS = {
    "nvidia-b200-180gb": 148,  # cudaGetDeviceProperties on B200 (pytorch/ao PR #4002)
    "nvidia-gb200-186gb": 152,  # GB200 enables 152 SMs (ByteDance-Seed/VeOmni PR #986)
    "nvidia-h100-nvl-94gb": 132,  # GH100 as H100 SXM (multiProcessorCount 132)
    "nvidia-h100-sxm-80gb": 132,
    "nvidia-h200-sxm-141gb": 132,
    "nvidia-b300-288gb": 160,
}


@pytest.mark.parametrize("chip_id,sms", sorted(_NVIDIA_SMS.items()))
def test_nvidia_matrix_units_are_four_tensor_cores_per_sm(chip_id, sms):
    spec = load_chip(chip_id)
    assert spec.compute.matrix_unit_count == 4 * sms
    # Hopper/Blackwell families run one 128x256 tile per SM = 0.25 per Tensor Core: one tile per SM in flight.
    assert get_chip_params(chip_id).gemm_tiles_in_flight == pytest.approx(sms)
    # the count is stated with its reason: the description, a source or a note names the SM count
    text = " ".join(f"{s.citation} {s.note or ''}" for s in spec.sources) + (spec.notes or "")
    text += spec.compute.matrix_units_description or ""
    assert str(sms) in text


def test_chips_without_a_matrix_unit_count_say_the_default_applies():
    # The cost model takes 128 units when the count is unknown (spec/chip.py); such chips must say so.
    missing = [c for c in chip_ids() if load_chip(c).compute.matrix_unit_count is None]
    assert "nvidia-b200-180gb" not in missing and "nvidia-gb200-186gb" not in missing
    for chip_id in missing:
        spec = load_chip(chip_id)
        assert "128 matrix units" in (spec.notes or ""), chip_id
        fam = family_defaults(spec.family)
        assert get_chip_params(chip_id).gemm_tiles_in_flight == pytest.approx(
            max(1.0, 128 * fam.gemm_tiles_in_flight_per_unit))


def test_unknown_family_lists_the_allowed_ones():
    with pytest.raises(SpecError) as exc:
        family_defaults("nvidia-kepler")
    assert "nvidia-kepler" in str(exc.value) and "nvidia-hopper" in str(exc.value)


# ---------------------------------------------------------------- cell-by-cell check against chips.csv

_DENSE_COLUMNS = {
    "fp32_tflops": ("fp32",),
    "tf32_tflops": ("tf32",),
    "bf16_fp16_tflops": ("bf16", "fp16"),
    "fp8_tflops": ("fp8",),
    "int8_tops": ("int8",),
}
_FOUR_BIT = {"INT4": "int4", "FP4": "fp4", "MXFP4/MXFP6": "mxfp4"}
# Deliberate departures from a CSV cell, each explained in the chip's notes.
_DEPARTURES = {
    ("amd-mi250x", "fp32"): 95.7,  # FP32 matrix rate (CSV column holds the 47.9 vector rate)
    # stop 48: NVIDIA's own platform tables per GPU where the research table took Verda's (test_catalog_vendor48)
    ("nvidia-b300-288gb", "tf32"): 1125.0, ("nvidia-b300-288gb", "int8"): 125.0,
    ("nvidia-b300-288gb", "fp4"): 13125.0,
    ("nvidia-gb300-288gb", "fp32"): 83.33, ("nvidia-gb300-288gb", "int8"): 159.72,
}
# sram.capacity_mb is the pool kept between kernels (chip_sections.SramSpec, branch sramdef45): where the research
# table's cell adds per-kernel scratch (shared memory, L1, LDS) or an XCD's own L2, the YAML keeps only the pool, in
# MB from the source's MiB (tests/test_catalog_sram_meaning.py works each one out).
_SRAM_POOL_MIB = {
    "nvidia-h100-sxm-80gb": 50, "nvidia-h100-pcie-80gb": 50,  # L2 only (cell: + shared memory)
    "nvidia-jetson-agx-orin-64gb": 4, "nvidia-jetson-agx-thor-t5000": 32,  # GPU L2 only (cell: + L1 / shared)
    "amd-mi300x": 256, "amd-mi325x": 256, "amd-mi355x": 256,  # Infinity Cache only (cell: + L2 + LDS)
}


# The research table's scale-up domain where the YAML states another with its source: GroqChip's cell is one
# GroqNode (8 cards, Linley 2020); the YAML states the C2C network's 10,440 chips (ISCA 2022; groq51, stop 51).
_DOMAIN_DEPARTURES = {"groq-lpu-v1": (8, 10_440)}  # (the cell, the YAML)


def _value(fig):
    return fig.central if isinstance(fig, Range) else fig


@pytest.mark.parametrize("row", _csv_rows() if CSV_PATH.is_file() else [], ids=lambda r: r["id"])
def test_yaml_matches_the_csv_cells(row):
    spec = load_chip(row["id"])
    dense = spec.compute.dense_tflops
    for col, keys in _DENSE_COLUMNS.items():
        if row[col]:
            present = [k for k in keys if k in dense]
            assert present, f"{col}={row[col]} has no format in the YAML"
            for k in present:
                want = _DEPARTURES.get((row["id"], k), float(row[col]))
                assert _value(dense[k]) == pytest.approx(want), k
    if row["fp4_or_int4_tops"]:
        k = _FOUR_BIT[row["fp4_or_int4_format"]]
        assert _value(dense[k]) == pytest.approx(_DEPARTURES.get((row["id"], k), float(row["fp4_or_int4_tops"])))
    if row["memory_bandwidth_tbps"]:
        assert _value(spec.memory.bandwidth_tb_per_s) == pytest.approx(float(row["memory_bandwidth_tbps"]))
    if row["memory_capacity_gb"]:
        gb = float(row["memory_capacity_gb"])
        scale = {"GiB": 1.0, "MB": 1e-3}[spec.memory.capacity_unit]
        assert _value(spec.memory.capacity) * scale == pytest.approx(gb)
    for col, got in (
        ("tdp_w", spec.power.tdp_w),
        ("clock_ghz", spec.compute.clock_ghz),
        ("die_area_mm2_per_compute_die", spec.silicon.die_area_mm2),
        ("transistors_billion", spec.silicon.transistors_billion),
        ("max_scaleup_domain", None if row["id"] in _DOMAIN_DEPARTURES else spec.interconnect.max_scaleup_domain),
        ("cloud_usd_per_chip_hour", spec.price.cloud_usd_per_hour),
    ):
        if row[col] and not (col == "max_scaleup_domain" and row["id"] in _DOMAIN_DEPARTURES):
            assert got is not None and _value(got) == pytest.approx(float(row[col])), col
    if row["id"] in _DOMAIN_DEPARTURES:
        cell, stated = _DOMAIN_DEPARTURES[row["id"]]
        assert float(row["max_scaleup_domain"]) == cell and spec.interconnect.max_scaleup_domain == stated
    if row["compute_die_count"]:
        assert spec.silicon.compute_die_count == int(row["compute_die_count"])
    if row["year"]:
        assert spec.year == int(row["year"])
    if row["price_usd_low"]:
        usd = spec.price.usd
        lo, hi = float(row["price_usd_low"]), float(row["price_usd_high"])
        if isinstance(usd, Range):
            assert (usd.low, usd.high) == (lo, hi)
        else:
            assert usd == lo == hi
    if row["id"] in _SRAM_POOL_MIB:
        assert spec.sram.capacity_mb == pytest.approx(_SRAM_POOL_MIB[row["id"]] * 2**20 / 1e6, abs=0.005)
    elif row["onchip_sram_mb"]:
        mb = spec.sram.capacity_mb
        assert math.isclose(mb, float(row["onchip_sram_mb"]), rel_tol=1e-9) or math.isclose(
            mb, float(row["onchip_sram_mb"]) * 2**20 / 1e6, rel_tol=1e-3
        ), "SRAM in MB as published, or MiB converted to MB"
    if row["scaleup_bw_gbps"]:
        bw = spec.interconnect.scaleup_bw_gb_per_s_per_direction
        assert bw is not None
        # per direction: half a bidirectional total, or the figure itself when it is per direction
        assert _value(bw) in (pytest.approx(float(row["scaleup_bw_gbps"]) / 2),
                              pytest.approx(float(row["scaleup_bw_gbps"])))
