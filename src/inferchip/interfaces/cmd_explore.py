"""``inferchip explore``: search a chip design space over the review's workload suite, or find the
smallest changes that make a chip first against rivals (``--target`` with ``--beat``)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import typer
from rich.table import Table

from inferchip.errors import InvalidSettingError, SpecError
from inferchip.input_files import read_regular_bytes
from inferchip.interfaces.app import app
from inferchip.interfaces.cli_options import options as opts
from inferchip.interfaces.cli_options.output import console, fit_width, print_text


def _ids(value: str | None, option: str) -> list[str] | None:
    """``a,b`` -> ["a", "b"]; None (not given) -> None. An empty item (``a,,b``, ``a,``, ``''``) is refused, as
    ``review --chips`` refuses it: a lost id is a typo, not a request for the default."""
    if value is None:
        return None
    items = [x.strip() for x in value.split(",")]
    if not all(items):
        raise InvalidSettingError(f"{option} {value!r}: an empty item; allowed: ids separated by single commas, "
                                  "none at the start or end")
    return items


# the options of each mode: given in the other they were ignored without a word (a space file beside --target)
SEARCH_ONLY = {"space": "SPACE (the design-space file)", "budget": "--budget", "seed": "--seed",
               "workers": "--workers", "ray": "--ray", "ray_address": "--ray-address", "page": "--page/--no-page"}
BEAT_ONLY = {"boundary_map": "--boundary-map", "silicon": "--silicon", "parts": "--parts"}


def _check_mode(ctx: typer.Context, beat_mode: bool) -> None:
    """Refuse an option of the other mode: the search (a space file) or the beat (``--target``/``--beat``)."""
    given = [flag for name, flag in (SEARCH_ONLY if beat_mode else BEAT_ONLY).items()
             if (src := ctx.get_parameter_source(name)) is not None and src.name not in ("DEFAULT", "DEFAULT_MAP")]
    if given:
        mode, other = (("--target/--beat", "a space search") if beat_mode
                       else ("a space search", "--target/--beat"))
        verb = "belongs" if len(given) == 1 else "belong"
        raise InvalidSettingError(f"explore: {', '.join(given)} {verb} to {other}, not {mode}, and would be "
                                  f"ignored; allowed: one mode per run (see `inferchip explore --help`)")


@app.command("explore")
def explore_cmd(
    ctx: typer.Context,
    space: Path | None = typer.Argument(None, help="Design-space YAML (parameters with lists or ranges of values)."),
    out: Path | None = typer.Option(None, "--out", help="Folder of the run: explore.duckdb and explore.html."),
    budget: int = typer.Option(1000, "--budget", help="Distinct designs to evaluate (all of them if the space is "
                                                      "smaller: an exhaustive grid)."),
    seed: int = typer.Option(0, "--seed", help="Seed of the search (same seed, same designs and rows).",
                             callback=opts.int_range("--seed", 0, opts.MAX_SEED)),
    workers: int | None = typer.Option(None, "--workers", help="Local worker processes (default: the cores)."),
    ray: bool = typer.Option(False, "--ray", help="Run the evaluations on Ray (pip install 'inferchip\\[ray]')."),
    ray_address: str | None = typer.Option(None, "--ray-address", help="Address of an existing Ray cluster."),
    models: str | None = typer.Option(None, "--models", help="Comma-separated model ids (default: the review's)."),
    target: str | None = typer.Option(None, "--target", help="A catalogue chip to change until it is first."),
    beat: str | None = typer.Option(None, "--beat", help="Comma-separated catalogue chips the target must beat."),
    page: bool = typer.Option(True, "--page/--no-page", help="Write explore.html (with the catalogue's chips)."),
    boundary_map: Path | None = typer.Option(None, "--boundary-map", help="With --target: a review's data JSON "
                                             "(or its boundary_map) to draw the changes on (beat.html)."),
    silicon: str = typer.Option("chip", "--silicon", help="With --target: the reading lowest_cost_silicon is ranked "
                                "on: 'chip' (one chip's modelled cost, the claim's reading and the review's verdict) "
                                "or 'deployment' (the silicon of the review's deployment of each workload, the "
                                "review ledger's 'silicon basis' alternative)."),
    parts: str | None = typer.Option(None, "--parts", help="With --target: comma-separated claim parts to answer "
                                     "(default: the review claim's parts that explore scores). Without "
                                     "lowest_cost_silicon (and with --silicon chip) the review's deployments are not "
                                     "sized, most of the run's time."),
) -> None:
    """Design-space exploration (see docs/explore.md)."""
    model_ids = _ids(models, "--models")
    if out is not None:  # a file where the folder should be is refused before any work, in every mode
        from inferchip.interfaces.report.explore_page import BEAT_PAGE_FILE, PAGE_FILE
        from inferchip.interfaces.report.output import check_out_folder

        beat_mode = target is not None or beat is not None  # the files the run writes, checked before its work too
        check_out_folder(out, ("beat.json", "boundary_map.json", BEAT_PAGE_FILE) if beat_mode
                         else (PAGE_FILE,) if page else ())
    _check_mode(ctx, target is not None or beat is not None)
    if target is not None or beat is not None:
        _beat(target, _ids(beat, "--beat") or [], model_ids, out, boundary_map, silicon, _ids(parts, "--parts"))
        return
    if space is None or out is None:
        missing = " and ".join(x for x, gone in (("a space file", space is None), ("--out DIR", out is None)) if gone)
        raise InvalidSettingError(f"explore: {missing} missing; allowed: SPACE.yaml --out DIR (a search), or "
                                  "--target ID --beat IDS")
    _search(space, out, budget, seed, workers, ray, ray_address, model_ids, page)


def _search(space_path: Path, out: Path, budget: int, seed: int, workers: int | None, ray: bool,
            ray_address: str | None, models: list[str] | None, page: bool) -> None:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TaskID,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from inferchip.explore.designs import load_space
    from inferchip.explore.run import explore
    from inferchip.explore.search import check_budget

    check_budget(budget)
    space = load_space(space_path)
    if workers is not None and workers >= 1 and not ray:
        workers = opts.workers(workers)  # capped at the cores, with the note every command prints
    # the bar starts when the search does: an error before it (a model id, --workers, --ray, the store) is the
    # command's first line, as every command's is
    bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                   TextColumn("ETA"), TimeRemainingColumn(), console=console(stderr=True), transient=False)
    tasks: list[TaskID] = []

    def start(mode: str, total: int) -> None:
        bar.start()
        tasks.append(bar.add_task(f"{mode} over {space.size:,} designs", total=total))

    def step(done: int, new: int) -> None:
        if tasks:
            bar.advance(tasks[0], new)

    try:
        res = explore(space, out, budget, seed, workers=workers, use_ray=ray, ray_address=ray_address,
                      models=models, progress=step, on_start=start)
    finally:
        if tasks:  # a bar never started prints nothing
            bar.stop()
    console().print(f"{res.mode}: {res.designs:,} designs ({res.new_designs:,} evaluated now), "
                  f"{res.rows:,} rows in {res.store_path}")
    if (defaults := space.defaults_line()) is not None:
        print_text(console(), defaults)
    from inferchip.explore.evaluate import default_suite
    from inferchip.explore.store import Store

    store = Store(out, space, default_suite(models).workload_ids)
    try:
        frame = store.frame()
        console().print(_front_line(frame, store.workload_ids, space.max_dies))
        leaders = front_leaders(frame, store.workload_ids)
        if leaders is not None:
            console().print(fit_width(leaders))
        if page:
            from inferchip.interfaces.report.explore_page import real_chip_objectives, write_page

            path = write_page(out, frame, store.workload_ids, real_chip_objectives(models=models),
                              title=f"inferchip explore: {space.name}")
    finally:
        store.close()
    if page:
        console().print(f"Pareto page: {path}")


def _front_line(frame: object, workload_ids: list[str], max_dies: int) -> str:
    """How many stored designs are feasible and how many are on the Pareto front (what the page draws), and where
    none is feasible, why (more chiplets than the space's max_dies)."""
    from inferchip.cost.design.constants import RETICLE_MM2
    from inferchip.explore.search import to_minimise
    from inferchip.interfaces.report.explore_page import design_table
    from inferchip.spec.pareto import pareto_mask

    designs, obj = design_table(frame, workload_ids)
    feasible = designs["feasible"].to_numpy(bool)
    front = pareto_mask(to_minimise(obj)) & feasible
    line = f"feasible: {int(feasible.sum()):,} of {len(designs):,} designs; on the Pareto front: {int(front.sum()):,}"
    if len(designs) and not feasible.any():
        least = float(designs["dies"].min())
        line += (f". No design is feasible: each needs at least {least:,.0f} chiplets of at most the reticle "
                 f"({RETICLE_MM2.value:g} mm2) and the space allows max_dies {max_dies}; allowed: fewer or smaller "
                 "matrix units, less SRAM, or a larger max_dies (at most 16)")
    return line


# the front's leader on each suite objective: its figure, in the unit the page's axes name
LEADER_UNITS = {"throughput_per_chip": "output tok/s per chip", "throughput_per_w": "output tok/s per W (TDP)",
                "throughput_per_usd": "output tok/s per $ of chip cost",
                "latency": "time per output token at batch 1, ms", "driving_frames_per_j": "rig frames per J"}


def front_leaders(frame: Any, workload_ids: list[str]) -> Table | None:
    """The Pareto front's best design on each suite objective (geometric means over the suite's workloads, as the
    page plots them), with what it is (MACs, clock, formats, SRAM, memory, links, node) and what it costs (area,
    chiplets, TDP, cost): the answer to "what would win", in the terminal and not only on the page."""
    from inferchip.explore.search import to_minimise
    from inferchip.interfaces.report.explore_page import design_table
    from inferchip.spec.pareto import pareto_mask

    designs, obj = design_table(frame, workload_ids)
    front = pareto_mask(to_minimise(obj)) & designs["feasible"].to_numpy(bool)
    if not front.any():
        return None
    from inferchip.explore.evaluate import NO_LATENCY_S, ZERO_FLOOR

    tokens = frame.pivot_table(index="design_id", columns="workload_id", values="tokens_per_s_per_chip",
                               aggfunc="first").reindex(designs.index)
    served = (tokens.fillna(0.0).to_numpy(float) > 0).sum(axis=1)  # the driving column's NaN counts as not a token
    language = int(tokens.notna().any(axis=0).sum())
    leaders = []  # (objective's label, its figure, the design's row index)
    for name, label in LEADER_UNITS.items():
        if name not in obj:
            continue
        v = np.where(front, np.asarray(obj[name], float), np.nan)
        if not np.isfinite(v).any():
            continue
        i = int(np.nanargmin(v) if name == "latency" else np.nanargmax(v))
        leaders.append((label, float(v[i]) * (1e3 if name == "latency" else 1.0), i))
    # one column per objective, one row per figure of the design: 4-5 narrow columns fit a 100-column terminal
    # with every id and number whole (one column per figure needed ~125 and cut "21,0…", "5,6…")
    t = Table(title=("the Pareto front's best design on each objective: the page's suite geometric means, where a "
                     f"workload a design does not serve counts as {ZERO_FLOOR:g} tok/s and {NO_LATENCY_S:,.0f} s"),
              title_justify="left")
    t.add_column("best on", overflow="fold")
    for label, _, _ in leaders:
        t.add_column(label, justify="right", overflow="fold")
    cards = [designs.iloc[i] for _, _, i in leaders]
    rows: list[tuple[str, list[str]]] = [
        ("figure", [_figure(value) for _, value, _ in leaders]),
        (f"LLM workloads served (of {language})", [f"{int(served[i])}" for _, _, i in leaders]),
        ("MACs (units x dim^2)", [f"{int(d['matrix_units']):,} x {int(d['matrix_unit_dim'])}^2" for d in cards]),
        ("clock GHz", [f"{float(d['clock_ghz']):.2f}" for d in cards]),
        ("formats", [str(d["formats"]) for d in cards]),
        ("SRAM MB", [f"{float(d['sram_mb']):,.0f}" for d in cards]),
        ("memory", [f"{int(d['memory_units'])} x {d['memory_type']}" for d in cards]),
        ("links x GB/s", [f"{int(d['link_count'])} x {float(d['link_gb_per_s']):g}" for d in cards]),
        ("node nm", [f"{float(d['node_nm']):g}" for d in cards]),
        ("area mm2 (dies)", [f"{float(d['area_mm2']):,.0f} ({int(d['dies'])})" for d in cards]),
        ("TDP W", [f"{float(d['tdp_w']):,.0f}" for d in cards]),
        ("cost USD", [f"{float(d['cost_usd']):,.0f}" for d in cards]),
    ]
    for label, cells in rows:
        t.add_row(label, *cells)
    return t


def _read_boundary_map(path: Path) -> dict[str, object]:
    try:
        raw = json.loads(read_regular_bytes(path).decode("utf-8"))
    except SpecError as exc:  # missing, unreadable, a folder, a pipe or a device
        raise InvalidSettingError(f"--boundary-map: {exc}") from None
    except UnicodeDecodeError as exc:
        raise InvalidSettingError(f"--boundary-map: {path} is not UTF-8 text ({exc.reason})") from None
    except json.JSONDecodeError as exc:
        raise InvalidSettingError(f"--boundary-map: {path} is not JSON ({exc})") from exc
    bmap = raw.get("boundary_map", raw) if isinstance(raw, dict) else None
    if not isinstance(bmap, dict) or not {"x_tb_per_s", "y_cost_multiplier", "parts"} <= set(bmap):
        raise InvalidSettingError(f"--boundary-map: {path} holds no boundary map (keys x_tb_per_s, "
                                  "y_cost_multiplier, parts; a review's data JSON has it under boundary_map)")
    _check_boundary_map(bmap, path)
    return bmap


def _check_boundary_map(bmap: dict[str, Any], path: Path) -> None:
    """The map's shape as `review/boundary.boundary_map` writes it, checked before any work or file: axes of
    positive finite numbers, each part a grid of true/false per bandwidth (rows) and cost multiple (columns)."""
    def bad(field: str, value: object, allowed: str) -> InvalidSettingError:
        shown = repr(value) if len(repr(value)) <= 80 else repr(value)[:77] + "..."
        return InvalidSettingError(f"--boundary-map: {path}: {field} = {shown}; allowed: {allowed}")

    sizes = []
    for axis in ("x_tb_per_s", "y_cost_multiplier"):
        values = bmap[axis]
        if (not isinstance(values, list) or not values
                or not all(isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) and v > 0
                           for v in values)):
            raise bad(axis, values, "a non-empty list of finite numbers above 0 (the map's axis)")
        sizes.append(len(values))
    parts = bmap["parts"]
    if not isinstance(parts, dict):
        raise bad("parts", parts, "a mapping of claim part -> grid")
    shape = f"{sizes[0]} rows (one per x_tb_per_s) of {sizes[1]} true/false (one per y_cost_multiplier)"
    for part, grid in parts.items():
        if (not isinstance(grid, list) or len(grid) != sizes[0]
                or not all(isinstance(row, list) and len(row) == sizes[1] and all(isinstance(h, bool) for h in row)
                           for row in grid)):
            raise bad(f"parts.{part}", grid, shape)


def _figure(x: float) -> str:
    """A claim part's value: whole numbers with separators from 1,000 up (16,311, not 1.631e+04), else 4 digits."""
    return f"{x:,.0f}" if abs(x) >= 1000 else f"{x:.4g}"


def _beat(target: str | None, rivals: list[str], models: list[str] | None, out: Path | None,
          boundary_map: Path | None = None, silicon: str = "chip", parts: list[str] | None = None) -> None:
    from inferchip.atomic_io import write_report_file
    from inferchip.explore.beat import beat, with_beat_points

    if target is None:
        raise InvalidSettingError("--beat: needs --target (the chip to change)")
    from inferchip.explore.claim_parts import SILICON_BASES

    if silicon not in SILICON_BASES:
        raise InvalidSettingError(f"--silicon: {silicon!r}; allowed: {', '.join(SILICON_BASES)}")
    from inferchip.catalog.chips import load_chip, resolve_chip_id
    from inferchip.errors import UnknownIdError

    target, rivals = resolve_chip_id(target), [resolve_chip_id(r) for r in rivals]  # catalogue ids in any case
    for option, chip in (("--target", target), *(("--beat", r) for r in rivals)):
        try:  # two options name chips: an unknown one is told by its option, before any work
            load_chip(chip)
        except UnknownIdError as err:
            err.args = (f"{option}: {err}",)
            raise
    bmap = _read_boundary_map(boundary_map) if boundary_map is not None else None
    if bmap is not None and out is None:
        raise InvalidSettingError("--boundary-map: give --out DIR to write beat.html and boundary_map.json")
    res = beat(target, rivals, models, parts=parts, silicon=silicon)
    for table in beat_tables(res):
        console().print(table)
    con = console()
    for name in res.not_reached:
        print_text(con, f"no change up to x8 compute, x8 memory and x8 links makes {res.target} first", name)
    for k, why in res.not_scored.items():
        print_text(con, f"not scored by explore ({why})", k)
    for n in res.notes:
        print_text(con, n, "note")
    if out is not None:
        from inferchip.interfaces.report.explore_page import write_beat_page

        out.mkdir(parents=True, exist_ok=True)
        write_report_file(out / "beat.json", json.dumps({**res.to_dict(), "boundary_points": res.boundary_points()},
                                                        indent=1))
        console().print(f"written: {out / 'beat.json'}")
        if bmap is not None:
            write_report_file(out / "boundary_map.json", json.dumps(with_beat_points(bmap, res), indent=1))
            console().print(f"written: {out / 'boundary_map.json'}")
        console().print(f"written: {write_beat_page(out, res, bmap)}")


PARTS_PER_TABLE = 3  # claim parts side by side: 3 columns of 24 characters keep every chip id whole within 100


def beat_tables(res: Any) -> list[Table]:
    """The smallest change per claim part, one column per part and one row per figure (the multipliers, the target's
    figure after the change beside the best rival's, the unit, what the change adds), at most three parts a table:
    within 100 columns in a pipe with every chip id and number whole (one row per part, eleven columns, was 174)."""
    tables = []
    for start in range(0, max(len(res.changes), 1), PARTS_PER_TABLE):
        changes = res.changes[start:start + PARTS_PER_TABLE]
        t = Table(title=(f"smallest changes that make {res.target} first against {', '.join(res.rivals)}"
                         if start == 0 else None), title_justify="left")
        t.add_column("claim part")
        for c in changes:
            t.add_column(c.objective + (f" ({res.silicon_basis})" if c.objective == "lowest_cost_silicon" else ""),
                         justify="right")
        rows = [("compute x", [f"{c.compute_x:g}" for c in changes]),
                ("memory x", [f"{c.memory_x:g}" for c in changes]),
                ("links x", [f"{c.link_x:g}" for c in changes]),
                ("target after", [_figure(c.value) for c in changes]),
                ("best rival", [c.best_rival for c in changes]),
                ("rival", [_figure(c.rival_value) for c in changes]),
                ("unit", [c.unit for c in changes]),
                ("extra area mm2", [f"{c.extra_area_mm2:,.0f}" for c in changes]),
                ("TDP W", [f"{c.tdp_w:,.0f}" for c in changes]),
                ("cost $", [f"{c.cost_usd:,.0f}" for c in changes])]
        for label, cells in rows:
            t.add_row(label, *cells)
        tables.append(fit_width(t))
    return tables
