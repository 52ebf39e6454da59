"""Peak throughput for a compute format, with fallback to the next wider format the chip has.

Works for one chip (scalars) and for a sweep of chips (arrays per format, 0 where a chip
has no units for that format). A chip with no units as wide as the format (none in its ``spec.formats.WIDER``
chain: bf16 on a chip that lists only fp8 and fp4) emulates it on its narrower units, at their peak divided by
the passes the split operands take (``spec.formats.emulation_passes``), the fastest such emulation it has; never at
a narrower format's own peak.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from inferchip.cost.constants import BLOCK_SCALED_4BIT_GEMM
from inferchip.cost.roofline import FloatArray
from inferchip.mapping.format_defaults import FOUR_BIT_FLOAT
from inferchip.spec.chip import ChipParams
from inferchip.spec.formats import WIDER, emulation_passes


def peak_flop_per_s(chip: ChipParams, fmt: str) -> FloatArray:
    """Dense peak FLOP/s at ``fmt``, or at the first wider format with units, else emulated on the narrower units
    (module doc; elementwise for sweeps)."""
    peaks = chip.peak_flop_per_s
    if all(type(v) is float and math.isfinite(v) for v in peaks.values()):  # one chip: the same choice in floats
        one: float | None = None
        for f in WIDER[fmt]:
            given = peaks.get(f)
            if given is not None:
                one = given if one is None or not one > 0 else one
        return np.array(one if one is not None and one > 0 else _emulated(chip, fmt)[0])
    out: FloatArray | None = None
    for f in WIDER[fmt]:
        given = chip.peak_flop_per_s.get(f)
        if given is None:
            continue
        v = np.asarray(given, dtype=float)
        out = v if out is None else np.where(out > 0, out, v)
    rates = [np.asarray(v, float) / emulation_passes(fmt, f) for f, v in chip.peak_flop_per_s.items()]
    best: FloatArray = np.max(np.stack(np.broadcast_arrays(*rates)), axis=0)
    return best if out is None else np.where(out > 0, out, best)


def _emulated(chip: ChipParams, fmt: str) -> tuple[float, str, int]:
    """(FLOP/s, units, passes) of the fastest emulation of ``fmt`` on a scalar chip's listed formats."""
    rate, units = max((float(v) / emulation_passes(fmt, f), f) for f, v in chip.peak_flop_per_s.items())
    return rate, units, emulation_passes(fmt, units)


def _widening_units(peaks: Mapping[str, object], fmt: str) -> str | None:
    """The first format of ``fmt``'s widening chain a chip with these dense peaks by format has units for, None
    where it has none."""
    for f in WIDER[fmt]:
        v = peaks.get(f)
        if v is not None and np.all(np.asarray(v) > 0):
            return f
    return None


def units_for(peaks: Mapping[str, float], fmt: str) -> tuple[str, int]:
    """(units, passes) a ``fmt`` GEMM runs on, on a chip with these dense peaks by format (FLOP/s or TFLOP/s): the
    first format of its widening chain the chip has units for, 1 pass; else the fastest emulation on narrower units
    (module doc); ``(fmt, 1)`` where no peak is known. What its FLOP cost in energy (``cost.economics.UnitEnergies``:
    the units' energy per FLOP times the passes)."""
    wide = _widening_units(peaks, fmt)
    if wide is not None or not peaks:
        return wide or fmt, 1
    _, units = max((float(v) / emulation_passes(fmt, f), f) for f, v in peaks.items())
    return units, emulation_passes(fmt, units)


def emulation(chip: ChipParams, fmt: str) -> tuple[str, int] | None:
    """(units, passes) where a scalar chip has no units as wide as ``fmt`` and emulates it on narrower ones (module
    doc), else None."""
    if _widening_units(chip.peak_flop_per_s, fmt) is not None:
        return None
    _, units, passes = _emulated(chip, fmt)
    return units, passes


def executed_format(chip: ChipParams, fmt: str) -> str:
    """Name of the format a scalar chip actually computes ``fmt`` in (for the result's notes): the first of its
    widening chain it has units for, else the narrower units it emulates ``fmt`` on (:func:`emulation`)."""
    return _widening_units(chip.peak_flop_per_s, fmt) or _emulated(chip, fmt)[1]


def executed_note(chip_name: str, want: str, chip: ChipParams) -> str | None:
    """What a result says of the format ``want`` on ``chip``: None where it has ``want`` units; the wider format
    it runs at; or the emulation on narrower units and its cost."""
    got = executed_format(chip, want)
    if got == want:
        return None
    emu = emulation(chip, want)
    if emu is None:
        return f"{chip_name} has no {want} units: GEMMs run at {got}"
    units, passes = emu
    return (f"{chip_name} has no {want} units nor any as wide: {want} GEMMs emulated on its {units} units, "
            f"{passes} products of split operands, at 1/{passes} of the {units} peak (spec.formats.emulation_passes; "
            "an estimate)")


def four_bit_gemm_rate_text(chip: ChipParams | None, got: str) -> str:
    """How a W4A4 setting's GEMMs are priced, for its note: on a chip with
    :data:`~inferchip.cost.constants.BLOCK_SCALED_4BIT_GEMM` figures that runs 4-bit floats, the dense GEMMs' mainloop
    fraction and time a tile (grouped expert GEMMs keep the calibrated fraction); elsewhere the ``got`` peak."""
    block = None if chip is None else BLOCK_SCALED_4BIT_GEMM.get(chip.architecture)
    if block is None or got not in FOUR_BIT_FLOAT:
        return f"GEMMs at the {got} peak"
    return (f"dense GEMMs at {block[0]:.3g} of the {got} peak plus {block[1] * 1e6:.3g} us a tile "
            "(cost.constants.BLOCK_SCALED_4BIT_GEMM; grouped MoE expert GEMMs, where the model has them, "
            "at the calibrated fraction)")

