"""Search quality per seed: the share of the exhaustive Pareto front's hypervolume the search finds
with 2% of a 12,960-design space's evaluations (``inferchip.explore.search_quality``).

Run: ``.venv/bin/python benchmarks/bench_search_quality.py [--seeds 1000-1199]``. Prints one line per
seed and how many reach 99%. Seeds 0-99 tuned the search; 200-219 (the test's) and 1000-1199 did not
(docs/explore.md).
"""

from __future__ import annotations

import argparse

from inferchip.explore.evaluate import default_suite
from inferchip.explore.search_quality import QUALITY_MODELS, hypervolume_shares


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", default="1000-1199", help="first-last (inclusive)")
    args = ap.parse_args()
    first, last = (int(v) for v in args.seeds.split("-"))
    got = hypervolume_shares(default_suite(QUALITY_MODELS), range(first, last + 1))
    for q in got:
        print(f"seed {q.seed}: {q.share:.2%} of the exhaustive hypervolume, {q.evaluated} designs evaluated "
              f"(budget {q.budget})")
    low = min(got, key=lambda q: q.share)
    n99 = sum(q.share >= 0.99 for q in got)
    print(f"{n99} of {len(got)} seeds reach 99%; lowest {low.share:.2%} (seed {low.seed}); "
          f"most designs evaluated {max(q.evaluated for q in got)} (budget {low.budget})")


if __name__ == "__main__":
    main()
