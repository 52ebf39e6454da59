"""Measured sustained DRAM bandwidth of a chip, kept apart from its datasheet peak.

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

from pydantic import Field

from inferchip.spec import bounds as b
from inferchip.spec.bounds import Frozen


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


MIN_PLAUSIBLE_SHARE = 0.5
"""Lowest measured / datasheet bandwidth a chip file may state (a check of the input, not a model figure): the
measured chips stream 0.80-0.95 of their peak (:data:`MEASURED_SHARE`), so a measurement below half of the datasheet
figure is of another memory, or one of the two is in another unit (3,350 written for 3.35 TB/s). Estimate,
inferchip, 2026-12-06."""


def implausible_share(measured_tb_per_s: float, datasheet_tb_per_s: float | None) -> str | None:
    """Why a chip file's measured bandwidth is refused against its (lowest) datasheet figure; None if it is not."""
    if datasheet_tb_per_s is None or measured_tb_per_s >= MIN_PLAUSIBLE_SHARE * datasheet_tb_per_s:
        return None
    return (f"{measured_tb_per_s:g} TB/s measured is {measured_tb_per_s / datasheet_tb_per_s:.2g} of "
            f"memory.bandwidth_tb_per_s = {datasheet_tb_per_s:g}; allowed: at least {MIN_PLAUSIBLE_SHARE:g} of it "
            "(measured chips stream 0.80-0.95 of their peak; is one of the two in GB/s?)")


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
