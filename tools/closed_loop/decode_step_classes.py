"""A closed-loop row's decode worker step split by operator class, at the requests per attention-DP rank the row
runs: the worker the validation itself builds for the row (``closed_loop.simulate_closed_loop``'s replicas,
caught for the run and restored), its pure decode step (engine padding and MTP verify tokens included,
``EngineStepModel``) at each per-rank batch of ``--per-rank``, time per operator class (``StepCost.classes``: each
class's time and its compute-, memory-, network-bound and overhead parts), and the measured TPOT of the row beside
the simulated one. With ``--json X.json`` (a closed-loop ``inferchip validate --format json`` run) each row's
measured requests per rank, by Little's law from its run's throughput and TPOT records (``little_per_rank``),
join the grid, and the simulated step there is set beside the measured TPOT (docs/serving_journal.md,
"Dynamo at high load: what drains the prefill queue", lead 1, and "The decode floor at 48 ranks").

With ``--decode-floor-us FLOOR,PER_PEER`` the chip family (``--family``) prices each expert dispatch and combine
of a decode step at ``FLOOR + (ranks - 1) PER_PEER`` us (cost/network.py ``all_to_all_latency_s``) instead of the
link's ``(ranks - 1)`` alpha: TensorRT-LLM tech blog 18's one-sided GB200 line is 23.5,0.099 (stop 30).

    python tools/closed_loop/decode_step_classes.py CASE_ID_PART [...] [--per-rank 32,64,128,170,256] \
        [--context 1536] [--cases CASES.csv] [--json X.json] [--decode-floor-us 23.5,0.099]
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "step_model"))
from row_step_classes import parse_batches as parse_ints  # noqa: E402  (one parser of integer grids)

PARTS = ("compute_bound_s", "memory_bound_s", "network_s", "overhead_s")


def padded_tokens(per_rank: int, ranks: int, graph_step: int, graph_max: int, verify: int,
                  routed: bool = True) -> tuple[int, int]:
    """(tokens, sequences) of one decode step of ``per_rank`` requests on each of ``ranks`` ranks, as
    ``EngineStepModel.step_time_s`` pads them: each rank's batch up to its CUDA-graph bucket, plus ``verify``
    MTP draft tokens per padded sequence; unpadded where the worker's padded rows reach no expert
    (``routed`` False: ``EngineStepModel.padded_rows_routed``)."""
    from inferchip.sim.engines.engine_step import padded_batch

    n = per_rank * ranks
    padded = max(int(padded_batch(np.asarray(per_rank), graph_step, graph_max)) * ranks, n) if routed else n
    return padded + verify * padded, padded


def little_per_rank(output_tokens_per_s: float, tpot_ms: float, ranks: int, workers: int = 1) -> float:
    """Requests decoding per attention-DP rank in a steady loop (Little's law): each decoding request emits one
    token per TPOT, so ``output tokens/s x TPOT / (ranks x workers)`` (the row's throughput is the whole system's,
    ``workers`` decode workers of ``ranks`` ranks each). Units: tokens/s, ms -> requests per rank."""
    return output_tokens_per_s * tpot_ms / 1e3 / (ranks * workers)


def run_records(json_path: str, case_id: str) -> dict[str, dict[str, Any]]:
    """The records of ``case_id``'s run (its id less the metric suffix) in a validate JSON, by metric suffix."""
    import json

    stem = case_id.rsplit("-", 1)[0]
    with open(json_path) as f:
        cases = json.load(f)["cases"]
    return {c["case_id"].rsplit("-", 1)[1]: c for c in cases if c["case_id"].rsplit("-", 1)[0] == stem}


@contextlib.contextmanager
def catching() -> Iterator[dict[str, Any]]:
    """While open, each closed-loop run records its replicas (``reps``: "decode", "prefill")."""
    from inferchip.validation import closed_loop_rows

    rec: dict[str, Any] = {}
    orig = closed_loop_rows.simulate_closed_loop

    def wrapped(case: Any, facts: Any, reps: Any, total: int, host: Any) -> Any:
        rec["reps"], rec["facts"] = reps, facts
        return orig(case, facts, reps, total, host)

    closed_loop_rows.simulate_closed_loop = wrapped
    try:
        yield rec
    finally:
        closed_loop_rows.simulate_closed_loop = orig


@contextlib.contextmanager
def decode_floor(family: str, floor_us: float, per_peer_us: float) -> Iterator[None]:
    """While open, ``family`` prices one call of the one-sided low-latency expert kernels of a decode step at
    ``floor + (ranks - 1) per peer`` (cost/network.py ``all_to_all_latency_s``; since stop 33 the Blackwell family
    carries the public figure, docs/serving_journal.md "floor33"); the family's own defaults come back on exit."""
    from inferchip.catalog import chips
    from inferchip.catalog.yaml_io import validate

    orig = chips.family_defaults(family)  # an unknown family: SpecError listing the allowed ones
    fams = chips._families()
    # validated as the family file's field is (a bad figure: SpecError naming the field, value and bound)
    fams[family] = validate(type(orig), {**orig.model_dump(), "expert_a2a_decode_floor_us": (floor_us, per_peer_us)},
                            f"--decode-floor-us (family '{family}')")
    try:
        yield
    finally:
        fams[family] = orig


def class_rows(dec: Any, per_rank: Sequence[int], context_tokens: float) -> list[dict[str, Any]]:
    """The decode worker's pure decode step at each per-rank batch: step time (s), per class (time, parts)."""
    st = dec.step
    out = []
    for b in per_rank:
        tokens, seqs = padded_tokens(b, dec.ranks, st.graph_batch_step, st.graph_max_batch, st.verify_tokens,
                                     st.padded_rows_routed)
        one = np.array([1.0])
        t, cost = dec.mm.replica_step_s(one * tokens, one * seqs, one * seqs * context_tokens, 0.0 * one)
        classes = {k: {"time_s": float(np.ravel(c.time_s)[0]),
                       **{p: float(np.ravel(getattr(c, p))[0]) for p in PARTS}} for k, c in cost.classes.items()}
        out.append({"per_rank": b, "tokens": tokens, "time_s": float(np.ravel(t)[0]), "classes": classes})
    return out


def report(case: Any, dec: Any, rows: list[dict[str, Any]], simulated_ms: float) -> list[str]:
    """Markdown lines: the layout, then per batch the step and its classes (ms; network part in brackets)."""
    lay = dec.mm.layout
    names = [k for k in rows[0]["classes"] if any(r["classes"][k]["time_s"] > 0 for r in rows)]
    lines = [f"\n{case.case_id}: measured {case.value:.2f}, simulated {simulated_ms:.2f} {case.unit}; decode worker "
             f"tp {lay.tp} ep {lay.ep}, {dec.ranks} attention-DP ranks; CUDA graphs to {dec.step.graph_max_batch} "
             f"per rank, {dec.step.verify_tokens} MTP verify tokens",
             "| per rank | tokens | step ms | " + " | ".join(f"{n} (net)" for n in names) + " |",
             "|---" * (3 + len(names)) + "|"]
    for r in rows:
        cells = [f"{r['classes'][n]['time_s'] * 1e3:.2f} ({r['classes'][n]['network_s'] * 1e3:.2f})" for n in names]
        lines.append(f"| {r['per_rank']} | {r['tokens']} | {r['time_s'] * 1e3:.2f} | " + " | ".join(cells) + " |")
    return lines


def main() -> None:
    from inferchip.errors import SpecError

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("parts", nargs="+", help="parts of case ids (the first matching row of each)")
    ap.add_argument("--cases", default="src/inferchip/catalog/inferencemax_cases.csv")
    ap.add_argument("--per-rank", default="32,64,128,170,256", help="decode requests per attention-DP rank")
    ap.add_argument("--context", type=float, default=1536.0, help="KV tokens per sequence (default 1536)")
    ap.add_argument("--json", default=None, help="a closed-loop validate JSON: add each row's measured occupancy")
    ap.add_argument("--decode-floor-us", default=None, metavar="FLOOR,PER_PEER",
                    help="price the low-latency expert calls of --family at FLOOR + (ranks-1) PER_PEER us "
                         "(TensorRT-LLM tech blog 18's GB200 line: 23.5,0.099)")
    ap.add_argument("--family", default="nvidia-blackwell", help="the family --decode-floor-us applies to")
    a = ap.parse_args()
    with contextlib.ExitStack() as stack:
        if a.decode_floor_us:
            try:
                f_us, p_us = (float(x) for x in a.decode_floor_us.split(","))
            except ValueError:
                ap.error("--decode-floor-us takes FLOOR,PER_PEER (two numbers, us)")
            try:
                stack.enter_context(decode_floor(a.family, f_us, p_us))
            except SpecError as e:  # an unknown family, or a figure outside the family field's bound
                ap.error(str(e))
        run(a, ap)


def run(a: argparse.Namespace, ap: argparse.ArgumentParser) -> None:
    """The report of every row ``a.parts`` names (``main``'s arguments)."""
    from inferchip.catalog.calibration_file import load_calibration
    from inferchip.validation.cases import read_cases
    from inferchip.validation.validate import Validator

    try:
        per_rank = parse_ints(a.per_rank)
    except ValueError as exc:
        ap.error(f"--per-rank {exc}")
    cases = read_cases(a.cases)
    validator = Validator(load_calibration(None), server_model="sim", compare=False)
    for part in a.parts:
        case = next((c for c in cases if part in c.case_id), None)
        if case is None:
            print(f"{part}: no row")
            continue
        with catching() as rec:
            result = validator.predict_case(case)
        if result.status != "ok" or "reps" not in rec:
            print(f"{case.case_id}: no closed-loop run ({result.status} {result.reason})")
            continue
        dec = rec["reps"]["decode"]
        grid, extra = per_rank, ""
        recs = run_records(a.json, case.case_id) if a.json else {}
        if "tput" in recs and "tpot" in recs and recs["tpot"].get("measured"):
            occ = little_per_rank(recs["tput"]["measured"], recs["tpot"]["measured"], dec.ranks,
                                  max(1, rec["facts"].decode_workers))
            grid = tuple(sorted({*per_rank, max(1, round(occ))}))
            step = class_rows(dec, (max(1, round(occ)),), a.context)[0]["time_s"] * 1e3
            extra = (f"measured: {occ:.0f} requests per rank (Little), TPOT {recs['tpot']['measured']:.2f} ms; "
                     f"simulated step there {step:.2f} ms ({step - recs['tpot']['measured']:+.2f})")
        print("\n".join(report(case, dec, class_rows(dec, grid, a.context), float(result.predicted))))
        if extra:
            print(extra)


if __name__ == "__main__":
    main()
