"""MLPerf Server pass/fail of vision rows at the submitter's operating point.

Which rows state a limit: the MLPerf Inference Server rows (``target latency 15 ms at p99`` for ResNet-50,
100 ms for RetinaNet, in the row's notes; ``mlcommons/inference`` docs/index.md). SingleStream, MultiStream and
Offline have no latency limit in MLPerf Inference v2.0 and later (SingleStream and MultiStream report a latency
percentile, Offline a rate), so their rows state none. Every published Server row passed its bound (its notes
state the measured p99, always under the target).

Two ways of asking "does the model predict this run's pass?" are reported:

* **At the measured load** (strict): the simulated p99 at the row's own samples/s. Submitters report the highest
  load that passes, so this is "predicted Server capacity >= measured load": the sign of a few-per-cent capacity
  error, which no model with a non-zero capacity error gets right much more than half the time on rows at the
  edge (see :data:`inferchip.validation.vision.summary.CAPACITY_EDGE`).
* **At the operating point** (this module): the load the submitter ran, as a fraction ``rho`` of the same
  system's measured Offline rate (the throughput of the same hardware and software without a latency limit),
  applied to the model's Offline rate for that system: predicted pass = the simulated p99 at ``rho`` x the
  predicted Offline rate is within the bound. This asks the question the bound poses for a chip that does not
  exist yet ("at 90 % of its throughput, does it meet 15 ms at p99?"): whether the batch the chip needs to keep
  up, queued behind Poisson arrivals, finishes within the bound, separated from the throughput error that the
  Server and Offline LOAO errors already measure. Equivalently, the run passes when ``rho`` is at most the
  model's largest passing fraction ``rho*`` = predicted Server capacity / predicted Offline rate.

The Offline counterpart of a Server row (vision-passfail2 revision): the system's throughput per accelerator is the
median, over the round's Offline runs of the same chip, network, precision and MaxQ-ness (any chip count,
the row's own system's run included when it has one), of samples/s per accelerator; times the row's
accelerators. LWIS runs every accelerator of a vision system on its own (one engine per device, the samples
handed to the next free device), so the Offline rate scales with the chip count, and one submitter's Offline
run is a noisy estimate of the hardware's throughput: Dell's R760xa 4x H100 PCIe ResNet-50 v4.1 Offline run
made 49,091 samples/s per GPU against 56,296 and 56,711 for ASUSTeK's 8x and Cisco's 2x runs of the round,
while its Server run (51,632 per GPU, tuned entry in Dell's ``configs/resnet50/Server/custom.py``:
``server_target_qps`` 206,500, batch 128) matched the other H100 PCIe Server runs (51,263 and 51,506); the
stored Dell Offline ``custom.py`` of that round has no entry for that system. Before this revision the own
system's run came first (Server above Offline there: rho 1.052), then the median of the same chip count.
A MaxQ system (MLPerf Power's power-capped category, named so in its system name and result path) runs its
GPUs under a power limit, so its Offline rate is not the throughput of an uncapped system of the same chips
(8x H200 ResNet-50 v4.1: 69,529 samples/s per GPU MaxQ against 94,620 uncapped), nor the reverse: the pools
keep them apart. A row whose pool is empty has no operating point.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from inferchip.validation.energy.row_setting import says_maxq
from inferchip.validation.vision.cases import VisionCase

_SCENARIO_DIR = re.compile(r"/(server|offline)/", re.IGNORECASE)


@dataclass(frozen=True)
class OfflineMatch:
    """The Offline rows standing for a Server row's system, and how they were matched."""

    case_ids: tuple[str, ...]
    how: str  # OWN_RUN_IN_POOL | "same chip, per accelerator"
    measured_per_s: float  # the system's measured Offline samples/s (median per accelerator x its accelerators)
    accelerators: tuple[int, ...] = ()  # each matched row's accelerator count (empty: rates are the system's)
    num_accelerators: int = 1  # the Server row's accelerators

    def fraction(self, server_per_s: float) -> float:
        """The Server row's load as a fraction of the system's measured Offline rate (``rho``)."""
        return server_per_s / self.measured_per_s


OWN_RUN_IN_POOL = "same chip, per accelerator, own run in pool"
OTHERS_ONLY = "same chip, per accelerator"


def result_directory(source: str) -> str | None:
    """The source with its MLPerf scenario directory (``/Server/``, ``/Offline/``) blanked, or None when the
    source names no scenario directory: two rows with the same value are the same system's results."""
    if not _SCENARIO_DIR.search(source):
        return None
    return _SCENARIO_DIR.sub("/*/", source)


def is_power_capped(c: VisionCase) -> bool:
    """The row is a MaxQ (power-capped) system's: its id or notes say MaxQ (:func:`energy.row_setting.says_maxq`),
    or its result path names a MaxQ system (``.../H200-SXM-141GBx8_TRT_MaxQ/...``)."""
    return says_maxq({"case_id": c.case_id, "notes": c.notes}) or "_maxq/" in c.source.lower()


def _pool_key(c: VisionCase) -> tuple[str, str, str, str, bool]:
    return c.source_kind, c.accelerator, c.model, c.precision, is_power_capped(c)


def _is_offline_rate(c: VisionCase) -> bool:
    return c.scenario == "offline" and c.metric == "samples_per_s"


def _per_accelerator_median(rows: Sequence[VisionCase]) -> float:
    return float(statistics.median(r.value / r.num_accelerators for r in rows))


def offline_matches(cases: Sequence[VisionCase]) -> dict[str, OfflineMatch]:
    """For each Server samples/s row, its Offline counterpart (module docstring); rows without one are absent."""
    pools: dict[tuple[str, str, str, str, bool], list[VisionCase]] = {}
    for c in cases:
        if _is_offline_rate(c):
            pools.setdefault(_pool_key(c), []).append(c)
    out: dict[str, OfflineMatch] = {}
    for c in cases:
        if not (c.scenario == "server" and c.metric == "samples_per_s"):
            continue
        pool = pools.get(_pool_key(c), [])
        if not pool:
            continue
        d = result_directory(c.source)
        own = d is not None and any(result_directory(o.source) == d for o in pool)
        n = c.num_accelerators
        out[c.case_id] = OfflineMatch(tuple(o.case_id for o in pool), OWN_RUN_IN_POOL if own else OTHERS_ONLY,
                                      _per_accelerator_median(pool) * n, tuple(o.num_accelerators for o in pool), n)
    return out


def predicted_offline_per_s(match: OfflineMatch, predicted: dict[str, float | None]) -> float | None:
    """The model's Offline rate for the matched system: the median per accelerator of its rows' predictions,
    times the Server row's accelerators (None if any is missing)."""
    vals = [predicted.get(cid) for cid in match.case_ids]
    if any(v is None for v in vals):
        return None
    per = match.accelerators or (1,) * len(vals)
    scale = match.num_accelerators if match.accelerators else 1
    return float(statistics.median(v / k for v, k in zip(vals, per, strict=True) if v is not None)) * scale
