"""The spread of each ML.ENERGY gpqa and lm-arena-chat run's output lengths, from the run's own published histogram.

The ML.ENERGY leaderboard publishes, for every run, the histogram of the output lengths of all its requests
(github.com/ml-energy/leaderboard @0ea52b6a21 ``public/data/models/<model>__<task>.json``, each configuration's
``output_length_distribution``: 50 equal bins from the shortest to the longest answer of that model's runs,
``bins`` the 51 edges, ``counts`` the requests per bin). ``mlenergy_output_histograms.csv`` (next to this file)
holds those histograms of the 62 H100 gpqa runs and the 147 H100 lm-arena-chat runs of
``catalog/mlenergy_cases.csv``, transcribed by hand from the files (the leaderboard_file column names each one;
bin_lo / bin_hi are the first and last edge; a configuration is matched to its run by GPU count, max_num_seqs
and its ``avg_output_len``, the row's ``output_tokens`` to two decimals).

Per run this prints the request count, the mean and the coefficient of variation (CV) of the lengths, from
the bin mid-points (the within-bin spread, ``width^2 / 12`` of variance, is left out: at most
``WITHIN_BIN_SHARE_MAX``, 3.1 % of the variance, on gpt-oss-120b's runs, whose bins are 654 tokens wide; up to 1.1 %
on gpt-oss-20b's, 0.24 % on the Qwen3 gpqa runs and 0.5 % on the lm-arena-chat runs (82-token bins); the CV it leaves
out is about half that share). The closed loop's mean context is ``E[i] + E[o^2] / (2 E[o])`` (the length-biased age
of a running sequence, ``performance.operating``), so the spread sets the context as much as the mean does: the
shipped default shape (lognormal, ``LENGTH_SIGMA`` 0.6 on 16 points, a CV of 0.59) is narrower than gpt-oss-20b's
gpqa runs (0.83-0.96) and wider than Qwen3-8B's (0.48-0.54); every lm-arena-chat run spreads wider (0.82-1.14: many
short replies, a tail to the 4,096-token cap).

Checks (each an error naming the run): the counts sum to the run's request count (gpqa: 198 questions x the
run's repeats, ``energy_fold_split.gpqa_num_requests``; lm-arena-chat: 1,024 prompts x the repeats,
:func:`lm_arena_num_requests`) and the histogram mean is within 2 % of the row's ``output_tokens`` (the
published mean length), which catches a mistyped count.

``--check`` verifies that every gpqa and lm-arena-chat row of the catalogue states ``output length CV`` equal
to its run's value at three decimals (what the energy rows read: ``validation.moe_kernels.stated_output_cv``);
``--write`` puts the statement into the rows' notes (replacing an older one).

    PYTHONPATH=src python tools/energy/mlenergy_output_cv.py [--check | --write]
"""

from __future__ import annotations

import argparse
import csv
import math
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
HISTOGRAMS = HERE / "mlenergy_output_histograms.csv"
CATALOG = HERE.parents[1] / "src" / "inferchip" / "catalog" / "mlenergy_cases.csv"
SOURCE = "github.com/ml-energy/leaderboard @0ea52b6a21 public/data/models/{file} output_length_distribution"
# an earlier statement (its source text holds a ";", so the match runs to the closing parenthesis)
_STATEMENT = re.compile(r"; output length CV [^;]*?\(the run's published output-length histogram[^)]*\)")
WITHIN_BIN_SHARE_MAX = 0.031  # the largest width^2 / 12 over a run's mid-point variance (gpt-oss-120b, x2 bs256)
MEAN_TOLERANCE = 0.02  # histogram mean against the published mean length (mid-point binning error ~1 %)
DATASETS = ("gpqa", "lm-arena-chat")  # the ML.ENERGY tasks whose runs' histograms are transcribed
# github.com/ml-energy/benchmark configs/vllm/lm-arena-chat/benchmark.yaml: --workload.num-requests 1024
LM_ARENA_PROMPTS = 1024
# num_request_repeats above 1 of the H100 lm-arena-chat runs (configs/vllm/lm-arena-chat/<model>/H100/sweeps.yaml, read
# at e7c1113a (Llama-3.1-8B), a87d8c8f (Llama-3.1-70B), 4ceff263 (Llama-3.3-70B), cda9e5c6 (Qwen3-30B-A3B; its 256 and
# 512 runs exist with 1 and 2 repeats: case id suffix "rep2")); every other run sends the prompts once
_LM_ARENA_REPEATS = {"llama-3.1-8b": {256: 2, 384: 2, 512: 2, 768: 3}, "llama-3.1-70b": {512: 2, 768: 2, 1024: 2},
                     "llama-3.3-70b": {512: 2, 768: 2}, "qwen3-30b-a3b": {768: 2, 1024: 2}}


def histogram_moments(counts: list[int], bin_lo: float, bin_hi: float) -> tuple[int, float, float]:
    """(requests, mean, CV) of a histogram of ``len(counts)`` equal bins over ``[bin_lo, bin_hi]``, each bin at its
    mid-point. ValueError when there are no requests or the edges are not increasing."""
    if not bin_hi > bin_lo:
        raise ValueError(f"bin edges {bin_lo} .. {bin_hi} are not increasing")
    n = sum(counts)
    if n <= 0:
        raise ValueError("the histogram holds no requests")
    width = (bin_hi - bin_lo) / len(counts)
    mids = [bin_lo + width * (k + 0.5) for k in range(len(counts))]
    mean = sum(c * x for c, x in zip(counts, mids, strict=True)) / n
    second = sum(c * x * x for c, x in zip(counts, mids, strict=True)) / n
    return n, mean, math.sqrt(max(second / (mean * mean) - 1.0, 0.0))


def load_histograms(path: Path = HISTOGRAMS) -> dict[str, dict]:
    """Run id (a catalogue case id without its metric suffix) -> its histogram row and (requests, mean, CV)."""
    out: dict[str, dict] = {}
    with path.open(encoding="utf-8", newline="") as fh:
        for r in csv.DictReader(fh):
            counts = [int(x) for x in r["counts"].split()]
            if len(counts) != 50:
                raise ValueError(f"{path.name}, run {r['run']}: {len(counts)} counts, the leaderboard gives 50 bins")
            n, mean, cv = histogram_moments(counts, float(r["bin_lo"]), float(r["bin_hi"]))
            out[r["run"]] = {**r, "n": n, "mean": mean, "cv": cv}
    return out


def statement(run: dict) -> str:
    """The notes statement for a run: its CV at three decimals and the source."""
    return (f"; output length CV {run['cv']:.3f} (the run's published output-length histogram: "
            f"{SOURCE.format(file=run['leaderboard_file'])}, 50 bins, mid-points; tools/energy/mlenergy_output_cv.py)")


def _catalog_rows() -> tuple[list[str], list[dict[str, str]]]:
    with CATALOG.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
        return list(reader.fieldnames or []), list(reader)


def lm_arena_num_requests(model: str, max_num_seqs: int, case_id: str = "") -> int:
    """Requests an ML.ENERGY lm-arena-chat run sends on H100: 1,024 prompts x its num_request_repeats."""
    key = next((k for k in _LM_ARENA_REPEATS if k in model.lower()), None)
    reps = 2 if "rep2" in case_id else 1 if key is None else _LM_ARENA_REPEATS[key].get(max_num_seqs, 1)
    return LM_ARENA_PROMPTS * reps


def num_requests(row: dict[str, str]) -> int:
    """The request count of a gpqa or lm-arena-chat catalogue row's run."""
    sys.path.insert(0, str(HERE))
    from energy_fold_split import gpqa_num_requests  # type: ignore[import-not-found]

    model, conc = row["model"].split("/")[-1], int(row["concurrency"])
    if row["dataset"] == "gpqa":
        return int(gpqa_num_requests(model, conc, row["case_id"]))
    return lm_arena_num_requests(model, conc, row["case_id"])


def run_of(case_id: str) -> str:
    """The run id of a catalogue case id: the id without its ``-power`` / ``-energy`` suffix."""
    return case_id.rsplit("-", 1)[0]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--check", action="store_true", help="every gpqa / lm-arena-chat row states its run's CV")
    ap.add_argument("--write", action="store_true", help="write the statements into the rows' notes")
    args = ap.parse_args()

    hist = load_histograms()
    fields, rows = _catalog_rows()
    measured = [r for r in rows if r["dataset"] in DATASETS]
    problems = []
    print("run | requests | mean (published) | CV")
    for run_id, h in sorted(hist.items()):
        mine = [r for r in measured if run_of(r["case_id"]) == run_id]
        if not mine:
            problems.append(f"{run_id}: no catalogue row")
            continue
        want = num_requests(mine[0])
        published = float(mine[0]["output_tokens"])
        if h["n"] != want:
            problems.append(f"{run_id}: {h['n']} requests in the histogram, the run sent {want}")
        if abs(h["mean"] / published - 1.0) > MEAN_TOLERANCE:
            problems.append(f"{run_id}: histogram mean {h['mean']:.0f} against the published {published:.0f}")
        print(f"{run_id} | {h['n']} | {h['mean']:.0f} ({published:.0f}) | {h['cv']:.3f}")
    missing = sorted({run_of(r["case_id"]) for r in measured} - set(hist))
    problems += [f"{m}: no histogram" for m in missing]
    if args.write:
        for r in rows:
            h = hist.get(run_of(r["case_id"])) if r["dataset"] in DATASETS else None
            if h is not None:
                r["notes"] = _STATEMENT.sub("", r["notes"]) + statement(h)
        with CATALOG.open("w", encoding="utf-8", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=fields, lineterminator="\n")
            w.writeheader()
            w.writerows(rows)
    if args.check or args.write:
        for r in measured:
            h = hist.get(run_of(r["case_id"]))
            if h is not None and statement(h) not in r["notes"]:
                problems.append(f"{r['case_id']}: its notes do not state output length CV {h['cv']:.3f}")
    for p in problems:
        print("PROBLEM:", p)
    if problems:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
