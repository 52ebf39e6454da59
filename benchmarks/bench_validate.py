"""Speed and memory of ``inferchip validate`` on closed-loop serving rows (the shipped InferenceMAX
cases, ``catalog/inferencemax_cases.csv``, 4,776 rows: every run's throughput, TTFT and TPOT rows
come from one simulated benchmark).

Prints the rows, the wall time, rows per second, the peak resident memory of this process and of
its largest worker process, and the median error per metric. ``--rows N`` takes the first N rows
(whole files are sorted by configuration, so a prefix is a few chips and engines, not a sample).

Run: ``.venv/bin/python benchmarks/bench_validate.py [--rows 5000] [--workers 2]``
Timings depend on what else the machine runs: quote them with the load (the CPU seconds printed
depend on it less than the wall time).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import time
from pathlib import Path

from inferchip.catalog.calibration_file import load_calibration, load_dataset_lengths
from inferchip.validation.cases import read_cases
from inferchip.validation.validate import validate_cases

SHIPPED = Path(__file__).resolve().parents[1] / "src" / "inferchip" / "catalog" / "inferencemax_cases.csv"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=5000, help="rows to validate (at most the file's)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--file", type=Path, default=SHIPPED)
    a = ap.parse_args()
    cases = read_cases(a.file)[: a.rows]
    cal, lengths = load_calibration(None), load_dataset_lengths(None)
    load0 = os.getloadavg()[0]
    t0 = time.perf_counter()
    results = validate_cases(cases, cal, lengths=lengths, compare=False, workers=a.workers)
    wall = time.perf_counter() - t0
    me = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    short = f" (asked for {a.rows:,}; the file has {len(cases):,})" if len(cases) < a.rows else ""
    print(f"rows: {len(cases):,} ({a.file.name}){short}, workers {a.workers}, load average "
          f"{os.getloadavg()[0]:.1f} at the end ({load0:.1f} at the start)")
    ok = [r for r in results if r.status == "ok"]
    print(f"predicted: {len(ok):,}; not predicted (each with its reason): {len(results) - len(ok):,}")
    for metric in sorted({r.case.metric for r in ok}):
        ape = [abs(r.signed_error_pct) for r in ok if r.case.metric == metric]
        print(f"  {metric:28s} median APE {statistics.median(ape):5.1f}% over {len(ape):,} rows")
    print(f"peak memory: {me:.0f} MiB this process, {kids:.0f} MiB the largest worker")
    cpu = sum(getattr(resource.getrusage(w), f) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
              for f in ("ru_utime", "ru_stime"))
    print(f"wall {wall:.1f} s; CPU {cpu:.1f} s in all processes ({cpu / max(a.workers, 1):.1f} s per worker core)")
    print(f"{len(cases) / wall:.1f} rows/s")


if __name__ == "__main__":
    main()
