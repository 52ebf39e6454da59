"""Would shipping a refitted calibration help? Two checks of a candidate ``calibration.yaml`` against the shipped one.

``page BEFORE.json AFTER.json``: the per-row validation page (``inferchip validate
src/inferchip/catalog/validation_cases.csv src/inferchip/catalog/energy_cases.csv --format json --calibration F``)
before and after, median / p90 / signed median APE per kind (all rows, performance, energy board, energy wall), and
the rows that move most.

``attrib BASE.yaml NEW.yaml --every N --out DIR``: the closed-loop rows' change between two calibrations, parameter by
parameter. Every Nth run of ``catalog/inferencemax_cases.csv`` (its three metric rows together) is predicted in
sample (the engines' catalogued host times, no refit) with BASE, with NEW, and with NEW but one fitted physical
parameter (``Calibration.physical_parameter_names``) set back to BASE's, one variant per parameter, plus BASE with
NEW's ``kernel_overhead_scale`` alone. A variant that takes back most of NEW's loss names the parameter the
closed-loop rows pin differently from the MLPerf-style rows the calibration is fitted on.
Variants' YAMLs and ``attrib.json`` (signed errors per metric and variant) go to DIR.

    python tools/calibration/refit_check.py page before.json after.json [--top 10]
    python tools/calibration/refit_check.py attrib src/inferchip/catalog/calibration.yaml new.yaml --every 10 --out DIR
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
CLOSED = ROOT / "src" / "inferchip" / "catalog" / "inferencemax_cases.csv"
METRIC_SHORT = {"output_tokens_per_s_total": "throughput", "ttft_ms": "TTFT", "tpot_ms": "TPOT"}


def stats(signed: list[float]) -> tuple[int, float, float, float]:
    """(rows, median APE, p90 APE, signed median) of signed errors in percent (np.percentile's linear p90,
    as inferchip.validation.stats)."""
    v = np.asarray(signed, float)
    if v.size == 0:
        return 0, float("nan"), float("nan"), float("nan")
    a = np.abs(v)
    return int(v.size), float(np.median(a)), float(np.percentile(a, 90)), float(np.median(v))


def page_kind(case: dict) -> str:
    """A page row's kind as the page's summary splits them: performance, or energy by its scope."""
    scope = case.get("energy_scope")
    return "performance" if not scope else f"energy ({scope})"


def page_groups(cases: list[dict]) -> dict[str, list[float]]:
    """Signed errors of the predicted rows of a validate JSON, all rows and by kind."""
    out: dict[str, list[float]] = {"all rows": []}
    for c in cases:
        if c.get("status") != "ok" or c.get("signed_error_pct") is None:
            continue
        out["all rows"].append(float(c["signed_error_pct"]))
        out.setdefault(page_kind(c), []).append(float(c["signed_error_pct"]))
    return out


def run_of(case_id: str) -> str:
    """A closed-loop row's run: its case id without the metric suffix (``...-tput``, ``-ttft``, ``-tpot``)."""
    return case_id.rsplit("-", 1)[0]


def every_nth_run(rows: list[dict], every: int) -> list[dict]:
    """The rows of every ``every``-th run (runs in sorted order), each run's metric rows kept together."""
    if every < 1:
        raise ValueError(f"--every {every}: allowed: a whole number from 1")
    keep = set(sorted({run_of(r["case_id"]) for r in rows})[::every])
    return [r for r in rows if run_of(r["case_id"]) in keep]


def _page(a: argparse.Namespace) -> None:
    before, after = (json.loads(Path(p).read_text())["cases"] for p in (a.before, a.after))
    gb, ga = page_groups(before), page_groups(after)
    print("| rows | n | before: median / p90 / signed % | after: median / p90 / signed % |")
    print("|---|---|---|---|")
    for k in ["all rows"] + sorted(k for k in gb if k != "all rows"):
        nb, mb, pb, sb = stats(gb[k])
        _, ma, pa, sa = stats(ga.get(k, []))
        print(f"| {k} | {nb} | {mb:.2f} / {pb:.2f} / {sb:+.2f} | {ma:.2f} / {pa:.2f} / {sa:+.2f} |")
    was = {c["case_id"]: c for c in before if c.get("status") == "ok"}
    moved = sorted(((abs(c["signed_error_pct"]) - abs(was[c["case_id"]]["signed_error_pct"]), c)
                    for c in after if c.get("status") == "ok" and c["case_id"] in was), key=lambda t: t[0])
    for title, part in (("better", moved[:a.top]), ("worse", moved[::-1][:a.top])):
        print(f"\nmost {title} (APE change, signed before -> after):")
        for d, c in part:
            print(f"  {d:+7.1f}  {c['case_id']}: {was[c['case_id']]['signed_error_pct']:+.1f} -> "
                  f"{c['signed_error_pct']:+.1f}")


def _attrib(a: argparse.Namespace) -> None:
    from inferchip.catalog.calibration_file import load_calibration_file, save_calibration
    from inferchip.spec.calibration import Calibration
    from inferchip.validation.validate import validate

    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    with CLOSED.open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    sub = every_nth_run(rows, a.every)
    sub_csv = out / "closed_subset.csv"
    with sub_csv.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(sub)
    base, new = load_calibration_file(a.base), load_calibration_file(a.new)
    variants = {"base": str(a.base), "new": str(a.new)}
    for name in Calibration.physical_parameter_names():
        path = out / f"new_but_{name}.yaml"
        save_calibration(new.calibration.model_copy(update={name: getattr(base.calibration, name)}), path, new.lengths)
        variants[f"new, {name} as base"] = str(path)
    path = out / "base_but_kernel_overhead_scale.yaml"
    kernel = {"kernel_overhead_scale": new.calibration.kernel_overhead_scale}
    save_calibration(base.calibration.model_copy(update=kernel), path, base.lengths)
    variants["base, kernel_overhead_scale as new"] = str(path)
    print(f"{len(sub)} rows ({len(sub) // 3} runs, every {a.every}th) of {CLOSED.name}; in sample, "
          "catalogued host times")
    print("| variant | " + " | ".join(f"{s} median / p90 / signed %" for s in METRIC_SHORT.values()) + " |")
    print("|---|---|---|---|")
    res: dict[str, dict[str, list[float]]] = {}
    for label, p in variants.items():
        errs: dict[str, list[float]] = {m: [] for m in METRIC_SHORT}
        for r in validate(str(sub_csv), calibration=p, workers=a.workers):
            if r.status == "ok" and r.signed_error_pct is not None:
                errs[r.case.metric].append(float(r.signed_error_pct))
        res[label] = errs
        cells = []
        for m in METRIC_SHORT:
            _, md, p90, sg = stats(errs[m])
            cells.append(f"{md:.1f} / {p90:.1f} / {sg:+.1f}")
        print(f"| {label} | " + " | ".join(cells) + " |", flush=True)
    (out / "attrib.json").write_text(json.dumps(res), encoding="utf-8")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("page", help="the validation page before and after")
    p.add_argument("before")
    p.add_argument("after")
    p.add_argument("--top", type=int, default=10)
    q = sub.add_parser("attrib", help="closed-loop rows, parameter by parameter")
    q.add_argument("base")
    q.add_argument("new")
    q.add_argument("--every", type=int, default=10)
    q.add_argument("--out", required=True)
    q.add_argument("--workers", type=int, default=2)
    a = ap.parse_args()
    _page(a) if a.cmd == "page" else _attrib(a)


if __name__ == "__main__":
    main()
