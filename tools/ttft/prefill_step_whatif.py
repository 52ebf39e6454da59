"""What a slower prefill pool would buy: the disaggregated rows whose case id contains ``--match`` simulated again
with their prefill workers' step times multiplied by ``--scale`` (a counterfactual, not a model: no source prices
the factor), merged into a baseline validate JSON, and the closed-loop figures compared (report only).

Why: the GB200 Dynamo + SGLang FP4 1k/1k attention-DP prefill pool (``p16x1e1dpa``) drains about 1.3x faster in the
simulation than its measured ~184 requests/s ceiling (tools/step_model/disagg_intake.py --capacity). Little's law on
the measured and simulated triples (branch dyn40) says a prompt-side mechanism of that size would fix TTFT and
throughput together if TPOT stayed as simulated; this tool lets the simulation answer instead, with the decode pool
free to react (a slower prefill feeds the decode workers a smaller batch, so their steps get shorter).

How: ``inferchip validate`` runs in this process on the matching rows of the cases CSV, with
``validation.closed_loop.closed_loop_disagg_run`` wrapped so that the prefill pool's step timer returns
``scale`` x the step model's time (:func:`scale_timer`; every prefill step, whole or the busiest attention-DP
rank's). The decode pool is untouched. Only Dynamo (disaggregated) rows are affected; the others match nothing.

    python tools/ttft/prefill_step_whatif.py BASE.json --match dynamo-sglang-fp4-disagg-p16x1e1dpa \
        --scale 1.29 [--cases src/inferchip/catalog/inferencemax_cases.csv] [--workers 2] [--out merged.json]

Prints, per configuration and concurrency, the median signed error of each metric before -> after, then the
leave-one-accelerator-out table of all rows (tools/closed_loop/closed_loop_tables.py's) and the TTFT rows beyond
35 % held out (tools/closed_loop/tail_classes.py's count), before and after.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import re
import statistics
import sys
import tempfile
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "closed_loop"))

SHIPPED = Path(__file__).resolve().parents[2] / "src" / "inferchip" / "catalog" / "inferencemax_cases.csv"
_ROW = re.compile(r"^imax-(?P<config>.+)-c(?P<conc>\d+)-r\d+-(?P<metric>tput|ttft|tpot)$")


def scale_timer(timer: Any, scale: float) -> Any:
    """``timer`` (a :class:`~inferchip.sim.step.steptime.StepTimer`) answering ``scale`` x its step times from now
    on, its cache kept (wrapped once: a timer shared by a row's reruns is not scaled twice)."""
    if not scale > 0:
        raise ValueError(f"scale must be above 0, got {scale!r}")
    if getattr(timer, "whatif_scale", None) is not None:
        if timer.whatif_scale != scale:
            raise ValueError(f"timer already scaled by {timer.whatif_scale}, asked for {scale}")
        return timer
    time_s, busiest_time_s, times_s = timer.time_s, timer.busiest_time_s, timer.times_s
    timer.time_s = lambda *a, **k: scale * time_s(*a, **k)
    timer.busiest_time_s = lambda *a, **k: scale * busiest_time_s(*a, **k)
    timer.times_s = lambda keys: [scale * t for t in times_s(keys)]
    timer.whatif_scale = scale
    return timer


def decode_floor_timer(timer: Any, ranks: int, line_ms: tuple[float, float]) -> Any:
    """``timer`` whose pure decode steps (as many tokens as decoding sequences, no prompt pairs) last at least
    ``a + b x sequences / ranks`` ms, ``line_ms = (a, b)``: a decode step priced on a straight line in the requests
    a rank holds (a counterfactual; wrapped once). E.g. (13.1, 0.137) at 7,776 sequences on 32 ranks: 46.4 ms."""
    if ranks < 1:
        raise ValueError(f"ranks must be >= 1, got {ranks}")
    if getattr(timer, "whatif_line", None) is not None:
        if timer.whatif_line != line_ms:
            raise ValueError(f"timer already floored by {timer.whatif_line}, asked for {line_ms}")
        return timer
    a_ms, b_ms = line_ms

    def floor(t: float, tokens: int, seqs: int, pairs: int) -> float:
        if seqs and tokens == seqs and not pairs:
            return max(t, (a_ms + b_ms * seqs / ranks) / 1e3)
        return t

    time_s, times_s = timer.time_s, timer.times_s
    timer.time_s = lambda n, d, kv, p, *r, **k: floor(time_s(n, d, kv, p, *r, **k), n, d, p)
    timer.times_s = lambda keys: [floor(t, k[0], k[1], k[3]) for t, k in zip(times_s(keys), keys, strict=True)]
    timer.whatif_line = line_ms
    return timer


@contextlib.contextmanager
def scaled_prefill(scale: float, decode_line_ms: tuple[float, float] | None = None) -> Iterator[None]:
    """Within the block, every disaggregated closed-loop run prices its prefill steps at ``scale`` x the step
    model's time (the row's own prefill timer, wrapped); the decode pool keeps its timer, or with ``decode_line_ms``
    its pure decode steps last at least that line in the requests a rank holds (:func:`decode_floor_timer`)."""
    import inferchip.validation.closed_loop as cl
    from inferchip.sim.step.steptime import StepTimer

    original = cl.closed_loop_disagg_run

    def patched(prefill_model: Any, decode_model: Any, *a: Any, timers: Any = None, **kw: Any) -> Any:
        t_pre, t_dec = timers if timers is not None else (StepTimer(prefill_model), None)
        if decode_line_ms is not None:
            ranks = max(1, int(getattr(decode_model, "ranks", 1) or 1))
            t_dec = decode_floor_timer(t_dec if t_dec is not None else StepTimer(decode_model), ranks,
                                       decode_line_ms)
        return original(prefill_model, decode_model, *a, timers=(scale_timer(t_pre, scale), t_dec), **kw)

    cl.closed_loop_disagg_run = patched
    try:
        yield
    finally:
        cl.closed_loop_disagg_run = original


def subset_csv(cases: Path, match: str, out: Path) -> int:
    """Write the header and the rows of ``cases`` whose first field (the case id) contains ``match``; the count."""
    lines = cases.read_text().splitlines(keepends=True)
    kept = [ln for ln in lines[1:] if match in ln.split(",", 1)[0]]
    out.write_text(lines[0] + "".join(kept))
    return len(kept)


def merge(base: dict, new_cases: list[dict]) -> dict:
    """``base`` with each case replaced by the one of ``new_cases`` with the same id (others kept, order kept)."""
    by_id = {c["case_id"]: c for c in new_cases}
    return {**base, "cases": [by_id.get(c["case_id"], c) for c in base["cases"]]}


def by_configuration(before: dict, rerun: list[dict]) -> list[str]:
    """Median signed error per configuration, concurrency and metric, before -> after, over the rerun rows."""
    old = {c["case_id"]: c for c in before["cases"]}
    groups: dict[tuple[str, int], dict[str, list[tuple[float, float]]]] = defaultdict(lambda: defaultdict(list))
    for c in rerun:
        m = _ROW.match(c["case_id"])
        o = old.get(c["case_id"])
        if m is None or o is None or c.get("signed_error_pct") is None or o.get("signed_error_pct") is None:
            continue
        groups[(m["config"], int(m["conc"]))][m["metric"]].append((o["signed_error_pct"], c["signed_error_pct"]))
    out = []
    for (config, conc), metrics in sorted(groups.items()):
        parts = [f"{name} {statistics.median(b for b, _ in v):+.1f} -> {statistics.median(a for _, a in v):+.1f}"
                 for name, v in sorted(metrics.items())]
        out.append(f"{config} c{conc}: " + ", ".join(parts))
    return out


def run_subset(csv: Path, workers: int, scale: float, decode_line_ms: tuple[float, float] | None = None) -> dict:
    """``inferchip validate CSV --format json`` in this process, with the prefill steps scaled."""
    from inferchip.interfaces.cli import main as cli

    buf = io.StringIO()
    argv = sys.argv
    sys.argv = ["inferchip", "validate", str(csv), "--workers", str(workers), "--format", "json"]
    try:
        with scaled_prefill(scale, decode_line_ms), contextlib.redirect_stdout(buf):
            try:
                cli()
            except SystemExit as e:
                if e.code not in (0, None):
                    raise
    finally:
        sys.argv = argv
    result: dict = json.loads(buf.getvalue())
    return result


def figures(path: str) -> list[str]:
    """The all-rows LOAO lines of closed_loop_tables.py and tail_classes.py's count, for one validate JSON."""
    import closed_loop_tables
    from tail_classes import tail_rows
    from ttft_spread import SHIPPED as CASES

    buf = io.StringIO()
    argv = sys.argv
    sys.argv = ["closed_loop_tables.py", path]
    try:
        with contextlib.redirect_stdout(buf):
            closed_loop_tables.main()
    finally:
        sys.argv = argv
    lines = buf.getvalue().splitlines()
    start = next(i for i, ln in enumerate(lines) if ln.startswith("Leave one accelerator out, all rows"))
    table = [ln for ln in lines[start:start + 7] if ln.startswith("| all |")]
    return table + [f"TTFT rows beyond 35 % held out: {len(tail_rows(path, CASES, 35.0))}"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("base_json", help="the baseline closed-loop validate JSON (all rows)")
    ap.add_argument("--match", required=True, help="substring of the case ids to rerun")
    ap.add_argument("--scale", type=float, required=True, help="multiplier on the prefill pool's step times")
    ap.add_argument("--decode-line", default="", metavar="A_MS,B_MS",
                    help="also floor the decode pool's pure decode steps at A + B x requests per attention-DP rank ms")
    ap.add_argument("--cases", default=str(SHIPPED))
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", default="", help="write the merged JSON here (default: a temporary file)")
    a = ap.parse_args()
    base = json.loads(Path(a.base_json).read_text())
    line = tuple(float(x) for x in a.decode_line.split(",")) if a.decode_line else None
    if line is not None and len(line) != 2:
        sys.exit(f"error: --decode-line takes A_MS,B_MS, got {a.decode_line!r}")
    with tempfile.TemporaryDirectory() as tmp:
        csv = Path(tmp) / "subset.csv"
        n = subset_csv(Path(a.cases), a.match, csv)
        if n == 0:
            sys.exit(f"error: no case id in {a.cases} contains {a.match!r}")
        rerun = run_subset(csv, a.workers, a.scale, line)["cases"]  # type: ignore[arg-type]
        merged = merge(base, rerun)
        out = Path(a.out) if a.out else Path(tmp) / "merged.json"
        out.write_text(json.dumps(merged))
        floor = f", decode steps >= {line[0]:g} + {line[1]:g} ms x requests a rank" if line else ""
        print(f"{n} rows containing {a.match!r}, prefill steps x {a.scale:g}{floor}; median signed error % "
              "before -> after:")
        for line in by_configuration(base, rerun):
            print("  " + line)
        for label, path in (("before", a.base_json), ("after", str(out))):
            print(label)
            for line in figures(path):
                print("  " + line)


if __name__ == "__main__":
    main()
