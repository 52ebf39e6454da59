"""A chip architect's own design before silicon, as a chip YAML's data ("Aurora-1": two 780 mm2 N3P dies, 216 GiB
of HBM3e at 7.2 TB/s, 900 W; figures ours, a design target): the user chip of the architect tours' tests."""

from __future__ import annotations

AURORA = {
    "id": "aurora-1", "name": "Aurora-1", "vendor": "Architect50", "family": "generic", "year": 2027,
    "estimate": True, "status": "design",
    "compute": {"dense_tflops": {"fp4": 8000, "fp8": 4000, "bf16": 2000}, "vector_tflops": 120, "clock_ghz": 1.9,
                "matrix_unit_count": 256},
    "memory": {"type": "HBM3e (6 stacks)", "memory_type": "hbm3e", "capacity": 216, "capacity_unit": "GiB",
               "bandwidth_tb_per_s": 7.2},
    "sram": {"capacity_mb": 256},
    "interconnect": {"scaleup_bw_gb_per_s_per_direction": 800, "max_scaleup_domain": 16},
    "power": {"tdp_w": 900},
    "silicon": {"process_node": "TSMC N3P", "node_nm": 3, "die_area_mm2": 780, "compute_die_count": 2,
                "memory_stacks": 6},
    "price": {"usd": 15000},
    "sources": [{"citation": "architect50 design target (ours)", "kind": "estimate"}],
}
