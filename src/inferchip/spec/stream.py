"""Measured sustained DRAM bandwidth of a chip, kept apart from its datasheet peak; and the measured clock its
matrix units hold in a dense GEMM, kept apart from the clock its datasheet peak is quoted at
(:class:`DenseGemmClock`, :func:`matrix_clock_share`).

A datasheet's memory bandwidth (``memory.bandwidth_tb_per_s``) is the interface's theoretical peak
(bus width x data rate). What a streaming microbenchmark sustains on the real part and software stack
(BabelStream, STREAM, nvbandwidth, a copy kernel) is a different figure and a different share of the
peak on different chips: refresh, ECC, the memory controller and, on chiplet parts, the fabric between
compute and memory dies take their own cut (ROCm/rocm_bandwidth_test issue #121, AMD: "the 5.3 TB/s BW
in the datasheet is the theoretical peak, not achievable with real-world tests").

A chip file may state one such measurement as ``memory.measured_bandwidth`` (:class:`MeasuredBandwidth`,
with its source). The cost model prices a DRAM-bound kernel at the fitted ``memory_bandwidth_fraction`` of
the MEASURED stream rate (:func:`attainable_memory_bytes_per_s`): the fraction is then what real kernels
reach of what the chip can stream, a property of the kernels, and the per-chip gap between datasheet and
streaming rate is a published measurement, not a fitted or per-chip parameter. A chip without a
measurement streams :data:`MEDIAN_MEASURED_SHARE` of its datasheet peak, the median of the measured chips
(an estimate; the chip's parameters carry a note saying so).
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, field_validator

from inferchip.spec import bounds as b
from inferchip.spec.bounds import Frozen
from inferchip.spec.formats import ALL_FORMATS


class MeasuredBandwidth(Frozen):
    """One published measurement of the DRAM bandwidth a chip sustains, with what was measured."""

    tb_per_s: Annotated[float, b.TB_PER_S] = Field(description="Sustained bandwidth, TB/s (1e12 bytes/s).")
    kernel: str = Field(min_length=1, description="What was measured: benchmark, kernel, read/write mix, size.")
    source: str = Field(min_length=1, description="Who measured it, where it is published (software versions).")
    url: str = Field(pattern=r"^https?://", description="Where the figure is read.")
    date: str = Field(min_length=4, description="Publication date or year, as the source gives it.")
    note: str = ""


MEASURED_SHARE = {
    "amd-mi300x": 4.26 / 5.3,
    "nvidia-h100-sxm-80gb": 3.18 / 3.35,
    "nvidia-h200-sxm-141gb": 4.48 / 4.8,
}
"""Measured / datasheet bandwidth of the catalogue's chips with a ``memory.measured_bandwidth`` (read from their
chip files; tests/test_stream_bandwidth.py checks this table against them)."""

MEDIAN_MEASURED_SHARE = sorted(MEASURED_SHARE.values())[len(MEASURED_SHARE) // 2]
"""Share of its datasheet peak an unmeasured chip is taken to stream: the median of :data:`MEASURED_SHARE`
(0.933, H200's; estimate, inferchip, 2026-12-04: three chips, two vendors)."""


def stream_share(datasheet_tb_per_s: float, measured: MeasuredBandwidth | None) -> tuple[float, str | None]:
    """Measured / datasheet DRAM bandwidth (dimensionless) and, where it is an estimate, the note saying so."""
    if measured is not None:
        return measured.tb_per_s / datasheet_tb_per_s, None
    return MEDIAN_MEASURED_SHARE, (
        f"no measured memory bandwidth: streams {MEDIAN_MEASURED_SHARE:.3f} x the datasheet peak, the median "
        f"measured/datasheet share of the {len(MEASURED_SHARE)} measured chips (estimate)")


def attainable_memory_bytes_per_s(datasheet_bytes_per_s: Any, share: Any, fraction: float) -> Any:
    """DRAM rate a real kernel reaches, bytes/s: ``fraction`` (calibrated) x the measured streaming rate.

    The streaming rate is ``share`` x the datasheet peak (:func:`stream_share`). Arrays broadcast.
    E.g. MI300X: 5.3e12 B/s x (4.26/5.3) x 0.8 = 3.408e12 B/s.
    """
    return datasheet_bytes_per_s * share * fraction


class DenseGemmClock(Frozen):
    """The clock a chip's matrix units hold while a dense GEMM keeps them busy, measured, per number format.

    A datasheet's dense peak is units x FLOP per clock x the chip's peak clock (``compute.clock_ghz``). Under its
    board power limit a chip may run dense matrix work at a lower clock: AMD, "The power management system reduces
    the clock speed when running dense tensor-core logic, which is designed to operate at a lower clock", while
    "lightly-loaded scenarios" boost to the maximum clock (ROCm blog "Measuring Max-Achievable FLOPs - Part 2",
    28 Feb 2025: MI300X, peak clock 2100 MHz, median clock in hipblaslt-bench's max-achievable GEMM FP16 1115,
    BF16 1207, FP8 1230 MHz)."""

    mhz: dict[str, Annotated[float, b.CLOCK_MHZ]] = Field(
        min_length=1, description="Median clock during the dense GEMM, MHz, per number format measured.")
    kernel: str = Field(min_length=1, description="What was measured: library, GEMM shape, input data, duration.")
    source: str = Field(min_length=1, description="Who measured it, where it is published.")
    url: str = Field(pattern=r"^https?://", description="Where the figure is read.")
    date: str = Field(min_length=4, description="Publication date or year, as the source gives it.")
    note: str = ""

    @field_validator("mhz")
    @classmethod
    def _formats(cls, v: dict[str, float]) -> dict[str, float]:
        bad = [k for k in v if k not in ALL_FORMATS]
        if bad:
            raise ValueError(f"unknown number format(s) {bad}; allowed: {', '.join(ALL_FORMATS)}")
        return v


def matrix_clock_share(peak_clock_ghz: float | None, measured: DenseGemmClock | None) -> float:
    """Measured dense-GEMM clock / the clock of the datasheet peak (dimensionless): the median over the measured
    formats (a chip's FP16, BF16 and FP8 GEMMs run at clocks within 10 %: MI300X 1115 / 1207 / 1230 MHz -> 1207 /
    2100 = 0.575). 1.0 for a chip without a measurement, or without a stated peak clock: its datasheet peak is
    taken as sustained and the fitted ``gemm_compute_fraction`` holds what its dense GEMMs lose (estimate,
    inferchip). The share scales the matrix units' peaks of the LLM cost model (cost.context.cost_context)."""
    if measured is None or not peak_clock_ghz:
        return 1.0
    clocks = sorted(measured.mhz.values())
    median_mhz = clocks[len(clocks) // 2] if len(clocks) % 2 else 0.5 * (clocks[len(clocks) // 2 - 1]
                                                                        + clocks[len(clocks) // 2])
    if median_mhz > peak_clock_ghz * 1000.0 * (1 + 1e-9):
        raise ValueError(f"dense GEMM clock {median_mhz:g} MHz above the peak clock {peak_clock_ghz:g} GHz")
    return median_mhz / (peak_clock_ghz * 1000.0)
