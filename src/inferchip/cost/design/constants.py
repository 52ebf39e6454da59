"""Constants of the design area model, each with its source; estimates say so and whose.

Node tables are keyed by node in nm; a node between keys takes the nearest key below or
equal in nm order that exists, else the smallest key above (:func:`by_node`).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import numpy.typing as npt


class Sourced(NamedTuple):
    value: float
    source: str


# Peak logic density of the node's high-density library, MTr/mm2 (WikiChip's published node
# figures; TSMC names; Samsung/GlobalFoundries 14 nm as '14'). Real dies reach a fraction of
# this; the model fits how much of the node-to-node ratio dies realise (exponent ``eta``).
LOGIC_DENSITY_MTR_PER_MM2: dict[float, Sourced] = {
    2.0: Sourced(250.0, "inferchip estimate: TSMC's ~1.15x N2-over-N3E logic density claim applied to N3E"),
    3.0: Sourced(215.6, "WikiChip, TSMC N3E high-density logic (215.6 MTr/mm2)"),
    4.0: Sourced(180.0, "inferchip estimate: TSMC N4 ~6% denser than N5 (TSMC 2021 N4 announcement)"),
    5.0: Sourced(171.3, "WikiChip, TSMC N5 high-density logic (171.3 MTr/mm2)"),
    6.0: Sourced(114.2, "WikiChip, TSMC N6 (+18% logic density over N7)"),
    7.0: Sourced(91.2, "WikiChip, TSMC N7 high-density logic (91.2 MTr/mm2)"),
    8.0: Sourced(61.2, "WikiChip, Samsung 8LPP (61.2 MTr/mm2)"),
    10.0: Sourced(52.5, "WikiChip, TSMC N10 (52.5 MTr/mm2)"),
    12.0: Sourced(33.8, "WikiChip, TSMC 12FFC (33.8 MTr/mm2)"),
    14.0: Sourced(32.9, "WikiChip, Samsung 14LPP / GlobalFoundries 14LPP (32.9 MTr/mm2)"),
    16.0: Sourced(28.9, "WikiChip, TSMC 16FF+ (28.9 MTr/mm2)"),
    28.0: Sourced(15.3, "WikiChip, TSMC 28HPM (~15.3 MTr/mm2)"),
}

# High-density 6T SRAM bitcell area, um2 (foundry IEDM/ISSCC disclosures as summarised by WikiChip).
SRAM_BITCELL_UM2: dict[float, Sourced] = {
    2.0: Sourced(0.0175, "TSMC N2 HD bitcell 0.0175 um2 (IEDM 2024, as reported)"),
    3.0: Sourced(0.0199, "TSMC N3B HD bitcell 0.0199 um2 (IEDM 2022, WikiChip)"),
    4.0: Sourced(0.021, "TSMC N5/N4 HD bitcell 0.021 um2 (IEDM 2019, WikiChip)"),
    5.0: Sourced(0.021, "TSMC N5 HD bitcell 0.021 um2 (IEDM 2019, WikiChip)"),
    6.0: Sourced(0.027, "TSMC N6 = N7 bitcell 0.027 um2 (WikiChip)"),
    7.0: Sourced(0.027, "TSMC N7 HD bitcell 0.027 um2 (WikiChip)"),
    8.0: Sourced(0.036, "inferchip estimate: Samsung 8LPP between its 10 nm (0.040) and 7 nm (0.026) cells"),
    10.0: Sourced(0.042, "TSMC N10 HD bitcell 0.042 um2 (WikiChip)"),
    12.0: Sourced(0.074, "TSMC 16/12 nm HD bitcell 0.074 um2 (WikiChip)"),
    14.0: Sourced(0.064, "Samsung/GlobalFoundries 14LPP HD bitcell 0.064 um2 (WikiChip)"),
    16.0: Sourced(0.074, "TSMC 16FF+ HD bitcell 0.074 um2 (WikiChip)"),
    28.0: Sourced(0.127, "TSMC 28 nm HD bitcell 0.127 um2 (WikiChip)"),
}

# Memory interface per unit (HBM: one stack; GDDR6/LPDDR5X: one 32-bit channel): peak bandwidth,
# capacity, and the beachfront PHY area on the logic die.
MEMORY_UNIT: dict[str, dict[str, Sourced]] = {
    "hbm3e": {"bytes_per_s": Sourced(1.0e12, "B200: 8 TB/s over 8 HBM3e stacks (NVIDIA B200 datasheet)"),
              "gib": Sourced(24.0, "HBM3e 8-high stack 24 GB (Micron/SK hynix product pages)"),
              "phy_mm2": Sourced(12.0, "inferchip estimate: HBM PHY ~10-15 mm2 per stack in GPU die shots")},
    "hbm3": {"bytes_per_s": Sourced(0.819e12, "JEDEC JESD238 HBM3: 6.4 Gb/s x 1024 bits = 819 GB/s per stack"),
             "gib": Sourced(16.0, "HBM3 8-high stack of 16 Gb dies: 16 GiB (SK hynix HBM3 product page)"),
             "phy_mm2": Sourced(12.0, "inferchip estimate: HBM PHY ~10-15 mm2 per stack in GPU die shots")},
    "hbm2e": {"bytes_per_s": Sourced(0.41e12, "JEDEC HBM2E at 3.2 Gb/s x 1024 bits = 410 GB/s per stack"),
              "gib": Sourced(16.0, "HBM2E 8-high 16 GiB stack (Samsung Flashbolt)"),
              "phy_mm2": Sourced(11.0, "inferchip estimate: HBM2 PHY ~10-12 mm2 per stack in V100/A100 die shots")},
    "gddr6": {"bytes_per_s": Sourced(64e9, "GDDR6 at 16 Gb/s x 32 bits = 64 GB/s per channel (JEDEC JESD250)"),
              "gib": Sourced(2.0, "16 Gb GDDR6 device = 2 GiB per 32-bit channel (Micron GDDR6)"),
              "phy_mm2": Sourced(4.0, "inferchip estimate: GDDR6 PHY ~3.5-4.5 mm2 per 32 bits in Ada die shots")},
    "lpddr5x": {"bytes_per_s": Sourced(34e9, "LPDDR5X at 8533 MT/s x 32 bits = 34 GB/s (JEDEC JESD209-5B)"),
                "gib": Sourced(8.0, "inferchip assumption: one 64 Gb LPDDR5X package per 32-bit channel"),
                "phy_mm2": Sourced(2.0, "inferchip estimate: LPDDR5X PHY ~2 mm2 per 32 bits")},
    "none": {"bytes_per_s": Sourced(0.0, "no off-chip memory"), "gib": Sourced(0.0, "no off-chip memory"),
             "phy_mm2": Sourced(0.0, "no off-chip memory")},
}

SERDES_MM2_PER_100GB_S = Sourced(
    2.0, "inferchip estimate: short-reach chip-to-chip SerDes (NVLink-class) ~0.25 mm2 per 100 Gb/s lane at 7/5 nm; "
         "100 GB/s per direction = 8 lanes")
SRAM_ARRAY_OVERHEAD = Sourced(
    1.6, "inferchip estimate: high-density SRAM macros reach ~60-65% array efficiency (bitcells over macro area), "
         "so a macro is ~1.6x its bitcells")

# Matrix-unit area per MAC relative to a bf16/fp16 MAC, by the formats the datapath supports.
FORMAT_AREA_FACTOR: dict[str, Sourced] = {
    "bf16": Sourced(1.0, "reference: a bf16/fp16 multiply-accumulate"),
    "bf16+fp8": Sourced(1.10, "inferchip estimate: fp8 reuses the bf16 multipliers at 2x rate; ~10% for the "
                              "extra alignment and accumulation paths"),
    "bf16+fp8+fp4": Sourced(1.18, "inferchip estimate: fp4 at 4x rate adds ~8% more"),
    "int8": Sourced(0.10, "inferchip estimate from Horowitz, ISSCC 2014 (45 nm areas): an int8-only MAC (8b multiply "
                          "282 um2 + 32b integer add 137 um2) is 0.072 of a bf16-class MAC with fp32 accumulation "
                          "(16b FP multiply 1640 um2 + 32b FP add 4184 um2); raised to 0.10 for the pipeline registers "
                          "and operand wiring that do not shrink with the arithmetic (a separately fitted int8 "
                          "coefficient came out at 0.10 on the bundled dies, docs/explore.md)"),
}
# Dynamic energy of an int8-only MAC array per op over the energy model's bf16 figure. The energy
# model's int8 figure (catalog/assumptions.yaml) is half its bf16 one: int8 run at 2x through a
# bf16-capable tensor core (A100). An array built for int8 only (TPUv1, FSD NPU, Groq MXM) is
# charged the arithmetic ratio instead.
INT8_ONLY_ENERGY_FACTOR = Sourced(
    0.15, "Horowitz, ISSCC 2014 (45 nm energies): int8 MAC = 8b multiply 0.2 pJ + 32b add 0.1 pJ = 0.3 pJ; "
          "bf16-class MAC = 16b FP multiply 1.1 pJ + 32b FP add 0.9 pJ = 2.0 pJ; 0.3 / 2.0 = 0.15")
FP32_FMA_PJ_AT_45NM = Sourced(
    4.6, "Horowitz, ISSCC 2014 (45 nm energies): 32b FP multiply 3.7 pJ + 32b FP add 0.9 pJ = 4.6 pJ per FMA "
         "(2 FLOP); the bare arithmetic of one FP32 vector lane per clock, before operand delivery")
PEAK_MULTIPLIER = {"bf16": 1.0, "fp8": 2.0, "fp4": 4.0}  # dense rate per format over bf16 (B200 datasheet ratios)
VECTOR_FRACTION_OF_BF16 = Sourced(1.0 / 16.0, "inferchip estimate: H100 SXM fp32 SIMT 67 of 989 TFLOP/s bf16 ~1/15")
# SoC blocks (for dies that carry their own CPUs, GPU, ISP: driving SoCs). A CPU core is one Arm
# Cortex-A72-class out-of-order core with its share of a 2-core cluster's 1 MiB L2, measured on a
# die shot; it scales to other nodes with the logic model's density ratio (as the matrix units do).
CPU_CORE_MM2 = Sourced(
    13.68, "WikiChip, MediaTek Helio X20 die (TSMC 20 nm): dual Cortex-A72 + 1 MiB L2 cluster ~27.36 mm2 "
           "(~9.60 mm2 per core, ~7.50 mm2 per MiB L2) -> 13.68 mm2 per core with its L2 share")
CPU_CORE_REFERENCE_NODE_NM = Sourced(
    16.0, "inferchip reading: TSMC 16FF+ kept 20SoC's back-end metal pitches, so its logic density is read as "
          "20 nm's (WikiChip 16FF+ 28.9 MTr/mm2); the Helio X20 core is scaled from the 16 nm density")
# Uncore: host interface (PCIe), boot/management controller, chip-level NoC hubs, clocking/test, and
# the pad ring and power delivery bumps; a fitted area that does not shrink with the node (I/O,
# PHY-like analog and bump-pitch-bound area, as the memory PHYs and SerDes here). It is
# present on a die that carries a host interface; a compute chiplet whose host interface and memory
# controllers sit on another die (AMD CDNA 3/4 XCD: the IOD carries Infinity Fabric, PCIe and the HBM
# controllers; Tesla D1: the host attaches through the Dojo Interface Processor, the D1 has only
# die-edge SerDes) has none. A per-die fact in catalog/design_dies.csv (column ``host_io``).
PCIE_SLOT_POWER_W = Sourced(75.0, "PCI Express CEM specification: a x16 card without an auxiliary power connector "
                                   "draws at most 75 W from the slot (design_dies.csv board_cap_w)")
PCIE_6PIN_POWER_W = Sourced(75.0, "PCI Express CEM specification: a 6-pin auxiliary power connector supplies 75 W")
PCIE_CARD_MAX_POWER_W = Sourced(300.0, "PCI-SIG, PCI Express 225 W/300 W High Power Card Electromechanical "
                                       "Specification: a PCIe add-in card draws at most 300 W")
RETICLE_MM2 = Sourced(858.0, "ASML EUV/DUV scanner field 26 mm x 33 mm = 858 mm2")
D2D_AREA_FRACTION = Sourced(0.05, "inferchip estimate: die-to-die interface and duplicated I/O when a design is "
                                  "split into chiplets, ~5% of each die (B200's NV-HBI, MI300 XCD-IOD links)")


def by_node(table: dict[float, Sourced], node_nm: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Table value at each node: the nearest tabulated node (ties to the smaller), vectorised."""
    keys = np.array(sorted(table))
    vals = np.array([table[k].value for k in keys])
    n = np.asarray(node_nm, dtype=float)
    j = np.abs(n[..., None] - keys).argmin(axis=-1)
    out: npt.NDArray[np.float64] = vals[j]
    return out


def memory_unit(memory_type: npt.ArrayLike, what: str) -> npt.NDArray[np.float64]:
    """Per-unit figure (``bytes_per_s``, ``gib`` or ``phy_mm2``) for each memory type name."""
    t = np.asarray(memory_type)
    uniq, inv = np.unique(t, return_inverse=True)
    vals = np.array([MEMORY_UNIT[str(k)][what].value for k in uniq])
    out: npt.NDArray[np.float64] = vals[inv.reshape(-1)].reshape(t.shape)
    return out
