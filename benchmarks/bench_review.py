"""Time the default design review and its claim judgement (prints figures; asserts nothing).

    PYTHONPATH=src python benchmarks/bench_review.py

Prints the wall and CPU time of ``run_review`` on the defaults, and of the Monte Carlo alone
(every part, every sample: one vectorised evaluation of the case set), per 1,000 samples.
Timings on a shared machine are noisy: read the CPU time.
"""

from __future__ import annotations

import time


def main() -> None:
    from inferchip.review.claim_file import load_claim
    from inferchip.review.judge import judge_all
    from inferchip.review.review import ReviewConfig, run_review
    from inferchip.review.uncertainty import build_base, monte_carlo, scope_cases

    w, c = time.perf_counter(), time.process_time()
    res = run_review(ReviewConfig())
    print(f"default review: {time.perf_counter() - w:.1f} s wall, {time.process_time() - c:.1f} s CPU "
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
