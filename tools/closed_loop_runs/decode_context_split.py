"""The attention-DP decode step split into a part per request and a part per KV token, measured and simulated: for
the closed-loop runs whose case id matches ``--match`` in a validate JSON (``inferchip validate ... --format json``),
each run's requests decoding per attention-DP rank ``n`` by Little's law (``decode_rank_line.runs``) and the mean
KV context ``x`` a decoding request holds (``0.9 L_in + 0.45 L_out``: InferenceX draws both lengths uniform in
``[0.8 L, L]``, and a request is half-way through its output on average), then one least-squares fit over the
runs of both prompt lengths

    TPOT = a + n (c0 + c1 x layers)

separately for the measured and the simulated points. ``c1`` is the step's cost per KV token and attention layer
(what the MLA decode kernel reads and multiplies), ``c0`` the cost per request that does not depend on the context
(experts, expert all-to-all, projections, norms, LM head, host work), ``a`` the part of the step that does not grow
with the batch.

Why (docs/serving_validation.md, branch dyn43): stop 42 (dyn42) fitted the GB200 Dynamo + SGLang FP4 1k/1k decode
steps alone, TPOT = 13.35 ms + 134 us a request a rank, against the simulated ~91 us, and read the missing ~43 us as
a per-request cost; seqhost42 read the same engine's TensorRT-LLM sibling (91 us measured) as proof that the missing
term is SGLang's own. One prompt length cannot tell a cost per request from a cost per KV token (the context is
fixed); the 1k/1k and 8k/1k runs of one engine, format and chip together can.

    python tools/closed_loop_runs/decode_context_split.py X.json [--match REGEX] [--min-per-rank 10] [--layers 61]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "ttft"))  # decode_rank_line: the runs, n by Little's law
from decode_rank_line import SHIPPED, case_notes, runs  # noqa: E402

DEFAULT_MATCH = r"^imax-dsr1-gb200-dynamo-sglang-fp4-disagg-p\d+x1e1dpa-d(32|48)x1e1dpa-(1024|8192)-1024-"
PROMPT_MEAN = 0.9  # InferenceX benchmark-multinode-tmpl.yml RANDOM_RANGE_RATIO 0.8: lengths uniform in [0.8 L, L]
_LENGTHS = re.compile(r"-(\d+)-(\d+)$")


def mean_context_tokens(config: str) -> float:
    """Mean KV tokens a decoding request holds in a run of ``config`` (its id ends in ``-ISL-OSL``): the mean prompt
    plus half the mean output, ``0.9 ISL + 0.45 OSL``. E.g. 1024/1024 -> 1382.4, 8192/1024 -> 7833.6."""
    m = _LENGTHS.search(config)
    if m is None:
        raise ValueError(f"{config!r} does not end in -ISL-OSL")
    return PROMPT_MEAN * int(m[1]) + PROMPT_MEAN * int(m[2]) / 2


def fit_split(points: list[tuple[float, float, float]], layers: int) -> dict[str, float]:
    """Least squares of ``TPOT_ms = a + n (c0 + c1 x layers)`` over ``(n, x, TPOT_ms)`` points: ``a`` in ms, ``c0``
    in us a request, ``c1`` in ns per KV token and layer, the rms residual in ms. Needs two contexts and three
    points at least."""
    if len(points) < 3 or len({round(x, 6) for _, x, _ in points}) < 2:
        raise ValueError("the split needs at least three points at two or more contexts")
    design = np.array([[1.0, n, n * x * layers] for n, x, _ in points])
    tpot = np.array([t for _, _, t in points])
    coef, *_ = np.linalg.lstsq(design, tpot, rcond=None)
    res = tpot - design @ coef
    return {"a_ms": float(coef[0]), "per_request_us": 1e3 * float(coef[1]),
            "per_kv_token_layer_ns": 1e6 * float(coef[2]), "rms_ms": float(np.sqrt(np.mean(res ** 2))),
            "points": float(len(points))}


def report(records: list[dict[str, Any]], min_per_rank: float, layers: int) -> list[str]:
    """The two fits and, at each context of the runs, the cost of one more request (``c0 + c1 x layers``)."""
    lines = ["| fit | runs | a ms | per request us | per KV token and layer ns | rms ms |",
             "|---|---|---|---|---|---|"]
    fits: dict[str, dict[str, float]] = {}
    for kind in ("meas", "sim"):
        pts = [(r["n_" + kind], mean_context_tokens(r["config"]), r["tpot_" + kind]) for r in records
               if r["n_" + kind] >= min_per_rank]
        fits[kind] = f = fit_split(pts, layers)
        lines.append(f"| {'measured' if kind == 'meas' else 'simulated'} | {len(pts)} | {f['a_ms']:.2f} | "
                     f"{f['per_request_us']:.1f} | {f['per_kv_token_layer_ns']:.3f} | {f['rms_ms']:.2f} |")
    lines.append("")
    for x in sorted({mean_context_tokens(r["config"]) for r in records}):
        one = {k: f["per_request_us"] + f["per_kv_token_layer_ns"] * x * layers / 1e3 for k, f in fits.items()}
        lines.append(f"one more request at a {x:,.0f}-token context: measured {one['meas']:.1f} us, simulated "
                     f"{one['sim']:.1f} us a step")
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("json", help="a closed-loop inferchip validate --format json file")
    ap.add_argument("--match", default=DEFAULT_MATCH, help="regular expression on the case ids (runs of two or more "
                    "prompt lengths)")
    ap.add_argument("--cases", default=str(SHIPPED), help="the cases CSV the JSON was validated from")
    ap.add_argument("--min-per-rank", type=float, default=10.0, help="points below this many requests a rank are "
                    "left out of the fits")
    ap.add_argument("--layers", type=int, default=61, help="attention layers (DeepSeek-R1: 61)")
    a = ap.parse_args()
    with open(a.json) as f:
        records = runs(json.load(f)["cases"], a.match, case_notes(Path(a.cases)))
    if not records:
        raise SystemExit(f"error: no attention-DP disaggregated run in {a.json} matches {a.match!r}")
    try:
        print("\n".join(report(records, a.min_per_rank, a.layers)))
    except ValueError as exc:
        raise SystemExit(f"error: {a.match!r}: {exc}") from None


if __name__ == "__main__":
    main()
