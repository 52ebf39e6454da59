"""Wall power of a vision server from its host CPUs (``catalog/vision/host_cpus.csv``) and its boards.

MLPerf Inference Power measures the whole system at the wall: boards, host CPUs, memory, fans and the power
supply's losses. The project-wide host of :func:`inferchip.cost.energy.wall_power_w` (``host.host_idle_w``,
750 W) is a two-socket HGX host; vision systems range from a one-socket edge box holding three 75 W cards to
an 8-GPU HGX server, so here the host scales with the CPUs the row names (``host CPU 2x <name>``):

    host_w = sockets x (cpu_tdp_w x HOST_CPU_LOAD_SHARE + PLATFORM_W_PER_SOCKET)
             + accelerators on a scale-up switch x ``host.host_per_accelerator_w``
    wall_w = (boards_w + host_w) x (1 + ``host.fan_power_fraction``) / ``host.psu_efficiency``

The per-accelerator share (NVSwitch, NIC, retimers) applies only to accelerators joined by a scale-up switch
(``max_scaleup_domain`` > 1); PCIe cards have none. A CPU missing from the table falls back to the HGX host.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

from inferchip.cost.vision.table import read_table
from inferchip.errors import InferchipError

HOST_CPUS_FILE = Path(__file__).resolve().parents[2] / "catalog" / "vision" / "host_cpus.csv"
HOST_CPU_LOAD_SHARE = 0.5
"""Share of a host CPU's TDP it draws during an MLPerf run (inferchip estimate: server CPUs idle at ~25-30 % of
TDP; LoadGen, the runtime's submission threads and the data loader keep a few cores busy)."""
PLATFORM_W_PER_SOCKET = 60.0
"""Memory, storage, BMC and board logic per CPU socket (inferchip estimate: 8-12 DDR5 RDIMMs at ~4 W, an NVMe
drive, BMC and VRM losses)."""
_HOST = re.compile(r"host CPU (\d+)x ([^;\"]+)")


class HostCpuFileError(InferchipError):
    """``host_cpus.csv`` is malformed."""


@lru_cache(maxsize=4)
def load_host_cpus(path: Path = HOST_CPUS_FILE) -> dict[str, float]:
    """CPU name (lower case) -> TDP in W; a bad row stops with file, line and field."""
    def parse(row: dict[str, str]) -> tuple[str, float]:
        try:
            tdp = float(row["tdp_w"])
        except (KeyError, TypeError, ValueError):
            raise ValueError(f"tdp_w must be a number > 0, got {row.get('tdp_w')!r}") from None
        if not tdp > 0 or not row.get("cpu") or not row.get("source"):
            raise ValueError("needs cpu, tdp_w > 0 and its source")
        return row["cpu"].strip().lower(), tdp

    return dict(read_table(path, HostCpuFileError, parse))


def host_cpus(notes: str) -> tuple[int, float] | None:
    """(sockets, TDP per socket in W) of the host CPU a row's notes name (``host CPU 2x <name>``); None when the
    notes name none or the CPU is not in the table."""
    m = _HOST.search(notes)
    if m is None:
        return None
    tdp = load_host_cpus().get(m.group(2).strip().lower())
    return None if tdp is None else (int(m.group(1)), tdp)


def host_power_w(sockets: int, cpu_tdp_w: float, switched_accelerators: int, per_accelerator_w: float) -> float:
    """Host power (W, before fans and PSU losses): sockets x (TDP x load share + platform) plus the switch share
    of each accelerator on a scale-up switch."""
    per_socket_w = cpu_tdp_w * HOST_CPU_LOAD_SHARE + PLATFORM_W_PER_SOCKET
    return sockets * per_socket_w + switched_accelerators * per_accelerator_w


def wall_w(boards_w: float, host_w: float, fan_fraction: float, psu_efficiency: float) -> float:
    """AC power at the wall: (boards + host) x (1 + fan share) / PSU efficiency."""
    return (boards_w + host_w) * (1.0 + fan_fraction) / psu_efficiency
