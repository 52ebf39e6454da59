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
  edge (see :data:`inferchip.validation.vision.validate.CAPACITY_EDGE`).
* **At the operating point** (this module): the load the submitter ran, as a fraction ``rho`` of the same
  system's measured Offline rate (the throughput of the same hardware and software without a latency limit),
  applied to the model's Offline rate for that system: predicted pass = the simulated p99 at ``rho`` x the
  predicted Offline rate is within the bound. This asks the question the bound poses for a chip that does not
  exist yet ("at 90 % of its throughput, does it meet 15 ms at p99?"): whether the batch the chip needs to keep
  up, queued behind Poisson arrivals, finishes within the bound, separated from the throughput error that the
  Server and Offline LOAO errors already measure. Equivalently, the run passes when ``rho`` is at most the
  model's largest passing fraction ``rho*`` = predicted Server capacity / predicted Offline rate.

The Offline counterpart of a Server row: the Offline row of the same result directory (same round, submitter,
system: ``.../<system>/<benchmark>/Server/...`` against ``.../Offline/...``); failing that, the median of the
Offline rows of the same round, chip, chip count, network and precision ("same configuration"); failing that
none, and the row is reported without an operating point. A configuration match also keeps MaxQ with MaxQ: a
MaxQ system (MLPerf Power's power-capped category, named so in its system name and result path) runs its GPUs
under a power limit, so its Offline rate is not the throughput of an uncapped system of the same chips (8x H200
ResNet-50 v4.1: 69,529 samples/s per GPU MaxQ against 94,620 uncapped), nor the reverse.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from inferchip.validation.energy_rows import says_maxq
from inferchip.validation.vision.cases import VisionCase

_SCENARIO_DIR = re.compile(r"/(server|offline)/", re.IGNORECASE)


@dataclass(frozen=True)
class OfflineMatch:
    """The Offline rows standing for a Server row's system, and how they were matched."""

    case_ids: tuple[str, ...]
    how: str  # "same system" | "same configuration"
    measured_per_s: float  # their measured samples/s (median over the rows)

    def fraction(self, server_per_s: float) -> float:
        """The Server row's load as a fraction of the system's measured Offline rate (``rho``)."""
        return server_per_s / self.measured_per_s


def result_directory(source: str) -> str | None:
    """The source with its MLPerf scenario directory (``/Server/``, ``/Offline/``) blanked, or None when the
    source names no scenario directory: two rows with the same value are the same system's results."""
    if not _SCENARIO_DIR.search(source):
        return None
    return _SCENARIO_DIR.sub("/*/", source)


def is_power_capped(c: VisionCase) -> bool:
    """The row is a MaxQ (power-capped) system's: its id or notes say MaxQ (:func:`energy_rows.says_maxq`), or its
    result path names a MaxQ system (``.../H200-SXM-141GBx8_TRT_MaxQ/...``)."""
    return says_maxq({"case_id": c.case_id, "notes": c.notes}) or "_maxq/" in c.source.lower()


def _config(c: VisionCase) -> tuple[str, str, int, str, str, bool]:
    return c.source_kind, c.accelerator, c.num_accelerators, c.model, c.precision, is_power_capped(c)


def _is_offline_rate(c: VisionCase) -> bool:
    return c.scenario == "offline" and c.metric == "samples_per_s"


def offline_matches(cases: Sequence[VisionCase]) -> dict[str, OfflineMatch]:
    """For each Server samples/s row, its Offline counterpart (module docstring); rows without one are absent."""
    by_dir: dict[str, VisionCase] = {}
    by_config: dict[tuple[str, str, int, str, str, bool], list[VisionCase]] = {}
    for c in cases:
        if not _is_offline_rate(c):
            continue
        d = result_directory(c.source)
        if d is not None:
            by_dir.setdefault(d, c)
        by_config.setdefault(_config(c), []).append(c)
    out: dict[str, OfflineMatch] = {}
    for c in cases:
        if not (c.scenario == "server" and c.metric == "samples_per_s"):
            continue
        d = result_directory(c.source)
        same = by_dir.get(d) if d is not None else None
        if same is not None and same.num_accelerators == c.num_accelerators:
            out[c.case_id] = OfflineMatch((same.case_id,), "same system", same.value)
            continue
        alike = by_config.get(_config(c), [])
        if alike:
            out[c.case_id] = OfflineMatch(tuple(a.case_id for a in alike), "same configuration",
                                          float(statistics.median(a.value for a in alike)))
    return out


def predicted_offline_per_s(match: OfflineMatch, predicted: dict[str, float | None]) -> float | None:
    """The model's Offline rate for the matched system: the median of its rows' predictions (None if any is
    missing)."""
    vals = [predicted.get(cid) for cid in match.case_ids]
    if any(v is None for v in vals):
        return None
    return float(statistics.median(v for v in vals if v is not None))
