"""A validation row's prefill step split by kernel class: which class carries a prompt's time.

For each row of a cases CSV whose id matches ``--rows`` (a regular expression), the row's layout as
``inferchip validate`` chooses it (analytic search) under the given calibration, then one replica's pure
prefill step (no decode in it) of ``n`` prompts of ``L`` tokens for each ``L x n`` of ``--prompts``: step time,
time per prompt, and the time of each kernel class (``StepCost.classes``: experts, attention, attention_proj,
elementwise, ...). Per-token classes (the GEMMs) grow with ``L``, prefill attention with ``L^2`` on full-attention
layers and with ``L x window`` on sliding-window ones, so comparing a 1k and an 8k prompt tells which class a
measured excess per prompt can sit in (docs/serving_journal.md, branch ``bw-gptoss38``).

    python tools/step_model/prefill_step_classes.py src/inferchip/catalog/inferencemax_cases.csv \\
        --rows 'gptoss120b-b200-vllm-fp4-tp1ep1-1024-1024-c64-.*-ttft' [--prompts 922x8,7373x1] [--calibration F.yaml]
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from row_step_classes import mapped_rows, parsed_grid, row_parser  # noqa: E402

DEFAULT_PROMPTS = ((922, 8), (7373, 1))  # the mean prompts of 1k and 8k rows (uniform in [0.8 L, L]), one step each


def parse_prompts(text: str) -> tuple[tuple[int, int], ...]:
    """``"922x8,7373x1"`` -> ((922, 8), (7373, 1)): prompt tokens x prompts per step, both positive."""
    out = []
    for part in (p.strip() for p in text.split(",")):
        m = re.fullmatch(r"(\d+)x(\d+)", part)
        if not m or int(m.group(1)) < 1 or int(m.group(2)) < 1:
            raise ValueError(f"{part!r}: want TOKENSxPROMPTS, both positive integers (e.g. 922x8)")
        out.append((int(m.group(1)), int(m.group(2))))
    if not out:
        raise ValueError(f"{text!r}: no TOKENSxPROMPTS given")
    return tuple(out)


def causal_pairs(tokens: int, prompts: int) -> float:
    """Causal query-key pairs of ``prompts`` whole prompts of ``tokens`` tokens: n L (L + 1) / 2."""
    return prompts * tokens * (tokens + 1) / 2.0


def prefill_step(mm, tokens: int, prompts: int) -> tuple[float, dict[str, float]]:
    """(seconds, seconds per kernel class) of one replica's prefill step of ``prompts`` prompts of ``tokens``."""
    n = float(tokens * prompts)
    t, cost = mm.replica_step_s(np.array([n]), np.array([0.0]), np.array([0.0]),
                                np.array([causal_pairs(tokens, prompts)]), logit_rows=np.array([float(prompts)]))
    return float(np.ravel(t)[0]), {k: float(np.ravel(c.time_s)[0]) for k, c in cost.classes.items()}


def main() -> None:
    ap = row_parser(__doc__.splitlines()[0])
    ap.add_argument("--prompts", default=",".join(f"{t}x{n}" for t, n in DEFAULT_PROMPTS),
                    help="steps as TOKENSxPROMPTS, comma-separated")
    a = ap.parse_args()
    steps, pat = parsed_grid(ap, a, "prompts", parse_prompts)
    for case, fmt, layout, mm in mapped_rows(a.cases, pat, a.calibration):
        rows = [(tok, n, *prefill_step(mm, tok, n)) for tok, n in steps]
        names = sorted({k for r in rows for k, s in r[3].items() if s > 0}, key=lambda k: -rows[-1][3].get(k, 0.0))
        print(f"\n{case.case_id}: {case.accelerator}, tp {layout.tp} ep {layout.ep}; formats {fmt}")
        print("| prompt x n | step ms | ms per prompt | " + " | ".join(names) + " |")
        print("|---" * (3 + len(names)) + "|")
        for tok, n, t, cls in rows:
            print(f"| {tok} x {n} | {t * 1e3:.2f} | {t * 1e3 / n:.2f} | "
                  + " | ".join(f"{cls.get(k, 0.0) * 1e3:.3f}" for k in names) + " |")


if __name__ == "__main__":
    main()
