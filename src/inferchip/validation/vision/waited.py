"""SingleStream rows whose measured one-sample query outlasts the same system's 8-sample MultiStream query: the
measurement contradicts the row's own setting (one sample per query, issued when the previous one completes).

A batch-1 call does no more work than the batch-8 call of the same engine family on the same hardware, so a
SingleStream latency above the same system's MultiStream latency is time the query spent waiting in the harness,
not on the chip. The case in point: NVIDIA's LWIS harness hands a device a batch when ``gpu_batch_size`` samples have
queued or its deque timeout (``ServerSettings::Timeout``, 10,000 us by default) has passed
(mlcommons/inference_results_v5.1 ``closed/NVIDIA/code/harness/lwis/include/lwis.hpp``), so a one-sample query on
an engine configured for a larger batch waits out the timeout (HPE ML30 RTX 4000 Ada, v5.1: RetinaNet SingleStream
50.5 ms a query against 29.6 ms for the same system's 8-sample MultiStream query; its ResNet-50 latency runs sit
at 10.2 ms a query). Like the closed-loop rows' ``measured run stalled`` note
(:func:`inferchip.validation.case_notes.measured_stall_s`), the flag is evidence in the output: the row stays in every
figure.

The same system's MultiStream latency is read from a MultiStream row of the case file whose MLPerf result path is
the row's with ``/SingleStream/`` replaced by ``/MultiStream/`` (same submitter, system, network and round), or
from the row's notes (``MultiStream run completes an 8-sample query in 29.59 ms``) when that run is not a row.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from inferchip.validation.vision.cases import MULTISTREAM_SAMPLES, VisionCase

_STATED = re.compile(rf"MultiStream run completes an {MULTISTREAM_SAMPLES}-sample query in ([0-9]+(?:\.[0-9]+)?) ms")


def same_system_multistream_ms(case: VisionCase, cases: Sequence[VisionCase]) -> tuple[float, str] | None:
    """(latency in ms, where it comes from) of the 8-sample MultiStream query of the SingleStream row's own system:
    the shortest of its MultiStream row (the twin result path) and the value its notes state; None when the row is
    not a SingleStream latency or neither is known."""
    if case.scenario != "single_stream" or not case.metric.startswith("latency_"):
        return None
    found: list[tuple[float, str]] = []
    if "/SingleStream/" in case.source:
        twin = case.source.replace("/SingleStream/", "/MultiStream/")
        found += [(c.value, f"row {c.case_id}") for c in cases
                  if c.source == twin and c.scenario == "multi_stream" and c.metric.startswith("latency_")]
    m = _STATED.search(case.notes)
    if m:
        found.append((float(m.group(1)), "stated in the row's notes"))
    return min(found) if found else None


def waited_query(case: VisionCase, cases: Sequence[VisionCase]) -> str:
    """The flag's text for a SingleStream row whose measured latency exceeds its system's 8-sample MultiStream
    query (:func:`same_system_multistream_ms`); "" otherwise."""
    ms = same_system_multistream_ms(case, cases)
    if ms is None or case.value <= ms[0]:
        return ""
    return (f"measured query waited: this one-sample query ({case.value:.4g} ms) outlasts the same system's "
            f"{MULTISTREAM_SAMPLES}-sample MultiStream query ({ms[0]:.4g} ms, {ms[1]}), which no batch-1 call does: "
            "time in the harness, not on the chip (the row is kept in every figure)")
