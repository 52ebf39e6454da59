"""What one packaged chip costs to make, line by line with sources, checked against its price
(:mod:`.breakdown`), and its package's dies and HBM stacks against the largest CoWoS interposer of its year
(:mod:`.interposer`)."""

from inferchip.cost.chip_cost.breakdown import SERVER_ACCELERATORS_MAX, ChipCost, CostLine, chip_cost
from inferchip.cost.chip_cost.interposer import (
    STACK_FIGURE_ROUNDING,
    InterposerCheck,
    StackCount,
    hbm_stacks,
    interposer_check,
    memory_gib,
    package_dies_mm2,
)

__all__ = ["SERVER_ACCELERATORS_MAX", "STACK_FIGURE_ROUNDING", "ChipCost", "CostLine", "InterposerCheck", "StackCount",
           "chip_cost", "hbm_stacks", "interposer_check", "memory_gib", "package_dies_mm2"]
