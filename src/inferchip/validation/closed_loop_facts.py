"""What a closed-loop serving row (a ``server`` row with a ``concurrency``) states about its system, read from its
columns, notes and case id (the id's marks as the README of ``inferencemax_cases.csv`` defines them); the row's
benchmark is simulated on these facts by :mod:`inferchip.validation.closed_loop`.

* **Engine**: the ``software`` column matched against ``catalog/engines.yaml``
  (:func:`~inferchip.catalog.engines.engine_for_software`); ``--engine`` overrides it; a ``software`` text that matches
  no engine is an error naming the row and the column. The engine sets the running-batch cap, the prefill chunk, the
  CUDA-graph buckets, its host time per step (which replaces the calibration's ``step_overhead_s``) and per request, and
  multiplies the calibration's kernel efficiencies.
* **DP attention** (``-dpa`` or "DP-attention true"): a worker of ``W = max(tp, ep, chips)`` chips runs attention
  data-parallel over its ``W`` chips, experts expert-parallel over them (``Layout(tp=W, ep=W, attn_dp=True)``; a row's
  ``tp=1, ep=8``; SGLang's per-rank ``TP1/EP1``, noted); a row with ``tp = W`` and ``ep`` below (TensorRT-LLM
  ``tp2ep1-dpa``) splits each expert ``W / ep`` ways in width (all-gather). Batch cap, chunk: per rank (x ``W``).
* **MTP** (``-mtp-`` or "speculative decoding: mtp"): each decode step verifies the engine's ``mtp_draft_tokens`` per
  sequence and emits ``1 + a + ... + a^k`` tokens (:meth:`~inferchip.spec.engine.EngineSpec.mtp_tokens_per_step`,
  acceptance ``a`` sourced in the engine catalogue).
* **Disaggregation** (``-disagg-``): the notes give both pools ("P prefill GPUs (n worker(s), TPt/EPe, DP-attention
  x) + D decode GPUs (...)", P + D = ``num_accelerators``); each worker is a replica of its pool, the KV cache of a
  prompt crosses to the decode pool over the scale-up link where both pools fit in one scale-up domain, else over the
  prefill worker's scale-out links (all its chips in parallel), at the calibration's link efficiency.
* **Multi-node**: a worker wider than the chip's scale-up domain is refused unless it is an attention-DP worker with
  its experts expert-parallel over all its chips (the layout then says how it spans nodes: all-to-all over scale-out).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from inferchip.errors import InternalError, InvalidSettingError
from inferchip.mapping.layout import Layout
from inferchip.spec.calibration import Calibration
from inferchip.spec.engine import EngineSpec
from inferchip.spec.engine.workers import WorkerScheduling, run_length
from inferchip.validation.case_notes import STATED_POOLS
from inferchip.validation.cases import Case
from inferchip.validation.results import stated_pools, whole_workers

PROMPTS_PER_CLIENT = 10  # InferenceMAX benchmark_serving --num-prompts = 10 x concurrency

_POOLS = STATED_POOLS
_DPA = re.compile(r"DP-attention\s+true", re.IGNORECASE)
_MTP = re.compile(r"speculative decoding:\s*mtp", re.IGNORECASE)


class EngineRowError(InvalidSettingError):
    """A row whose engine, layout or pools cannot be read; the message names the row and column."""


@dataclass(frozen=True)
class Worker:
    """One engine instance: its chips, attention-DP, experts, and the row's own tp/ep."""

    chips: int
    tp: int
    ep: int
    dpa: bool

    def layout(self) -> tuple[Layout, list[str]]:
        if not self.dpa:
            if self.tp < self.chips:  # the instance spans its chips: tensor-parallel over all of them
                return Layout(tp=self.chips, ep=self.ep), [
                    f"worker of {self.chips} chips stated as TP{self.tp} without attention DP: tp={self.chips}"]
            return Layout(tp=self.tp, ep=self.ep), []
        w = max(self.tp, self.ep, self.chips)
        if self.tp == w > self.ep and w % self.ep == 0:  # the row's own MoE split: experts tp/ep ways in width
            return Layout(tp=w, ep=self.ep, attn_dp=True), [f"attention DP with ep={self.ep}: tokens all-gathered "
                                                              "before the MoE and reduce-scattered after it"]
        notes = [] if self.ep == w else [
            f"attention DP over the worker's {w} chips with the row's tp={self.tp}/ep={self.ep}: experts modelled "
            f"expert-parallel over {w}"]
        return Layout(tp=w, ep=w, attn_dp=w > 1), notes


@dataclass(frozen=True)
class RowFacts:
    """What a closed-loop row's columns, notes and id say about its system."""

    engine: EngineSpec
    mtp: bool
    decode: Worker
    decode_workers: int
    prefill: Worker | None = None  # disaggregated: the prefill pool's worker
    prefill_workers: int = 0
    prompts_per_client: int = PROMPTS_PER_CLIENT  # the benchmark's, the engine's run_length (the launch harness's)
    # disaggregated: a KV link given by the caller (bytes/s, latency s) in place of the chip's (serve --kv-link-*)
    kv_link: tuple[float, float] | None = None
    # disaggregated: the MTP the launch recipe's batch caps are looked up by, where the caller holds it (serve --mtp 0:
    # the MTP row's caps with no draft tokens, so on and off differ only by the speculative terms); None: ``mtp``
    recipe_mtp: bool | None = None
    # disaggregated: (the engine's prefill_worker_scheduling entry for the row on its weights, None where none
    # matches), looked up once (closed_loop_rows.with_prefill_scheduling); (): not looked up yet
    prefill_lookup: tuple[WorkerScheduling | None, ...] = ()

    def prefill_scheduling(self) -> WorkerScheduling | None:
        """The prefill workers' ``prefill_worker_scheduling`` entry (None: none matches), as looked up once for the
        row; an internal error where it was not (the workers' recipe, their attention and the simulated run read it)."""
        if not self.prefill_lookup:
            raise InternalError("a disaggregated row's prefill_worker_scheduling entry is read before it was looked "
                                "up (closed_loop_rows.with_prefill_scheduling)")
        return self.prefill_lookup[0]


def row_facts(case: Case, engine: EngineSpec | None = None) -> RowFacts:
    """The facts of a closed-loop row (module doc); unreadable facts raise :class:`EngineRowError`."""
    where = f"line {case.line} ({case.case_id})"
    engine = engine or _closed_loop_engine(case.software, where)
    cid = case.case_id.lower()
    mtp = "-mtp-" in cid or bool(_MTP.search(case.notes))
    p = run_length(engine.run_length, software=case.software, accelerator=case.accelerator, model=case.model,
                   output_tokens=int(case.output_tokens or 0), disaggregated="-disagg-" in cid) or PROMPTS_PER_CLIENT
    if "-disagg-" in cid:
        m = _POOLS.search(case.notes)
        if m is None:
            raise EngineRowError(f"{where}, column notes: a disaggregated row ('-disagg-' in case_id) whose notes do "
                                 "not give both pools as 'P prefill GPUs (n worker(s), TPt/EPe, DP-attention x) + "
                                 "D decode GPUs (...)'")
        g = stated_pools(case, m.groups(), where)
        pw, dw = int(g[1]), int(g[6])
        pre = Worker(int(g[0]) // max(pw, 1), int(g[2]), int(g[3]), g[4].lower() == "true")
        dec = Worker(int(g[5]) // max(dw, 1), int(g[7]), int(g[8]), g[9].lower() == "true")
        return RowFacts(engine, mtp, dec, dw, pre, pw, p)
    dpa = "-dpa" in cid or bool(_DPA.search(case.notes))
    tp, ep = case.tp or 1, case.ep or 1
    w = max(tp, ep) if dpa else tp * (case.pp or 1)
    return RowFacts(engine, mtp, Worker(w, tp, ep, dpa), whole_workers(case, w, dpa, where), None, 0, p)


def check_span(layout: Layout, domain: int, chip_id: str, where: str) -> list[str]:
    """Refuse a worker wider than the scale-up domain unless its layout says how it spans nodes."""
    if layout.tp * layout.pp <= max(domain, 1):
        return []
    if layout.attn_dp and layout.ep == layout.tp:
        return [f"worker of {layout.tp} chips spans {-(-layout.tp // domain)} scale-up domains of {domain}: "
                "attention DP per chip, experts expert-parallel over all, all-to-all crossing the scale-out network"]
    raise EngineRowError(f"{where}: tp={layout.tp} exceeds the scale-up domain of {domain} chips of {chip_id} and "
                         "the row does not say how the tensor-parallel group spans nodes; allowed: tp within the "
                         "domain, or attention DP with experts expert-parallel over all the worker's chips")


def engine_row_calibration(cal: Calibration, software: str, where: str) -> Calibration:
    """The calibration a closed-loop row runs with: that of the engine its ``software`` names (the
    catalogue's default when blank), as :func:`row_facts` reads it, through
    :func:`~inferchip.catalog.engines.engine_calibration` (the engine's host time per step replaces the
    calibration's). A text naming no engine is an :class:`EngineRowError` naming ``where`` and the column."""
    from inferchip.catalog.engines import engine_calibration

    return engine_calibration(cal, _closed_loop_engine(software, where), software=software)


def _closed_loop_engine(software: str, where: str) -> EngineSpec:
    """The engine a closed-loop row is simulated on: its ``software`` read as every row's is
    (:func:`~inferchip.catalog.engines.row_engine`), which here must name an engine."""
    from inferchip.catalog.engines import engine_ids, row_engine

    try:
        engine = row_engine(software, where)
    except InvalidSettingError:
        engine = None
    if engine is None:
        raise EngineRowError(f"{where}, column software: {software!r} names no engine of catalog/engines.yaml (a "
                             f"closed-loop row is simulated on one); allowed: a text naming one of "
                             f"{', '.join(engine_ids())} (or blank: the default; --engine overrides)")
    return engine


def check_row(case: Case, engine_id: str | None, closed_loop: bool) -> None:
    """Refuse a row whose engine cannot be read, whichever server model predicts it (one check for
    ``validate`` and both passes of ``calibrate``): ``--engine`` (``engine_id``) where given, else the
    ``software`` column (:func:`~inferchip.catalog.engines.row_engine`); a closed-loop row's facts too
    (:func:`row_facts`: its engine, pools and layout)."""
    from inferchip.catalog.engines import get_engine, row_engine

    engine = get_engine(engine_id) if engine_id is not None else None
    if engine is not None:  # --engine in place of the rows' software: only on a chip it runs on
        from inferchip.catalog.chips import get_chip_params
        from inferchip.catalog.engines import check_engine_runs_on
        from inferchip.errors import UnknownIdError

        try:
            family = get_chip_params(case.accelerator).family
        except UnknownIdError:
            family = None  # an unknown accelerator: reported by the prediction, naming it
        if family is not None:
            check_engine_runs_on(engine, case.accelerator, family, f"line {case.line} ({case.case_id}): --engine")
    if closed_loop:
        row_facts(case, engine)
    elif engine is None:
        row_engine(case.software, f"line {case.line} ({case.case_id})")
