"""``inferchip review``: the design review of a claim, as an HTML report plus CSV and JSON."""

from __future__ import annotations

import time
from dataclasses import replace
from typing import TYPE_CHECKING

import typer
from rich import box
from rich.console import Console
from rich.panel import Panel
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from inferchip.errors import OPTIONS, Spelling
from inferchip.interfaces.app import app
from inferchip.interfaces.cli_options import aliases
from inferchip.interfaces.cli_options import options as opts
from inferchip.interfaces.cli_options.output import console, print_text
from inferchip.interfaces.report.output import checked_out

if TYPE_CHECKING:
    from inferchip.review.review import ReviewResult


def _ids(text: str | None, what: str) -> list[str] | None:
    """``a,b,c`` -> list; None/"default" -> None (the default set); "all" -> every catalogue id."""
    if text is None or text.strip() == "default":
        return None
    if text.strip() == "all":
        if what == "chips":
            from inferchip.catalog.chips import chip_ids

            return chip_ids()
        from inferchip.catalog.models import model_ids, resolve_alias

        return sorted({resolve_alias(i) for i in model_ids()})  # each architecture once: an alias is its base's
    from inferchip.errors import InvalidSettingError

    items = text.split(",")
    ids = [t.strip() for t in items if t.strip()]
    for i in ids:
        opts.identifier(f"--{what}")(i)  # an id longer than any id (or file name) is an unknown id, not an OSError
    if what == "chips":  # a catalogue id in any case, as --chip takes it
        from inferchip.catalog.chips import resolve_chip_id

        ids = [resolve_chip_id(i) for i in ids]
    if not ids:
        raise InvalidSettingError(
            f"--{what} {text!r}: no ids in it; allowed: ids separated by commas, 'all' or 'default'"
        )
    if len(ids) < len(items):  # `a,,b` or `a,`: a typo (a lost id?), refused as vision --batch refuses `1,,8`
        raise InvalidSettingError(f"--{what} {text!r}: an empty item; allowed: ids separated by single commas, "
                                  "none at the start or end")
    return ids


SHORT = {"throughput": "tok/s\nper chip", "capex": "tok/s\nper $", "tco": "TCO\n$/Mtok", "energy": "\ntok/J"}


def summary_table(res: ReviewResult) -> Table:
    """Suite rank of every chip on each figure of merit, plus its suite score on the verdict's."""
    from inferchip.review.ranking import METRICS

    n_models, n_slos = len(res.models), len(res.config.slos)
    t = Table(title=f"Suite rank of each chip on each figure of merit (1 = best) over {n_models} "
                    f"model{'s' if n_models != 1 else ''} x {n_slos} service level{'s' if n_slos != 1 else ''} "
                    f"(score: on {SHORT[res.metric].replace(chr(10), ' ')}, 1.00 = best in every case)",
              title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
    t.add_column("\nchip (* estimate)", overflow="fold")  # wrapped on a narrow terminal, never cut
    for name in METRICS:
        t.add_column(SHORT[name], justify="right", no_wrap=True)
    t.add_column("\nscore", justify="right", no_wrap=True)
    t.add_column("cases\nserved", justify="right", no_wrap=True)
    order = sorted(res.chips, key=lambda c: (res.suite[res.metric][c.id]["rank"] or 10**6, c.id))
    for c in order:
        cells = [str(res.suite[name][c.id]["rank"] or "-") for name in METRICS]
        score = res.suite[res.metric][c.id]["score"]
        served = sum(1 for r in res.rows if r["chip_id"] == c.id and r["setting"] == "domain" and r["status"] == "ok")
        t.add_row(c.id + (" *" if c.estimate else ""), *cells, "-" if score is None else f"{score:.2f}",
                  f"{served}/{len(res.cases)}", style="bold red" if c.is_claim else None)
    return t


def unpriced_lines(res: ReviewResult) -> list[str]:
    """One line per chip the street view leaves unpriced (its per-$ and TCO ranks '-'), with the reason; where a
    catalogue chip's file states a price no command uses (not in the dated price table), it is named. A
    user's own chip file priced by its ``price.usd`` (review.views.file_price) gets a ``priced:`` line saying so."""
    from inferchip.catalog.prices import FILE_BASIS
    from inferchip.spec.bounds import pick

    street = next((v for v in res.views if v.name == "street"), None)
    if street is None:
        return []
    specs = {c.id: c.spec for c in res.chips}
    out = []
    for cid, p in street.prices.items():
        if p.basis == FILE_BASIS:
            spread = f" ({p.low_usd:,.0f}-{p.high_usd:,.0f})" if p.high_usd > p.low_usd else ""
            out.append(f"priced: {cid}: {p.usd:,.0f} USD{spread}, {p.source}; the review uses it as it uses a "
                       "catalogue chip's dated street or list price (tok/s per $, TCO $/Mtok, equal money on street "
                       "prices)" + ("; its range drawn in the Monte Carlo as theirs" if spread else ""))
    for cid, why in street.unpriced.items():
        spec = specs.get(cid)
        usd = pick(spec.price.usd) if spec is not None and getattr(spec, "price", None) is not None else None
        own = (f"; the chip file's price.usd = {usd:,.0f} USD is not a dated street or list price, so no command "
               "uses it (predict, serve, cost and explore read the same rule: catalog.prices.usable_price)"
               if usd else "")
        out.append(f"unpriced: {cid}: {why}{own}; its tok/s per $ and TCO $/Mtok ranks are '-'")
    return out


def review_spelling(spelling: Spelling) -> Spelling:
    """The command line's spelling (``spelling`` where it is the options', as ``main`` sets it; else the options' by
    the rule, for the command invoked without ``main``, as a test's CliRunner does) with review's own options where
    the review layer names its ``ReviewConfig`` fields (``ic.review``'s keywords): ``models`` is ``--models`` (a
    list here; drive's repeated ``--model`` elsewhere) and ``slos`` ``--slo``."""
    base = spelling if spelling.options else OPTIONS
    return replace(base, renames=(*base.renames, ("models", "--models"), ("slos", "--slo"),
                                  ("max_ttft_s", "max_ttft_s (seconds, from --max-ttft-ms)"),
                                  ("max_tpot_s", "max_tpot_s (seconds, from --max-tpot-ms)")))


@app.command("review")
def review_cmd(
    ctx: typer.Context,
    chips: str | None = typer.Option(None, "--chips", help="Chip ids, comma-separated; 'all' = whole catalogue "
                                                           "(default: ~13 current datacenter chips)."),
    claim: str | None = typer.Option(None, "--claim", help="The claimed chip: a catalogue id or a chip YAML file; "
                                                           "'none' for no claim (default: the claim file's chip, "
                                                           "tesla-ai5 in the bundled one)."),
    models: str | None = typer.Option(None, "--models",
                                      help="Model ids, comma-separated, 'default' (8B-235B suite) or 'all' (every "
                                           "bundled config once, aliases left out; the claim is judged on those "
                                           "within its bound)."),
    slo: str = typer.Option("both", "--slo", help="Service levels: interactive, batch or both."),
    max_ttft_ms: float | None = opts.ms_option("--max-ttft-ms", help="The interactive level's TTFT limit for every "
                                               "model, ms (default: MLPerf Interactive's for the model's size: "
                                               "500 ms up to 20B, 450 ms up to 150B, 4,500 ms above)."),
    max_tpot_ms: float | None = opts.ms_option("--max-tpot-ms", help="The interactive level's TPOT limit for every "
                                               "model, ms (default: MLPerf Interactive's: 30, 40 and 80 ms)."),
    metric: str = typer.Option("tco", "--metric",
                               help="Figure of merit of the ranking (how often the claimed chip ranks first, its "
                               "suite rank): tco, throughput, capex or energy; the claim's verdicts are judged part "
                               "by part."),
    weights: str = typer.Option("fp8", "--weights", help="Weight format of every model.",
                                callback=opts.number_format("--weights")),
    out: str = typer.Option("review", "--out", help="Folder for report.html, results.csv and results.json; other "
                                                    "files in it are kept."),
    sensitivity: bool = typer.Option(True, "--sensitivity/--no-sensitivity",
                                     help="Sensitivity analysis of the claimed chip."),
    year: int | None = typer.Option(None, "--year", help="Match the competitors to a year (e.g. 2027); default: "
                                                         "the competitor table's default year."),
    claim_file: str | None = typer.Option(None, "--claim-file", help="The claim as data (YAML: text, source, date, "
                                                                     "parts, deployment); default: the bundled one."),
    samples: int = typer.Option(2000, "--samples", help="Monte Carlo samples of the claim's parts (>= 1,000 "
                                                        "for the report's probabilities)."),
    seed: int = typer.Option(2027, "--seed", help="Seed of the Monte Carlo (the same seed gives the same result)."),
    jobs: int = typer.Option(0, "--workers", help="Worker processes for the review's independent pieces (0: every "
                                                  "core there is; never more than the cores; the results do not "
                                                  "change)."),
    old_jobs: int | None = aliases.old_spelling("--jobs"),
) -> None:
    """Design review of a claim ("best inference chip for models under 250B"): rankings, verdict, HTML report."""
    from inferchip.errors import InvalidSettingError, current_spelling, spelled
    from inferchip.interfaces.report.write import commit_output, discard_output, prepare_output, write_report
    from inferchip.review.inputs import CLAIM_FROM_FILE, service_level
    from inferchip.review.review import ReviewConfig, resolve, run_review

    if claim not in (None, "none"):
        claim = opts.chip_identifier("--claim")(claim)
    out_dir = checked_out(out)
    slos = {"both": ("interactive", "batch"), "interactive": ("interactive",), "batch": ("batch",)}.get(slo)
    if slos is None:
        raise InvalidSettingError(f"--slo: '{slo}' is not a service level; allowed: interactive, batch, both")
    for option, limit in (("--max-ttft-ms", max_ttft_ms), ("--max-tpot-ms", max_tpot_ms)):
        if limit is not None and "interactive" not in slos:
            raise InvalidSettingError(f"{option} {limit:g} limits the interactive service level, which --slo {slo} "
                                      "does not run; allowed: --slo interactive or both")
    jobs_option = "--workers" if old_jobs is None else "--jobs"
    if (jobs if old_jobs is None else old_jobs) < 0:  # before the old spelling's note: one error line
        bad = jobs if old_jobs is None else old_jobs
        raise InvalidSettingError(f"{jobs_option}: {bad} is not a number of workers; allowed: 0 (every core) or more")
    jobs = aliases.take(ctx, "jobs", jobs, "--jobs", old_jobs)
    if jobs > 0:
        jobs = opts.workers(jobs, jobs_option)  # capped at the cores there are, with a note, as --workers is
    claimed = CLAIM_FROM_FILE if claim is None else None if claim == "none" else claim
    cfg = ReviewConfig(chips=_ids(chips, "chips"), claim=claimed,
                       models=_ids(models, "models"), slos=slos, metric=metric, weights=weights,
                       max_ttft_s=None if max_ttft_ms is None else max_ttft_ms / 1e3,
                       max_tpot_s=None if max_tpot_ms is None else max_tpot_ms / 1e3,
                       sensitivity=sensitivity, year=year, claim_file=claim_file, samples=samples, seed=seed,
                       jobs=jobs)
    start = time.perf_counter()
    with spelled(review_spelling(current_spelling())):  # review's layer names --models, --slo, --claim-file, ...
        inputs = resolve(cfg)  # unknown ids, bad claim files and settings fail here, before any work (read once)
    staging = prepare_output(out_dir)  # an unwritable --out fails here, before any work
    con = Console()
    try:
        with Progress(TextColumn("[bold]{task.description:<44.44}"), BarColumn(), MofNCompleteColumn(),
                      TimeElapsedColumn(), console=con, transient=True) as bar:
            task = bar.add_task("reviewing", total=None)
            res = run_review(inputs, on_progress=lambda what, n: bar.update(task, advance=n, description=what),
                             on_plan=lambda total: bar.update(task, total=total))
            bar.update(task, description="writing the report", completed=bar.tasks[0].total)
            write_report(res, staging)
        commit_output(staging, out_dir)
    except BaseException:
        discard_output(staging)
        raise
    console().print(summary_table(res))  # natural width in a pipe: ids and numbers whole
    if "interactive" in slos and (max_ttft_ms is not None or max_tpot_ms is not None):
        # each model's: a limit not given is its size class's, which differs between the models
        bases = dict.fromkeys(service_level("interactive", m.total_params, cfg).basis for m in res.models)
        print_text(console(), " | ".join(bases) + " (--max-ttft-ms, --max-tpot-ms)", "interactive limits")
    for line in unpriced_lines(res):
        label, text = line.split(": ", 1)
        print_text(console(), text, label)
    v = res.verdict
    if res.judgement is not None:
        from inferchip.review.claim_review import summary_lines

        con.print(Panel("\n".join(f"• {line}" for line in summary_lines(res.judgement)),
                        title="[bold]the claim, part by part", border_style="red", expand=False))
    title = ("[bold]ranking on one figure of merit" if res.judgement is None else
             "[bold]ranking on one figure of merit, not a verdict")
    con.print(Panel("\n".join(f"• {line}" for line in v["lines"]), title=title,
                    border_style="red" if res.judgement is None else "white", expand=False))
    con.print(f"report: {out_dir / 'report.html'}  ({time.perf_counter() - start:.1f} s)")
