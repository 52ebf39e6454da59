"""Facts a case row's notes state, read the same way for every row (never from its id): its p99 latency limits
(:func:`stated_limits`), the load it was measured at (:func:`stated_load_per_s`), the TTFT spread of its run
(:func:`stated_ttft_spread_s`) and whether that run stalled (:func:`measured_stall_s`). The row itself is
:class:`~inferchip.validation.cases.Case`."""

from __future__ import annotations

import math
import re

from inferchip.validation.cases import MLPERF_DATASETS, Case, LatencyLimits, case_dataset

_NUM = r"(\d+(?:\.\d+)?)"
_LIMIT_MS = re.compile(r"\b(TTFT|TPOT)\s+p99\s*<=\s*" + _NUM + r"\s*ms", re.IGNORECASE)
_LIMIT_E2E_S = re.compile(r"end-to-end latency\s+p99\s*<=\s*" + _NUM + r"\s*s\b", re.IGNORECASE)
_MEASURED_AT = re.compile(r"measured at[^()]*?\(?\s*" + _NUM + r"\s+completed samples/s", re.IGNORECASE)
_MEASURED_AT_BARE = re.compile(r"measured at\s+" + _NUM + r"\s+completed samples/s", re.IGNORECASE)
_REQUEST_RATE = re.compile(r"request rate(?:\s*\([^)]*\))?\s+(INF|" + _NUM + r")\b", re.IGNORECASE)

# A disaggregated row's two pools as its notes state them (closed_loop_facts.row_facts reads and checks them)
STATED_POOLS = re.compile(
    r"(\d+) prefill GPUs \((\d+) worker\(s\), TP(\d+)/EP(\d+), DP-attention (true|false)\)\s*\+\s*"
    r"(\d+) decode GPUs \((\d+) worker\(s\), TP(\d+)/EP(\d+), DP-attention (true|false)\)", re.IGNORECASE)


# A TensorRT-LLM attention-DP balance the notes state: the NVIDIA MLPerf harness's names (whose values
# stated_engine.stated_scheduling reads) or attention_dp_config's enable_balance set true
_DP_BALANCE = re.compile(r"\badp_balancing_(?:batching_wait|timeout)_iters\b|\benable_balance\s*[:=]?\s*true\b",
                         re.IGNORECASE)


def states_dp_balance(case: Case) -> bool:
    """Whether the row's notes state that its engine holds new prompts until every attention-DP rank has one
    (TensorRT-LLM ``attention_dp_config`` ``enable_balance``; :data:`_DP_BALANCE`)."""
    return _DP_BALANCE.search(case.notes) is not None


def decode_worker_chips(case: Case) -> int:
    """The chips of one decode worker of a disaggregated row (``-disagg-`` in its id) as its notes' pools state them
    (:data:`STATED_POOLS`: decode GPUs over decode workers); 0 for any other row or pools that are not whole workers
    (``row_facts`` refuses those with the reason)."""
    m = STATED_POOLS.search(case.notes) if "-disagg-" in case.case_id.lower() else None
    if m is None or int(m.group(7)) < 1 or int(m.group(6)) % int(m.group(7)):
        return 0
    return int(m.group(6)) // int(m.group(7))


def stated_limits(case: Case) -> LatencyLimits | None:
    """p99 latency constraints for a Server/Interactive row: from its notes ("TTFT p99<=2000 ms,
    TPOT p99<=200 ms", "end-to-end latency p99<=20 s"), else from the README's data-set table."""
    found = {m.group(1).upper(): float(m.group(2)) for m in _LIMIT_MS.finditer(case.notes)}
    e2e = _LIMIT_E2E_S.search(case.notes)
    if found or e2e:
        return LatencyLimits(
            ttft_s=found["TTFT"] / 1e3 if "TTFT" in found else None,
            tpot_s=found["TPOT"] / 1e3 if "TPOT" in found else None,
            e2e_s=float(e2e.group(1)) if e2e else None,
            source="row notes",
        )
    ds = case_dataset(case)
    if ds is None or ds.name not in MLPERF_DATASETS:
        return None
    if case.interactive:
        return ds.interactive
    return ds.server


def stated_load_per_s(case: Case) -> float | None:
    """Request rate (requests/s, whole system) a latency row was measured at, from its notes:
    "measured at the load above (74.42 completed samples/s)" or "request rate (QPS column) 2";
    ``inf`` for a saturating rate ("INF"); None when the notes state none."""
    for pat in (_MEASURED_AT_BARE, _MEASURED_AT):
        m = pat.search(case.notes)
        if m:
            return float(m.group(1))
    m = _REQUEST_RATE.search(case.notes)
    if m:
        return math.inf if m.group(1).upper() == "INF" else float(m.group(1))
    return None


_TTFT_SPREAD = re.compile(r"TTFT spread of the run: median " + _NUM + r" ms, p99 " + _NUM + r" ms")
# A request that waited this much longer than the run's median request: no queue of a closed-loop benchmark makes
# that wait. Its longest queue is the start wave (C clients' prompts at once, then 10 C prompts in all): on the
# B200 SGLang rows the widest wave (128 x 8k-token prompts, TP4 FP4) reads p99 - median = 19.7 s, and no run
# without a stall exceeds 20 s, where the 63 stalled runs read 67.6-89.4 s (docs/data/imax_b200_sglang_ttft_spread.csv;
# python tools/closed_loop/ttft_spread.py report). An estimate (this project's), in the empty band between.
STALL_WAIT_S = 30.0
# A one-off stall leaves the median request alone (few requests wait through it), a saturated server queues the
# median request too: the p99 excess is then the queue, not a stall. The stalled B200 SGLang runs' medians are at most
# 0.03 of their excess (0.15-2.0 s against 67.6-89.4 s); the MI355X SGLang PD runs above STALL_WAIT_S with 8k prompts
# or 1k prompts and 8k outputs at 2,048 clients wait 19-379 s at the median, 0.24-2.6 of their excess
# (docs/data/imax_sglang_atom_ttft_spread.csv). An estimate (this project's), in the empty band between.
SATURATED_MEDIAN_SHARE = 0.1


def stated_ttft_spread_s(case: Case) -> tuple[float, float] | None:
    """(median, p99) TTFT in seconds of the run a row comes from, from its notes ("TTFT spread of the run:
    median 147.4 ms, p99 564.1 ms", the benchmark result's ``median_ttft`` and ``p99_ttft``); None when not stated."""
    m = _TTFT_SPREAD.search(case.notes)
    return None if m is None else (float(m.group(1)) / 1e3, float(m.group(2)) / 1e3)


def measured_stall_s(case: Case) -> float | None:
    """The one-off wait of the measured run (p99 minus median TTFT, seconds) where it is at least
    ``STALL_WAIT_S``: the server stalled at least once (a first-use kernel load or compile, for instance)
    and some requests waited through it. It lengthens the run (throughput) and the mean TTFT of the few
    requests that waited; no steady-state model predicts it. None when the notes state no spread, the
    run did not stall, or its median request waited more than ``SATURATED_MEDIAN_SHARE`` of that excess
    (a saturated server: the excess is its queue)."""
    spread = stated_ttft_spread_s(case)
    if spread is None:
        return None
    wait_s = spread[1] - spread[0]
    if wait_s < STALL_WAIT_S or spread[0] > SATURATED_MEDIAN_SHARE * wait_s:
        return None
    return wait_s
