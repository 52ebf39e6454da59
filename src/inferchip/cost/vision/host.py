"""The host link a vision frame crosses before the chip sees it (``catalog/vision/host_links.csv``).

MLPerf LoadGen hands the system under test samples that sit in host memory (preprocessed, in the
network's input format); a discrete card copies each call's input over its host link (PCIe) before the
first layer runs. For one query that copy adds to the latency: an 8 MP frame (3 x 2160 x 3840) is
24.9 MB in int8 and 49.8 MB in fp16, 1.0 ms and 2.0 ms over PCIe Gen4 x16 at the DMA efficiency
below. Under load (Offline, Server) the card's copy engines move the next call's input while the
current one computes, so the copy only limits throughput when it is the slower stage.

CPUs read the frame where it lies (no copy); integrated SoCs (Jetson, DRIVE) share one memory with
their CPU (no copy). A discrete chip missing from the table gets PCIe Gen4 x16, with a note.
The output (class scores, boxes) is small and not costed.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from inferchip.cost.roofline import FloatArray
from inferchip.cost.vision.table import read_table
from inferchip.errors import InferchipError
from inferchip.spec.vision import is_cpu_family

HOST_LINKS_FILE = Path(__file__).resolve().parents[2] / "catalog" / "vision" / "host_links.csv"
GIGA = 1e9
PCIE_DMA_EFFICIENCY = 0.8
"""Share of a PCIe link's per-direction rate (after 128b/130b line coding) that a host-to-device DMA
attains: transaction-layer headers on 256-byte payloads cost ~8 %, flow control and DMA setup the rest
(inferchip estimate; cudaMemcpy of pinned buffers reaches ~25-26 GB/s of Gen4 x16's 31.5 GB/s)."""
DEFAULT_LINK = ("PCIe Gen4 x16 (assumed: chip not in host_links.csv)", 31.5)


class HostLinkFileError(InferchipError):
    """``host_links.csv`` is malformed."""


@dataclass(frozen=True)
class HostLink:
    name: str
    bytes_per_s: float  # usable rate for the input copy (DMA efficiency applied); inf: no copy
    note: str = ""


@lru_cache(maxsize=4)
def load_host_links(path: Path = HOST_LINKS_FILE) -> dict[str, tuple[str, float]]:
    """chip id -> (link name, GB/s per direction) from the table; a bad row stops with file, line and field."""
    def parse(row: dict[str, str]) -> tuple[str, tuple[str, float]]:
        try:
            rate = float(row["gb_per_s_per_direction"])
        except (KeyError, TypeError, ValueError):
            raise ValueError(f"gb_per_s_per_direction must be a number >= 0, got "
                             f"{row.get('gb_per_s_per_direction')!r}") from None
        if not np.isfinite(rate) or rate < 0 or not row.get("chip_id") or not row.get("source"):
            raise ValueError("needs chip_id, a rate >= 0 GB/s and its source")
        return row["chip_id"], (row["link"], rate)

    return dict(read_table(path, HostLinkFileError, parse))


def host_link(chip_id: str, family: str) -> HostLink:
    """The link a frame crosses to reach ``chip_id``: none for CPUs and unified-memory SoCs (rate inf)."""
    if is_cpu_family(family):
        return HostLink("none (CPU reads the frame in host memory)", float("inf"))
    name, gb = load_host_links().get(chip_id, DEFAULT_LINK)
    note = "" if chip_id in load_host_links() else f"{chip_id}: no host link in host_links.csv, {name}"
    if gb == 0:
        return HostLink(name, float("inf"), note)
    return HostLink(name, gb * GIGA * PCIE_DMA_EFFICIENCY, note)


def input_copy_s(input_bytes_per_frame: float, frames: FloatArray, link_bytes_per_s: float) -> FloatArray:
    """Seconds to copy ``frames`` inputs of ``input_bytes_per_frame`` each over the host link
    (bytes / usable link rate); 0 where there is no copy (rate inf)."""
    f = np.asarray(frames, dtype=float)
    if not np.isfinite(link_bytes_per_s):
        return np.zeros_like(f)
    return np.asarray(input_bytes_per_frame * f / link_bytes_per_s, dtype=float)


def query_host_s(samples: FloatArray | float, sample_host_s: float) -> FloatArray:
    """Host time to stage ``samples`` samples of a latency-scenario query before their call is issued:
    samples x ``sample_host_s`` (the calibration's fitted per-sample host time).

    Source: NVIDIA's MLPerf harness (LWIS, ``closed/NVIDIA/code/harness/lwis/src/lwis.cpp``, inference results
    v5.1, read not copied): ``Server::CopySamples`` runs on the issuing thread before the engine is enqueued; it
    checks whether a batch's samples lie back to back in the sample library and, when they do not, copies them
    one by one (one ``cudaMemcpyAsync`` or one host ``memcpy`` into the staging buffer per sample), and
    ``IssueBatch`` builds one LoadGen response per sample. LoadGen draws a MultiStream query's 8 samples at random
    from the loaded set, so a query's batch is not contiguous. One SingleStream sample is one staged sample.
    Under load (Offline, Server) this host work overlaps the device's (copy streams, separate issue and
    completion threads) and is not charged. Hand check: 8 samples at 5 us are 40 us before the batch starts."""
    return np.asarray(np.asarray(samples, dtype=float) * sample_host_s, dtype=float)
