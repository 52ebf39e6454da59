"""The spread of each ML.ENERGY gpqa run's output lengths, from the run's own published histogram.

The ML.ENERGY leaderboard publishes, for every run, the histogram of the output lengths of all its requests
(github.com/ml-energy/leaderboard @0ea52b6a21 ``public/data/models/<model>__gpqa.json``, each configuration's
``output_length_distribution``: 50 equal bins from the shortest to the longest answer of that model's runs,
``bins`` the 51 edges, ``counts`` the requests per bin). ``mlenergy_output_histograms.csv`` (next to this file)
holds those histograms of the 62 H100 gpqa runs of ``catalog/mlenergy_cases.csv``, transcribed by hand from
the files (the leaderboard_file column names each one; bin_lo / bin_hi are the first and last edge).

Per run this prints the request count, the mean and the coefficient of variation (CV) of the lengths, from
the bin mid-points (the within-bin spread, ``width^2 / 12`` of variance, is left out: at most
``WITHIN_BIN_SHARE_MAX``, 3.1 % of the variance, on gpt-oss-120b's runs, whose bins are 654 tokens wide; up to 1.1 %
on gpt-oss-20b's and 0.24 % on the Qwen3 runs; the CV it leaves out is about half that share). The closed loop's
mean context is ``E[i] + E[o^2] / (2 E[o])`` (the length-biased age of a running sequence,
``performance.operating``), so the spread sets the context as much as the mean does: the shipped default shape
(lognormal, ``LENGTH_SIGMA`` 0.6 on 16 points, a CV of 0.59) is narrower than
gpt-oss-20b's runs (0.83-0.96) and wider than Qwen3-8B's (0.48-0.54).

Checks (each an error naming the run): the counts sum to the run's request count (198 questions x the
run's repeats, ``energy_fold_split.gpqa_num_requests``) and the histogram mean is within 2 % of the row's
``output_tokens`` (the published mean length), which catches a mistyped count.

``--check`` verifies that every gpqa row of the catalogue states ``output length CV`` equal to its run's
value at three decimals (what the energy rows read: ``validation.moe_kernels.stated_output_cv``);
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
_STATEMENT = re.compile(r"; output length CV [^;]*?\(the run's published output-length histogram[^;]*\)")
WITHIN_BIN_SHARE_MAX = 0.031  # the largest width^2 / 12 over a run's mid-point variance (gpt-oss-120b, x2 bs256)
MEAN_TOLERANCE = 0.02  # histogram mean against the published mean length (mid-point binning error ~1 %)


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


def _gpqa_rows() -> tuple[list[str], list[dict[str, str]]]:
    with CATALOG.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
        return list(reader.fieldnames or []), list(reader)


def run_of(case_id: str) -> str:
    """The run id of a catalogue case id: the id without its ``-power`` / ``-energy`` suffix."""
    return case_id.rsplit("-", 1)[0]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--check", action="store_true", help="every gpqa row states its run's CV")
    ap.add_argument("--write", action="store_true", help="write the statements into the rows' notes")
    args = ap.parse_args()
    sys.path.insert(0, str(HERE))
    from energy_fold_split import gpqa_num_requests  # type: ignore[import-not-found]

    hist = load_histograms()
    fields, rows = _gpqa_rows()
    gpqa = [r for r in rows if r["dataset"] == "gpqa"]
    problems = []
    print("run | requests | mean (published) | CV")
    for run_id, h in sorted(hist.items()):
        mine = [r for r in gpqa if run_of(r["case_id"]) == run_id]
        if not mine:
            problems.append(f"{run_id}: no catalogue row")
            continue
        want = gpqa_num_requests(mine[0]["model"].split("/")[-1], int(mine[0]["concurrency"]), mine[0]["case_id"])
        published = float(mine[0]["output_tokens"])
        if h["n"] != want:
            problems.append(f"{run_id}: {h['n']} requests in the histogram, the run sent {want}")
        if abs(h["mean"] / published - 1.0) > MEAN_TOLERANCE:
            problems.append(f"{run_id}: histogram mean {h['mean']:.0f} against the published {published:.0f}")
        print(f"{run_id} | {h['n']} | {h['mean']:.0f} ({published:.0f}) | {h['cv']:.3f}")
    missing = sorted({run_of(r["case_id"]) for r in gpqa} - set(hist))
    problems += [f"{m}: no histogram" for m in missing]
    if args.write:
        for r in rows:
            h = hist.get(run_of(r["case_id"])) if r["dataset"] == "gpqa" else None
            if h is not None:
                r["notes"] = _STATEMENT.sub("", r["notes"]) + statement(h)
        with CATALOG.open("w", encoding="utf-8", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=fields, lineterminator="\n")
            w.writeheader()
            w.writerows(rows)
    if args.check or args.write:
        for r in gpqa:
            h = hist.get(run_of(r["case_id"]))
            if h is not None and statement(h) not in r["notes"]:
                problems.append(f"{r['case_id']}: its notes do not state output length CV {h['cv']:.3f}")
    for p in problems:
        print("PROBLEM:", p)
    if problems:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
