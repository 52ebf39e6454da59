"""The closed-loop TTFT tail audited for ONE mechanism: how many rows any group of rows can bring in (report only).

The leave-one-accelerator-out (LOAO) TTFT p90 passes its target when at most ``allowed_tail(N)`` of the ``N`` rows
are beyond the threshold (159 of 1,592 at 35 %: numpy's linear p90 sits between the sorted rows 1,431 and 1,432,
and with both within it the p90 is within it whatever the rows beyond). Rows of a run that stalled
(``measured_stall_s`` in the validate JSON: p99 - median TTFT >= 30 s in its notes) stay in every figure, so a model
change must bring in ``tail - allowed`` rows among the others, without pushing any out.

Each TTFT row gets the keys a grouping can use:

* ``engine``, ``chip`` (short name), ``layout`` and ``len`` as tools/closed_loop/ttft_tail.py gives them;
* ``cls``: the tail class of tools/closed_loop/tail_classes.py for a row beyond the threshold (``wave``,
  ``steady-slow``, ``steady-fast``, ``other``, ``no-record``), ``in`` otherwise;
* ``band``: the clients band (c1-8, c9-32, c33-128, c129-512, c513+), ``sign`` (``under`` / ``over``);
* ``flag``: ``stall`` for a flagged run, ``-`` otherwise;
* ``config``: the case id without its clients, run and metric (one launch configuration).

The report, for the grouping ``--by`` (default ``engine,chip,cls,band,sign``):

1. per group: its rows beyond the threshold, how many of those are flagged, how many are near (``--near``: within
   15 points beyond it, the rows a small correction brings in) and how many rows inside it are at its edge (within
   7 points below: the rows a correction of the wrong sign pushes out), and the all-row tail count and p90 with the
   group's unflagged errors set to zero (its ceiling: what a mechanism that made the group exact would give);
2. the cover: the fewest groups that, made exact (flagged rows left as they are), bring the p90 within the target,
   taken largest first; i.e. how many separate groups one mechanism would have to reach;
3. ``--family NAME=REGEX`` (case-id regular expressions): the same ceiling for a named family of rows, e.g. the
   rows one candidate mechanism could touch;
4. ``--gaps REGEX``: for the runs whose case id matches, the measured median TTFT (the notes' spread) against the
   simulated one, their gap in ms and in measured TPOTs (the gap in decode iterations where an iteration yields one
   token), and the LOAO signed error: whether a light row's missing time scales with the decode step.

    python tools/closed_loop_runs/ttft_tail_audit.py validate.json [--by engine,chip,cls,band,sign]
        [--family NAME=REGEX ...] [--gaps REGEX] [--threshold 35] [--near 15] [--edge 7] [--top 25]
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "closed_loop"))
from tail_classes import row_class  # noqa: E402  (wave / steady-slow / steady-fast / other)
from ttft_spread import SHIPPED, notes_spread  # noqa: E402  (the run's measured median TTFT from the notes)
from ttft_tail import band, loao_errors, rows_with_ids  # noqa: E402  (LOAO predictions, as closed_loop_tables.py)

KEYS = ("engine", "chip", "layout", "len", "cls", "band", "sign", "flag", "config")
DEFAULT_BY = "engine,chip,cls,band,sign"
_CLIENTS = re.compile(r"-c(\d+)-r\d+")
_CONFIG = re.compile(r"^imax-|-c\d+-r\d+-(ttft|tput|tpot)$")


def allowed_tail(n: int, percentile: float = 90.0) -> int:
    """The most rows that may lie beyond the threshold, however far, with numpy's linear percentile still within it:
    both sorted rows the interpolation reads (``floor(q)`` and ``ceil(q)``, ``q = p (n - 1)``) are then within it.
    (One more row beyond passes or not by the interpolation; two more fail.)"""
    if n < 1:
        raise ValueError(f"allowed_tail: n must be >= 1, got {n}")
    q = percentile / 100.0 * (n - 1)
    return n - 1 - math.ceil(q - 1e-9)


def config_of(case_id: str) -> str:
    """One launch configuration: the case id without the ``imax-`` prefix, its clients, run and metric."""
    return _CONFIG.sub("", case_id)


def audit_rows(validate_json: str, cases_csv: str | Path = SHIPPED, threshold_pct: float = 35.0) -> list[dict]:
    """Every TTFT row with its LOAO signed error (``e``, %) and the grouping keys of the module docstring."""
    with open(validate_json) as f:
        flagged = {c["case_id"] for c in json.load(f)["cases"] if c.get("measured_stall_s") is not None}
    spread = notes_spread(cases_csv)
    out = []
    for x, e, p in loao_errors(rows_with_ids(validate_json)):
        if x["metric"] != "ttft_ms":
            continue
        cid = x["case_id"]
        cls = "in"
        if abs(e) > threshold_pct:
            sim_raw = x["sim"].get("ttft_median_ms")
            sim_med = float("nan") if sim_raw is None else float(sim_raw) + (p - x["ttft"] * 1e3)
            meas_med = spread[cid][0] if cid in spread and sim_raw is not None else None
            cls = row_class(e, meas_med, sim_med, threshold_pct)
        m = _CLIENTS.search(cid)
        out.append(dict(case_id=cid, e=float(e), engine=x["engine"], chip=x["chip"], layout=x["layout"],
                        len=x["len"], cls=cls, band=band(int(m.group(1))) if m else "c?",
                        sign="over" if e > 0 else "under", flag="stall" if cid in flagged else "-",
                        config=config_of(cid)))
    return out


def exact_ceiling(rows: list[dict], members: np.ndarray, threshold_pct: float) -> tuple[int, float]:
    """The all-row count beyond the threshold and the p90 (|e| %) with the unflagged members' errors set to zero."""
    a = np.abs(np.array([r["e"] for r in rows], float))
    keep = np.array([r["flag"] == "stall" for r in rows], bool)
    b = np.where(members & ~keep, 0.0, a)
    return int((b > threshold_pct).sum()), float(np.percentile(b, 90))


def group_table(rows: list[dict], by: tuple[str, ...], threshold_pct: float, near_pts: float,
                edge_pts: float) -> list[dict]:
    """Per group of rows sharing the ``by`` keys: its rows, rows beyond the threshold (``tail``; ``flagged`` of them
    stalled runs, ``movable`` the others, ``near`` those within ``near_pts`` beyond it), rows within ``edge_pts``
    inside it (``edge``), and its exact ceiling (:func:`exact_ceiling`); largest movable tail first."""
    idx: dict[tuple, list[int]] = defaultdict(list)
    for i, r in enumerate(rows):
        idx[tuple(r[k] for k in by)].append(i)
    out = []
    for key, ii in idx.items():
        e = np.array([rows[i]["e"] for i in ii])
        stall = np.array([rows[i]["flag"] == "stall" for i in ii])
        beyond = np.abs(e) > threshold_pct
        members = np.zeros(len(rows), bool)
        members[ii] = True
        tail_after, p90_after = exact_ceiling(rows, members, threshold_pct)
        out.append(dict(key=key, rows=len(ii), tail=int(beyond.sum()), flagged=int((beyond & stall).sum()),
                        movable=int((beyond & ~stall).sum()),
                        near=int((beyond & ~stall & (np.abs(e) <= threshold_pct + near_pts)).sum()),
                        edge=int((~beyond & (np.abs(e) > threshold_pct - edge_pts)).sum()),
                        tail_after=tail_after, p90_after=p90_after, members=members))
    return sorted(out, key=lambda g: (-g["movable"], -g["tail"], g["key"]))


def cover(rows: list[dict], groups: list[dict], threshold_pct: float) -> list[tuple[tuple, int, float]]:
    """Groups made exact one after another, largest unflagged tail first, until the p90 is within the threshold:
    (group key, all-row tail count, p90) after each; empty when it already is."""
    members = np.zeros(len(rows), bool)
    steps = []
    tail, p90 = exact_ceiling(rows, members, threshold_pct)
    for g in groups:
        if p90 <= threshold_pct or g["movable"] == 0:
            break
        members |= g["members"]
        tail, p90 = exact_ceiling(rows, members, threshold_pct)
        steps.append((g["key"], tail, p90))
    return steps


def median_gaps(validate_json: str, cases_csv: str | Path, pattern: re.Pattern[str]) -> list[dict]:
    """Per matching run with a stated TTFT spread and a TPOT row: clients, measured and simulated median TTFT (ms),
    their gap (ms) and the gap over the measured TPOT, and the in-sample signed TTFT error (%); by case id."""
    with open(validate_json) as f:
        cases = [c for c in json.load(f)["cases"] if c["status"] == "ok" and pattern.search(c["case_id"])]
    spread = notes_spread(cases_csv)
    tpot = {c["case_id"].rsplit("-", 1)[0]: float(c["measured"]) for c in cases if c["metric"] == "tpot_ms"}
    out = []
    for c in cases:
        run = c["case_id"].rsplit("-", 1)[0]
        sim_med = (c.get("sim") or {}).get("ttft_median_ms")
        if c["metric"] != "ttft_ms" or c["case_id"] not in spread or sim_med is None or not tpot.get(run):
            continue
        m = _CLIENTS.search(c["case_id"])
        gap = spread[c["case_id"]][0] - float(sim_med)
        out.append(dict(case_id=c["case_id"], clients=int(m.group(1)) if m else 0, meas_median=spread[c["case_id"]][0],
                        sim_median=float(sim_med), gap_ms=gap, gap_tpots=gap / tpot[run], tpot_ms=tpot[run],
                        e=float(c["signed_error_pct"])))
    return sorted(out, key=lambda r: (config_of(r["case_id"]), r["clients"], r["case_id"]))


def parse_families(items: list[str]) -> dict[str, re.Pattern[str]]:
    """``NAME=REGEX`` items; a missing part or a bad expression is refused with the item."""
    out = {}
    for it in items:
        name, sep, rx = it.partition("=")
        if not sep or not name or not rx:
            raise ValueError(f"--family {it!r}: expected NAME=REGEX")
        try:
            out[name] = re.compile(rx)
        except re.error as err:
            raise ValueError(f"--family {it!r}: bad regular expression ({err})") from None
    return out


def parse_by(text: str) -> tuple[str, ...]:
    by = tuple(k.strip() for k in text.split(",") if k.strip())
    bad = [k for k in by if k not in KEYS]
    if not by or bad:
        raise ValueError(f"--by {text!r}: keys must be among {', '.join(KEYS)}")
    return by


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("validate_json")
    ap.add_argument("--cases", default=str(SHIPPED))
    ap.add_argument("--by", default=DEFAULT_BY)
    ap.add_argument("--family", action="append", default=[], metavar="NAME=REGEX")
    ap.add_argument("--gaps", default="", metavar="REGEX")
    ap.add_argument("--threshold", type=float, default=35.0)
    ap.add_argument("--near", type=float, default=15.0)
    ap.add_argument("--edge", type=float, default=7.0)
    ap.add_argument("--top", type=int, default=25)
    a = ap.parse_args()
    try:
        by, fams = parse_by(a.by), parse_families(a.family)
        gaps = parse_families([f"gaps={a.gaps}"])["gaps"] if a.gaps else None
    except ValueError as err:
        ap.error(str(err))
    rows = audit_rows(a.validate_json, a.cases, a.threshold)
    n = len(rows)
    tail = sum(abs(r["e"]) > a.threshold for r in rows)
    stalled = sum(abs(r["e"]) > a.threshold and r["flag"] == "stall" for r in rows)
    ok = allowed_tail(n)
    _, p90 = exact_ceiling(rows, np.zeros(n, bool), a.threshold)
    print(f"TTFT rows {n}, LOAO p90 {p90:.1f} %; beyond {a.threshold:g} %: {tail} ({stalled} of flagged stalled "
          f"runs, kept); the p90 passes at <= {ok}: {max(0, tail - ok)} of the {tail - stalled} unflagged tail rows "
          "must come in, none going out")
    groups = group_table(rows, by, a.threshold, a.near, a.edge)
    print(f"\ngroups by {','.join(by)} (largest unflagged tail first; near: unflagged within {a.near:g} points "
          f"beyond; edge: rows within {a.edge:g} points inside); made exact -> all-row tail, p90 %")
    print(f"  {'group':64s} {'rows':>5s} {'tail':>5s} {'flag':>5s} {'near':>5s} {'edge':>5s}   exact ->")
    for g in groups[:a.top]:
        if g["tail"] == 0 and g["edge"] == 0:
            continue
        print(f"  {'/'.join(g['key'])[:64]:64s} {g['rows']:5d} {g['tail']:5d} {g['flagged']:5d} {g['near']:5d} "
              f"{g['edge']:5d}   {g['tail_after']:4d}, {g['p90_after']:.1f}")
    steps = cover(rows, groups, a.threshold)
    print(f"\ncover: groups made exact, largest first, until the p90 is within {a.threshold:g} %: {len(steps)}")
    for key, t, q in steps:
        print(f"  + {'/'.join(key)[:64]:64s} -> {t:4d}, {q:.1f}")
    if fams:
        print("\nfamilies (case-id regex): rows, tail (flagged), made exact -> all-row tail, p90 %")
        for name, pat in fams.items():
            m = np.array([bool(pat.search(r["case_id"])) for r in rows], bool)
            sel = [r for r, x in zip(rows, m, strict=True) if x]
            t = sum(abs(r["e"]) > a.threshold for r in sel)
            f = sum(abs(r["e"]) > a.threshold and r["flag"] == "stall" for r in sel)
            ta, qa = exact_ceiling(rows, m, a.threshold)
            print(f"  {name:32s} {int(m.sum()):5d} {t:4d} ({f}) -> {ta:4d}, {qa:.1f}")
    if gaps is not None:
        print("\nmedian TTFT gaps (measured - simulated median): configuration, clients: meas / sim median ms, gap ms, "
              "gap in measured TPOTs (TPOT ms), in-sample signed error %")
        for g in median_gaps(a.validate_json, a.cases, gaps):
            print(f"  {config_of(g['case_id'])[:62]:62s} c{g['clients']:<5d} {g['meas_median']:7.0f} / "
                  f"{g['sim_median']:7.0f}  {g['gap_ms']:+7.0f}  {g['gap_tpots']:+6.1f} ({g['tpot_ms']:.1f})  "
                  f"{g['e']:+6.1f}")


if __name__ == "__main__":
    main()
