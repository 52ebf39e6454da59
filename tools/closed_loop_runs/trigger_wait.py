"""What would a sourced first-use wait buy on the closed-loop TTFT p90, if every run that meets its trigger paid it?
(report only; no prediction changes)

Stops 26, 33 and 37 found that the B200 SGLang DeepSeek-R1 runs that stall (one wait of about 70 s for the first
wave's requests, ``measured_stall_s``) are all runs whose first wave, C prompts of mean (1 + r) / 2 x L tokens,
does not fit one prefill step of the recipe (``--chunked-prefill-size``, engines.yaml ``recipe_chunk_tokens``):
0 of the runs whose wave fits stall, about two thirds of those whose wave splits a prompt do. The trigger is
sourced, the size is not. A model term would be paid by every run meeting the trigger, stalled or not, so its
worth is not the "each flagged run's own K" counterfactual of ``stall_signature.py`` but this one: a wait of W
seconds reaching a share s of the first wave (s = 1: every first-wave request) adds W s C / N to the mean TTFT of
every triggered run (N = --num-prompts; the median does not move), whatever the run measured.

For a grid of W (and s), the LOAO TTFT median / p90 / signed error over all rows, the rows beyond the target,
and the triggered rows fixed and broken; then the range of W (at s = 1) that passes the p90 target. A sourced W
inside that range would be worth shipping as engine data; one outside it would not, whatever its source.

    python tools/closed_loop_runs/trigger_wait.py VALIDATE.json [--engine sglang] [--chip b200] [--target 35]
        [--waits 0,6,20,40,60,72,75,90] [--shares 1.0]
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "closed_loop"))
from inferchip.catalog.engines import engine_for_software  # noqa: E402
from inferchip.validation.case_notes import measured_stall_s, stated_ttft_spread_s  # noqa: E402
from inferchip.validation.cases import Case, read_cases  # noqa: E402
from ttft_spread import SHIPPED, first_wave_tokens  # noqa: E402
from ttft_tail import loao_errors, rows_with_ids  # noqa: E402

_PROMPTS = re.compile(r"--num-prompts (\d+)")
_RANGE_RATIO = re.compile(r"--random-range-ratio ([0-9.]+)")


def triggered(c: Case, step_tokens: int) -> bool:
    """Whether a closed-loop run's first wave needs more than one prefill step, i.e. splits a prompt across steps
    (the C prompts of the wave arrive together; their mean length is (1 + r) / 2 x L)."""
    if step_tokens <= 0:
        raise ValueError(f"case {c.case_id}: step of {step_tokens} tokens; a prefill step holds at least one token")
    m = _RANGE_RATIO.search(c.notes)
    ratio = float(m.group(1)) if m else 1.0
    return first_wave_tokens(int(c.concurrency or 0), float(c.input_tokens or 0), ratio) > step_tokens


def trigger_runs(cases: list[Case], engine: str, chip: str) -> dict[str, tuple[int, int, bool]]:
    """TTFT case id -> (C, N, stalled) of every aggregated run of the engine on the chip that states its spread and
    its client and whose first wave splits a prompt."""
    out = {}
    for c in cases:
        if c.metric != "ttft_ms" or c.source_kind != "inferencemax-agg-bmk" or chip not in c.accelerator:
            continue
        eng = engine_for_software(c.software)
        pr = _PROMPTS.search(c.notes)
        if eng is None or eng.id != engine or pr is None or not c.concurrency or stated_ttft_spread_s(c) is None:
            continue
        step = eng.chunk_tokens_on(c.accelerator, c.weight_dtype or "", c.tp or 0, c.concurrency,
                                   int(c.input_tokens or 0), int(c.output_tokens or 0))
        if triggered(c, step):
            out[c.case_id] = (int(c.concurrency), int(pr.group(1)), measured_stall_s(c) is not None)
    return out


def added_mean_ms(wait_s: float, share: float, clients: int, prompts: int) -> float:
    """What a wait of ``wait_s`` reaching ``share`` of the first wave's C requests adds to the mean TTFT of a run
    of N requests (ms): W s C / N."""
    if wait_s < 0 or not 0.0 <= share <= 1.0 or clients <= 0 or prompts < clients:
        raise ValueError(f"wait {wait_s} s, share {share}, C {clients}, N {prompts}: need wait >= 0, 0 <= share <= 1,"
                         f" C >= 1 and N >= C")
    return wait_s * 1e3 * share * clients / prompts


def summary(errs: list[float], target: float) -> tuple[float, float, float, int]:
    """(median |e|, p90 |e|, median signed e, rows beyond the target) of signed errors in %."""
    a = np.abs(errs)
    return float(np.median(a)), float(np.percentile(a, 90)), float(np.median(errs)), int(np.sum(a > target))


def what_if(loao: list[tuple[str, float, float, float]], trig: dict[str, tuple[int, int, bool]], wait_s: float,
            share: float) -> list[float]:
    """Signed LOAO errors (%) of the TTFT rows ((case id, signed %, prediction, measured)) with the wait added to
    every triggered row's prediction."""
    out = []
    for cid, e, pred, meas in loao:
        if cid in trig:
            c, n, _ = trig[cid]
            e = 100.0 * (pred + added_mean_ms(wait_s, share, c, n) - meas) / meas
        out.append(e)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("validate_json")
    ap.add_argument("--cases", default=str(SHIPPED))
    ap.add_argument("--engine", default="sglang")
    ap.add_argument("--chip", default="b200")
    ap.add_argument("--target", type=float, default=35.0)
    ap.add_argument("--waits", default="0,6,20,40,60,72,75,90")
    ap.add_argument("--shares", default="1.0")
    a = ap.parse_args()
    trig = trigger_runs(read_cases(a.cases), a.engine, a.chip)
    loao = [(x["case_id"], e, p, x["meas"]) for x, e, p in loao_errors(rows_with_ids(a.validate_json))
            if x["metric"] == "ttft_ms"]
    base = {cid: e for cid, e, _, _ in loao}
    hit = [cid for cid in trig if cid in base]
    print(f"{a.engine} on {a.chip}: {len(hit)} TTFT rows whose first wave splits a prompt, "
          f"{sum(trig[c][2] for c in hit)} of them stalled (flagged); {len(loao)} TTFT rows in all")
    print("wait s  share | LOAO median / p90 / signed % | rows > target | triggered rows fixed / broken")
    for share in (float(s) for s in a.shares.split(",")):
        for w in (float(s) for s in a.waits.split(",")):
            errs = what_if(loao, trig, w, share)
            med, p90, sgn, n = summary(errs, a.target)
            new = dict(zip((c for c, *_ in loao), errs, strict=True))
            fixed = sum(abs(base[c]) > a.target >= abs(new[c]) for c in hit)
            broken = sum(abs(base[c]) <= a.target < abs(new[c]) for c in hit)
            print(f"{w:6.1f} {share:6.2f} | {med:5.1f} / {p90:5.1f} / {sgn:+5.1f} | {n:4d} | {fixed:3d} / {broken:3d}")
    grid = np.arange(0.0, 120.5, 0.5)
    passing = [w for w in grid if summary(what_if(loao, trig, float(w), 1.0), a.target)[1] <= a.target]
    if passing:
        print(f"share 1: the p90 passes {a.target:g} % for W in [{min(passing):.1f}, {max(passing):.1f}] s "
              f"({len(passing)} of {len(grid)} grid points at 0.5 s)")
    else:
        print(f"share 1: no W in 0-120 s brings the p90 to {a.target:g} %")


if __name__ == "__main__":
    main()
