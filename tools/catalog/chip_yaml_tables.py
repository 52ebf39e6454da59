"""Hand-decided tables for tools/catalog/build_chip_yaml.py: family of each chip, matrix-unit counts,
scale-up bandwidth per direction, hand-written chips, extra fields, SRAM and stack conventions.

Each entry carries its reason next to it. Keys follow ``inferchip.spec.chip.ChipSpec``:
bandwidths are bytes per second (``_tb_per_s``, ``_gb_per_s``), never bits.
"""

from __future__ import annotations

from typing import Any

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
    "tenstorrent-blackhole-p150a": (140, "140 Tensix as for the 774 TFLOPS peak (120 enabled after Feb-2026 "
                                         "firmware)."),
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
    # One die stitched across the wafer: 46,225 mm2 is above the 858 mm2 reticle field by design.
    "cerebras-wse-3": {"silicon": {"wafer_scale": True}},
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
