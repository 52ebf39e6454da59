"""A validation row's decode step split by operator class over a batch grid, with the GEMM M tile of each
batch: where the step jumps (a tile boundary, a second wave) and which class carries the jump.

For each row of a cases CSV whose id matches ``--rows`` (a regular expression), the row's layout as
``inferchip validate`` chooses it (analytic search) under the given calibration, then the pure decode step
of one replica (no prompt in the step; ``--context`` tokens of KV per sequence) at each batch of ``--batch``:
step time, time per operator class (``StepCost.classes``), the M tile the chip's GEMM rule gives that many rows
(``cost.gemm.m_tile_scalar``) and the jump over the previous batch. A step that grows by tens of per cent
between two neighbouring batches where the M tile doubles is the model's tile quantisation: a decode GEMM
whose output tiles cannot fill the chip (the 8192 x 28672 down projection of Llama-2-70B has 32 tiles of
256 columns for 132 SMs) is charged a full wave of the larger tile (docs/serving_journal.md,
"GEMM waves").

    python tools/step_model/row_step_classes.py src/inferchip/catalog/validation_cases.csv \
        --rows 'interactive' [--calibration F.yaml] [--batch 32,64,65,96,128] [--context 1000]
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable, Iterator, Sequence
from typing import TypeVar

import numpy as np

DEFAULT_BATCH = (16, 32, 64, 65, 96, 128, 129, 192, 256, 257, 384, 512)


def parse_batches(text: str) -> tuple[int, ...]:
    """Batch grid from "32,64,65": positive integers, sorted, without repeats."""
    try:
        vals = sorted({int(v) for v in text.split(",") if v.strip()})
    except ValueError:
        vals = []
    if not vals or vals[0] < 1:
        raise ValueError(f"{text!r}: positive integers separated by commas")
    return tuple(vals)


def jumps_pct(times_s: Sequence[float]) -> list[float | None]:
    """Per cent growth of each step time over the previous one (None for the first)."""
    out: list[float | None] = [None]
    for prev, cur in zip(times_s, times_s[1:], strict=False):
        out.append(100.0 * (cur / prev - 1.0) if prev > 0 else None)
    return out


def largest_jump(batches: Sequence[int], times_s: Sequence[float]) -> tuple[int, int, float] | None:
    """(from batch, to batch, per cent) of the largest growth per added sequence between neighbours."""
    best = None
    pairs = list(zip(batches, times_s, strict=True))
    for (b0, t0), (b1, t1) in zip(pairs, pairs[1:], strict=False):
        if t0 <= 0 or b1 <= b0:
            continue
        per_seq = (t1 / t0 - 1.0) / (b1 - b0)
        if best is None or per_seq > best[0]:
            best = (per_seq, b0, b1, 100.0 * (t1 / t0 - 1.0))
    return None if best is None else (best[1], best[2], best[3])


def step_rows(mm, batches: Sequence[int], context_tokens: float) -> list[dict]:
    """The pure decode step of one replica at each batch: time (s), class times (s), M tile (rows)."""
    from inferchip.cost.gemm import m_tile_scalar

    tile_m = float(mm.chip.gemm_tile_m)
    rows = []
    for b in batches:
        bb = np.array([float(b)])
        t, cost = mm.replica_step_s(bb, bb, bb * context_tokens, 0.0 * bb)
        classes = {k: float(np.ravel(c.time_s)[0]) for k, c in cost.classes.items()}
        rows.append({"batch": b, "time_s": float(np.ravel(t)[0]), "classes": classes,
                     "m_tile": m_tile_scalar(float(b), tile_m)})
    return rows


T = TypeVar("T")


def row_parser(description: str) -> argparse.ArgumentParser:
    """The arguments every row-step tool of this folder takes: the cases CSV, ``--rows`` (a regular expression on
    case_id) and ``--calibration``; the tool adds its own grid option."""
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("cases", help="a cases CSV (validation_cases.csv format)")
    ap.add_argument("--rows", required=True, help="regular expression on case_id")
    ap.add_argument("--calibration", default=None, help="calibration YAML (default: the shipped one)")
    return ap


def parsed_grid(ap: argparse.ArgumentParser, a: argparse.Namespace, option: str, parse: Callable[[str], T]
                ) -> tuple[T, re.Pattern[str]]:
    """The tool's grid option ``--option`` read by ``parse`` and ``--rows`` compiled; a bad value of either ends the
    tool with an argparse error naming the option."""
    try:
        grid = parse(getattr(a, option))
        pat = re.compile(a.rows)
    except ValueError as exc:
        ap.error(f"--{option} {exc}")
    except re.error as exc:
        ap.error(f"--rows {a.rows!r}: not a regular expression ({exc})")
    return grid, pat


def mapped_rows(cases: str, pattern: re.Pattern[str], calibration: str | None) -> Iterator[tuple]:
    """Each row of ``cases`` whose id matches ``pattern``, as ``(case, formats, layout, mapped model)`` with the
    layout ``inferchip validate`` chooses for it (analytic search) under ``calibration`` (None: the shipped one);
    a line says so when no row matches."""
    from inferchip.catalog.calibration_file import load_calibration
    from inferchip.validation.cases import read_cases
    from inferchip.validation.validate import Validator, case_formats, plan_for

    v = Validator(load_calibration(calibration))
    matched = [c for c in read_cases(cases) if pattern.search(c.case_id)]
    if not matched:
        print(f"no row of {cases} matches --rows {pattern.pattern!r}")
    for case in matched:
        fmt, _ = case_formats(case)
        layout, _pt = v._search(case, plan_for(case, v.lengths), fmt)
        yield case, fmt, layout, v.mapped(case, layout, fmt)


def main() -> None:
    ap = row_parser(__doc__.splitlines()[0])
    ap.add_argument("--batch", default=",".join(map(str, DEFAULT_BATCH)), help="batch grid, sequences per replica")
    ap.add_argument("--context", type=float, default=1000.0, help="KV tokens per sequence (default 1000)")
    a = ap.parse_args()
    batches, pat = parsed_grid(ap, a, "batch", parse_batches)
    for case, _fmt, layout, mm in mapped_rows(a.cases, pat, a.calibration):
        rows = step_rows(mm, batches, a.context)
        names = [k for k in rows[0]["classes"] if any(r["classes"][k] > 0 for r in rows)]
        print(f"\n{case.case_id}: {case.accelerator}, tp {layout.tp} pp {layout.pp} ep {layout.ep}, "
              f"{layout.replicas} replicas; GEMM tile {mm.chip.gemm_tile_m:.0f} x {mm.chip.gemm_tile_n:.0f}, "
              f"{mm.chip.gemm_tiles_in_flight:.0f} in flight")
        print("| batch | M tile | step ms | jump % | " + " | ".join(names) + " |")
        print("|---" * (4 + len(names)) + "|")
        for r, j in zip(rows, jumps_pct([r["time_s"] for r in rows]), strict=True):
            print(f"| {r['batch']} | {r['m_tile']:.0f} | {r['time_s'] * 1e3:.2f} | "
                  f"{'' if j is None else f'{j:+.1f}'} | "
                  + " | ".join(f"{r['classes'][k] * 1e3:.2f}" for k in names) + " |")
        jump = largest_jump(batches, [r["time_s"] for r in rows])
        if jump is not None:
            print(f"largest jump per added sequence: batch {jump[0]} -> {jump[1]}: {jump[2]:+.1f} %")


if __name__ == "__main__":
    main()
