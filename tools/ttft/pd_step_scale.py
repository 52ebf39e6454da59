"""Counterfactual of a disaggregated row set (diagnostic only; nothing here is a model change): scale the step of
the decode workers (by their attention-DP ranks) and of the attention-DP prefill workers of the rows whose case id
matches, validate those rows, and splice their predictions into a whole-catalogue validate JSON, so that
``tools/closed_loop/closed_loop_tables.py`` prints the first-order LOAO figures "if that worker's step were k times
its model" (docs/serving_journal.md, amd42: the MI355X SGLang DP decode step is 1.6x / 2.5x its model on DEP8 /
DEP16 and carries the chip's throughput and TPOT p90s, not its TTFT).

While the run is open, ``closed_loop_rows.simulate_closed_loop`` hands the simulation copies of the matching rows'
replicas whose ``step`` returns ``k x`` the model's step time (their step timers rebuilt); every other row, and every
replica object the validation caches, is left as it was.

    python tools/ttft/pd_step_scale.py BASE.json OUT.json [--cases CASES.csv] [--match REGEX] \
        [--decode 8=1.6,16=2.5] [--prefill 1.7]
    python tools/closed_loop/closed_loop_tables.py OUT.json
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import csv
import io
import json
import re
import sys
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

DEFAULT_MATCH = r"mi355x.*sglang-disagg"


def parse_rank_scales(text: str) -> dict[int, float]:
    """``"8=1.6,16=2.5"`` -> {8: 1.6, 16: 2.5}: attention-DP ranks of a decode worker -> step multiplier (> 0)."""
    out: dict[int, float] = {}
    for part in (p.strip() for p in text.split(",") if p.strip()):
        ranks, _, k = part.partition("=")
        try:
            r, f = int(ranks), float(k)
        except ValueError:
            raise ValueError(f"{part!r}: RANKS=MULTIPLIER, e.g. 8=1.6") from None
        if r < 1 or not f > 0:
            raise ValueError(f"{part!r}: ranks at least 1 and a positive multiplier")
        out[r] = f
    return out


class ScaledStep:
    """A step model whose step times are ``k`` times ``inner``'s (every other attribute is ``inner``'s)."""

    def __init__(self, inner: Any, k: float):
        if not k > 0:
            raise ValueError(f"step multiplier {k}: must be positive")
        self._inner, self._k = inner, k

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def step_time_s(self, *args: Any) -> Any:
        return np.asarray(self._inner.step_time_s(*args)) * self._k

    def step_time_busiest_s(self, *args: Any) -> float | None:
        t = self._inner.step_time_busiest_s(*args)
        return None if t is None else float(t) * self._k


def scaled_replica(rep: Any, k: float) -> Any:
    """A shallow copy of an ``EngineReplica`` whose step is ``k`` times the model's (its timer rebuilt)."""
    from inferchip.sim.step.steptime import StepTimer
    from inferchip.validation.closed_loop import TIMER_REL_ERROR

    out = copy.copy(rep)
    out.step = ScaledStep(rep.step, k)
    out.timer = StepTimer(out.step, target_rel_error=TIMER_REL_ERROR)
    return out


@contextlib.contextmanager
def scaled_workers(match: str, decode: Mapping[int, float], prefill: float = 1.0) -> Iterator[None]:
    """While open, rows whose case id matches ``match`` run decode workers of ``r`` ranks at ``decode[r]`` x their
    step (absent: unchanged) and attention-DP prefill workers at ``prefill`` x; the original is restored on exit."""
    from inferchip.validation import closed_loop_rows

    pat = re.compile(match)
    orig = closed_loop_rows.simulate_closed_loop

    def wrapped(case: Any, facts: Any, reps: Any, total: int, host: Any) -> Any:
        if pat.search(case.case_id):
            reps = dict(reps)
            k = decode.get(reps["decode"].ranks, 1.0)
            if k != 1.0:
                reps["decode"] = scaled_replica(reps["decode"], k)
            if prefill != 1.0 and "prefill" in reps and reps["prefill"].ranks > 1:
                reps["prefill"] = scaled_replica(reps["prefill"], prefill)
        return orig(case, facts, reps, total, host)

    closed_loop_rows.simulate_closed_loop = wrapped
    try:
        yield
    finally:
        closed_loop_rows.simulate_closed_loop = orig


def splice(base: dict[str, Any], new_cases: list[dict[str, Any]]) -> dict[str, Any]:
    """``base`` (a validate JSON) with each case whose id ``new_cases`` holds replaced by that one."""
    by_id = {c["case_id"]: c for c in new_cases}
    return {**base, "cases": [by_id.get(c["case_id"], c) for c in base["cases"]]}


def filtered_cases(cases_csv: str, match: str, out_path: Path) -> int:
    """Write the rows of ``cases_csv`` whose case id matches ``match`` to ``out_path``; returns how many."""
    pat = re.compile(match)
    with open(cases_csv, newline="") as f:
        reader = csv.DictReader(f)
        rows = [r for r in reader if pat.search(r["case_id"])]
        fields = reader.fieldnames or []
    with open(out_path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=fields)
        w.writeheader()
        w.writerows(rows)
    return len(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("base", help="a whole-catalogue closed-loop validate JSON")
    ap.add_argument("out", help="where the spliced JSON goes")
    ap.add_argument("--cases", default="src/inferchip/catalog/inferencemax_cases.csv")
    ap.add_argument("--match", default=DEFAULT_MATCH, help=f"regular expression on case_id (default {DEFAULT_MATCH})")
    ap.add_argument("--decode", default="", metavar="RANKS=K,...", help="decode step multipliers by DP ranks")
    ap.add_argument("--prefill", type=float, default=1.0, help="attention-DP prefill step multiplier (default 1)")
    a = ap.parse_args()
    try:
        decode = parse_rank_scales(a.decode)
    except ValueError as e:
        ap.error(f"--decode {e}")
    if not a.prefill > 0:
        ap.error(f"--prefill {a.prefill}: must be positive")
    from inferchip.interfaces.cli import main as cli

    with tempfile.TemporaryDirectory() as tmp:
        sub = Path(tmp) / "rows.csv"
        if filtered_cases(a.cases, a.match, sub) == 0:
            ap.error(f"--match {a.match!r}: no row of {a.cases}")
        buf = io.StringIO()
        with scaled_workers(a.match, decode, a.prefill), contextlib.redirect_stdout(buf):
            try:
                cli(["validate", str(sub), "--format", "json"])
            except SystemExit as e:
                if e.code not in (0, None):
                    raise
    new = json.loads(buf.getvalue())["cases"]
    with open(a.base) as f:
        base = json.load(f)
    with open(a.out, "w") as f:
        json.dump(splice(base, new), f)
    print(f"{len(new)} predictions of {a.match!r} spliced into {a.base} -> {a.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
