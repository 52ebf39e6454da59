"""Time the default design review and its claim judgement (prints figures; asserts nothing).

    PYTHONPATH=src python benchmarks/bench_review.py

Prints the wall and CPU time of ``run_review`` on the defaults (its independent pieces in worker
processes, one per core: ``ReviewConfig.jobs``; the CPU time of this process and of its workers
apart: this process's is the part that runs alone), and of the Monte Carlo alone (every part,
every sample: one vectorised evaluation of the case set), per 1,000 samples.
Timings on a shared machine are noisy: read the CPU time. ``--jobs N`` sets the workers (1: serial).
"""

from __future__ import annotations

import argparse
import resource
import time


def _children_cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def main() -> None:
    from inferchip.review.claim_file import load_claim
    from inferchip.review.judge import judge_all
    from inferchip.review.parallel.pool import workers_for
    from inferchip.review.review import ReviewConfig, run_review
    from inferchip.review.uncertainty import build_base, monte_carlo, scope_cases

    ap = argparse.ArgumentParser()
    ap.add_argument("--jobs", type=int, default=0, help="worker processes (0: every core; 1: serial)")
    jobs = ap.parse_args().jobs
    w, c, k = time.perf_counter(), time.process_time(), _children_cpu_s()
    res = run_review(ReviewConfig(jobs=jobs))
    here, workers = time.process_time() - c, _children_cpu_s() - k
    print(f"default review: {time.perf_counter() - w:.1f} s wall, {here + workers:.1f} s CPU ({here:.1f} s here, "
          f"{workers:.1f} s in up to {workers_for(jobs, 99)} workers) "
          f"({len(res.chips)} chips x {len(res.models)} models x {len(res.config.slos)} service levels)")
    claim = load_claim()
    base = build_base(res, res.claim, claim, res.views, scope_cases(res, claim))
    base.corners, base.ranges = [], {}
    for n in (1000, 10000):
        w, c = time.perf_counter(), time.process_time()
        judge_all(monte_carlo(base, n, 1), claim.part_list(), [v.name for v in res.views])
        print(f"Monte Carlo, {n:,} samples, every part: {time.perf_counter() - w:.2f} s wall, "
              f"{time.process_time() - c:.2f} s CPU")


if __name__ == "__main__":
    main()
