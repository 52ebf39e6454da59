"""Audit of the catalogue against the research table (sram47, stop 47): the conventions behind the numbers.

``tests/test_catalog_chips.py::test_yaml_matches_the_csv_cells`` compares every number of the 41 rows of the research
table (a copy at ``tests/data/reference/chips.csv``) with the chip's YAML, peak per format, bandwidth, capacity, TDP,
clock, die area, transistors, dies, scale-up domain, price and SRAM, at pytest's default relative tolerance (1e-6:
the figures are copied, not recomputed). This file checks what a number alone does not say, for each chip with a
reference row:

* the scale-up link per direction follows the row's stated convention: half a bidirectional total (or an aggregate),
  the figure itself where the row says per direction, and half with a note where the direction is not stated;
* the process node text is the row's, and ``node_nm`` is the number it names (N3P -> 3, 4NP -> 4, 5nm + 6nm -> 5, the
  compute dies');
* the memory type is the row's; where the row names no generation (bare "HBM", a tiered memory) the YAML's choice
  carries its reason in the file;
* DRAM capacity is GiB (the row's GB of DRAM read as binary) and the chip says so; SRAM-only chips are decimal MB;
  a usable capacity is below the physical one and its source is named.

Every chip of the catalogue (with a row or not) states its peaks' dense/sparse convention. A departure from the
table is listed here with its reason, and the reason's words are in the chip's file.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest

from inferchip.catalog.chips import _CHIPS_DIR, chip_ids, load_chip
from inferchip.spec.chip import Range

CSV_PATH = Path(__file__).parent / "data/reference/chips.csv"  # a copy of the research table
REL = 1e-9  # a halving or a copy: exact but for float rounding


def _rows() -> dict[str, dict[str, str]]:
    with CSV_PATH.open(encoding="utf-8") as fh:
        return {r["id"]: r for r in csv.DictReader(fh)}


ROWS = _rows()

# catalogue chips the research table has no row for (added later from their own sources): pinned, so a new chip
# without a row is a decision, not an accident
NO_ROW = {
    "amd-mi455x", "aws-trainium3", "cpu:amd-ryzen-9-7950x", "cpu:intel-core-i9-13900k", "cpu:intel-xeon-6787p",
    "cpu:intel-xeon-6980p", "cpu:intel-xeon-platinum-8592+", "cpu:intel-xeon-w7-2495x", "nvidia-geforce-rtx-3090",
    "nvidia-geforce-rtx-4090", "nvidia-gh200-96gb", "nvidia-jetson-orin-nano-8gb", "nvidia-jetson-orin-nx-16gb",
    "nvidia-rtx-2000e-ada-16gb", "nvidia-rtx-4000-ada-20gb", "nvidia-rubin-288gb", "untetherai-speedai240-preview",
    "untetherai-speedai240-slim",
}

# (chip, field) -> (the YAML's value, why it departs from the row, words of that reason found in the chip's file)
DEPARTURES: dict[tuple[str, str], tuple[object, str, str]] = {
    ("tesla-ai5", "process_node"): (
        "TSMC 3 nm (reported, spiderking.ai 2026-04-17) and Samsung (Taylor, Texas; Musk 2025-10-22): two physical "
        "versions",
        "the row predates the 2026 reports; it says 'node not officially disclosed (reports of 3nm/2nm variants)'",
        "TSMC 3 nm (reported, spiderking.ai 2026-04-17)"),
    ("google-tpu-v6e-trillium", "memory_type"): (
        "hbm3", "Google names only 'HBM'; 1.6 TB/s over two stacks is HBM3 speed", "HBM3 speed"),
    ("aws-inferentia2", "memory_type"): (
        "hbm2e", "the row says 'HBM (2 stacks)'; 820 GB/s over two stacks is HBM2e speed", "HBM2e speed"),
    ("aws-trainium2", "memory_type"): (
        "hbm3", "the row says 'HBM (4 stacks)'; 2.9 TB/s over four stacks is HBM3 speed", "HBM3 speed"),
    ("sambanova-sn40l", "memory_type"): (
        "hbm3", "three tiers (SRAM + 64 GB HBM + DDR5): the HBM tier is modelled, its generation unstated",
        "the HBM generation is not stated"),
    ("tesla-dojo-training-tile", "memory_type"): (
        "hbm2e", "SRAM on the tile + HBM on the Dojo Interface Processors: the 160 GB HBM tier is the memory modelled",
        "HBM2e speed"),
}


def _value(fig: object) -> float | None:
    return fig.central if isinstance(fig, Range) else fig  # type: ignore[return-value]


def _file_text(chip: str) -> str:
    return (_CHIPS_DIR / f"{chip}.yaml").read_text(encoding="utf-8")


def _departs(chip: str, field: str, got: object) -> bool:
    """True where the YAML departs from the row for a listed reason; that reason's words must be in the file."""
    if (chip, field) not in DEPARTURES:
        return False
    want, _why, words = DEPARTURES[(chip, field)]
    assert got == want, f"{chip} {field}: {got!r}, the listed departure says {want!r}"
    assert words in _file_text(chip), f"{chip}: the reason for its {field} ({words!r}) is not in its file"
    return True


def _node_nm(text: str) -> float | None:
    """The node a process text names: '5nm' / 'N3P' / '4NP' -> 5 / 3 / 4 (the first, the compute dies')."""
    m = (re.search(r"(\d+)\s*nm", text) or re.search(r"\bN(\d+)", text) or re.search(r"\b(\d+)NP?\b", text))
    return float(m.group(1)) if m else None


def _memory_type(text: str) -> str:
    """The memory generation a row's cell names: 'HBM3E (8 stacks)' -> hbm3e, 'LPDDR4-4266 (128-bit)' -> lpddr4."""
    m = re.match(r"\s*(hbm\d?e?|gddr\d|lpddr\d+x?|sram)", text.lower())
    return m.group(1) if m else text.split("(")[0].split(":")[0].strip().lower()


@pytest.mark.parametrize("chip", sorted(ROWS))
def test_process_node_is_the_rows(chip: str) -> None:
    row, spec = ROWS[chip], load_chip(chip)
    if not row["process_node"]:
        return
    got = spec.silicon.process_node
    if not _departs(chip, "process_node", got):
        assert got == row["process_node"]
    assert spec.silicon.node_nm == _node_nm(row["process_node"]), (row["process_node"], spec.silicon.node_nm)


@pytest.mark.parametrize("chip", sorted(ROWS))
def test_memory_type_is_the_rows(chip: str) -> None:
    row, spec = ROWS[chip], load_chip(chip)
    if not row["memory_type"]:
        return
    got = spec.memory.memory_type
    if not _departs(chip, "memory_type", got):
        assert got == _memory_type(row["memory_type"]), row["memory_type"]


@pytest.mark.parametrize("chip", sorted(ROWS))
def test_scaleup_link_per_direction_follows_the_rows_convention(chip: str) -> None:
    row, spec = ROWS[chip], load_chip(chip)
    if not row["scaleup_bw_gbps"]:
        return
    stated, conv = float(row["scaleup_bw_gbps"]), row["scaleup_bw_convention"].lower()
    got = _value(spec.interconnect.scaleup_bw_gb_per_s_per_direction)
    assert got is not None
    if "direction not stated" in conv:  # read as the usual bidirectional total, and the chip says it is not stated
        assert got == pytest.approx(stated / 2, rel=REL)
        assert "direction not stated" in (spec.notes or "") + _file_text(chip)
    elif any(w in conv for w in ("bidirectional", "total", "aggregate")):
        assert got == pytest.approx(stated / 2, rel=REL), conv
    elif "per direction" in conv:
        assert got == pytest.approx(stated, rel=REL), conv
    else:
        pytest.fail(f"{chip}: the row's link convention {conv!r} says neither direction nor total")


@pytest.mark.parametrize("chip", sorted(ROWS))
def test_capacity_unit_follows_the_memory(chip: str) -> None:
    row, spec = ROWS[chip], load_chip(chip)
    mem = spec.memory
    if mem.memory_type == "sram":  # SRAM-only: decimal MB, the row's GB x 1000
        assert mem.capacity_unit == "MB"
        assert _value(mem.capacity) == pytest.approx(float(row["memory_capacity_gb"]) * 1e3, rel=REL)
    else:
        assert mem.capacity_unit == "GiB"


@pytest.mark.parametrize("chip", chip_ids())
def test_every_dram_capacity_says_it_is_binary_and_usable_is_kept_apart(chip: str) -> None:
    spec = load_chip(chip)
    mem = spec.memory
    cap = mem.capacity
    said = (spec.notes or "") + (cap.derivation if isinstance(cap, Range) else "")
    if mem.capacity_unit == "GiB":
        assert "GiB" in said, f"{chip}: the capacity's unit (GB read as GiB, or GiB as stated) is not said"
    if mem.usable_capacity_gib is not None:
        assert mem.usable_capacity_gib < _value(cap)  # type: ignore[operator]
        assert "usable" in (spec.notes or "").lower(), f"{chip}: the usable figure's source is not named"


@pytest.mark.parametrize("chip", chip_ids())
def test_every_chip_states_its_peaks_dense_or_sparse_convention(chip: str) -> None:
    spec = load_chip(chip)
    text = (spec.notes or "") + " ".join(
        v.derivation for v in spec.compute.dense_tflops.values() if isinstance(v, Range))
    text += " ".join(f"{s.citation} {s.note or ''}" for s in spec.sources)
    assert re.search(r"dense|sparse|sparsity", text, re.I), f"{chip}: its peaks' convention is not stated"


def test_the_chips_without_a_reference_row_are_the_known_ones() -> None:
    assert len(ROWS) == 41
    assert set(chip_ids()) - set(ROWS) == NO_ROW
    assert set(ROWS) <= set(chip_ids())


def test_the_parsers_read_the_rows_as_meant() -> None:
    assert [_node_nm(t) for t in ("TSMC 4NP", "TSMC N3P (XCD) + N6 (IOD)", "TSMC 5nm (XCD) + 6nm (IOD)",
                                  "Samsung 8nm (8LPP)", "CLAIM: Samsung, US fab")] == [4, 3, 5, 8, None]
    assert [_memory_type(t) for t in ("HBM3E (8 stacks, 8192-bit, 6 Gbps)", "LPDDR4-4266 (128-bit)", "LPDDR4x",
                                      "SRAM-only (no HBM/DRAM)", "HBM (2 stacks)")] == [
        "hbm3e", "lpddr4", "lpddr4x", "sram", "hbm"]
