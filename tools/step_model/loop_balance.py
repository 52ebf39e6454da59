"""Little's law on each closed-loop row, measured and simulated: is a TTFT error time misplaced inside the loop, or
a capacity error?

A closed loop of ``C`` clients that each send their next request when the last one ends completes
``X = throughput / (0.9 OSL)`` requests a second (mean output ``0.9 OSL``: ``--random-range-ratio 0.8``), so one
client's loop lasts ``loop = C / X`` (Little's law). The loop is the request's work, ``TTFT + (0.9 OSL - 1) TPOT``,
plus what neither metric holds (the client's host time, the run's start and drain); ``closure = work / loop`` is
how much of the loop the two metrics hold (1: all of it). Read on the measured figures and on the simulated ones of
the same row:

* **misplaced**: the loop (the throughput) is simulated within ``--tol`` but TTFT is not: the simulation spends the
  right time per request in the wrong place (queue before the first token against decode after it);
* **capacity**: the loop is off too, and TTFT is most of the measured loop (``TTFT / loop >= 0.5``): a saturated
  queue in front of the first token (a prefill pool, an admission cap) that the simulation gives more capacity;
* **decode**: the loop is off and TPOT holds most of it: the decode side sets the loop, and the TTFT error follows
  from the intake it allows;
* **ok**: loop and TTFT both within ``--tol``.

The prompt intake ``X x 0.9 ISL`` of each row is set against its configuration's largest measured intake at any
length (``intake / peak``): a row whose measured intake stays well below the peak that the same workers reach at
another length never tests their prefill capacity, whatever its simulated intake.

    python tools/step_model/loop_balance.py closed.json [--match REGEX] [--tol 0.25] [--min-clients 1]
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from prefill_rate import MEAN_FRACTION, intake_tokens_per_s, rows  # noqa: E402  (a script beside this one)

CAPACITY_TTFT_SHARE = 0.5  # TTFT / loop at or above which the measured loop is mostly a wait for the first token


def requests_per_s(output_tokens_per_s: float, output_tokens: int) -> float:
    """Requests a second a closed loop completes at this output rate (mean output 0.9 of the nominal length)."""
    if output_tokens_per_s <= 0 or output_tokens <= 0:
        raise ValueError(f"output rate {output_tokens_per_s} and output length {output_tokens} must be > 0")
    return output_tokens_per_s / (MEAN_FRACTION * output_tokens)


def loop_s(clients: int, req_per_s: float) -> float:
    """One client's loop by Little's law: ``C / X`` seconds."""
    if clients <= 0 or req_per_s <= 0:
        raise ValueError(f"clients {clients} and requests/s {req_per_s} must be > 0")
    return clients / req_per_s


def work_s(ttft_s: float, tpot_s: float, output_tokens: int) -> float:
    """A request's time from send to last token: ``TTFT + (0.9 OSL - 1) TPOT``."""
    return ttft_s + (MEAN_FRACTION * output_tokens - 1.0) * tpot_s


def verdict(loop_meas_s: float, loop_sim_s: float, ttft_meas_s: float, ttft_sim_s: float, tol: float) -> str:
    """ok / misplaced / capacity / decode, as the module doc defines them."""
    loop_off = abs(math.log(loop_meas_s / loop_sim_s)) > math.log1p(tol)
    ttft_off = abs(math.log(ttft_meas_s / ttft_sim_s)) > math.log1p(tol)
    if not loop_off:
        return "misplaced" if ttft_off else "ok"
    return "capacity" if ttft_meas_s / loop_meas_s >= CAPACITY_TTFT_SHARE else "decode"


def table(data: dict, min_clients: int, tol: float) -> list[str]:
    """One line per (configuration, lengths, clients) with throughput, TTFT and TPOT (medians over runs)."""
    full = {k: d for k, d in data.items() if {"tput", "ttft", "tpot"} <= d.keys() and k[3] >= min_clients}
    peak: dict[str, float] = {}
    for (cfg, isl, osl, _), d in full.items():
        peak[cfg] = max(peak.get(cfg, 0.0), intake_tokens_per_s(d["tput"][0], isl, osl))
    out = ["| configuration | ISL/OSL | C | loop meas / sim s | closure meas / sim | TTFT meas / sim s | "
           "TTFT / loop meas | intake meas / sim tok/s | intake / peak meas | verdict |",
           "|---|---|---|---|---|---|---|---|---|---|"]
    for (cfg, isl, osl, conc), d in sorted(full.items()):
        (tm, tp), (fm, fp), (pm, pp) = d["tput"], d["ttft"], d["tpot"]
        lm, lp = loop_s(conc, requests_per_s(tm, osl)), loop_s(conc, requests_per_s(tp, osl))
        wm, wp = work_s(fm / 1e3, pm / 1e3, osl), work_s(fp / 1e3, pp / 1e3, osl)
        im, ip = intake_tokens_per_s(tm, isl, osl), intake_tokens_per_s(tp, isl, osl)
        out.append(f"| {cfg} | {isl}/{osl} | {conc} | {lm:.1f} / {lp:.1f} | {wm / lm:.2f} / {wp / lp:.2f} | "
                   f"{fm / 1e3:.2f} / {fp / 1e3:.2f} | {fm / 1e3 / lm:.2f} | {im:,.0f} / {ip:,.0f} | "
                   f"{im / peak[cfg]:.2f} | {verdict(lm, lp, fm / 1e3, fp / 1e3, tol)} |")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("json")
    ap.add_argument("--match", default="", help="regular expression the case ids must contain")
    ap.add_argument("--tol", type=float, default=0.25, help="relative error within which a figure counts as right")
    ap.add_argument("--min-clients", type=int, default=1)
    a = ap.parse_args()
    if not 0 < a.tol < 10:
        ap.error(f"--tol {a.tol}: must be in (0, 10)")
    print("\n".join(table(rows(a.json, a.match), a.min_clients, a.tol)))


if __name__ == "__main__":
    main()
