"""``inferchip cost``: silicon cost breakdown of a chip, each line with its source, beside its price."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer
from rich import box
from rich.markup import escape
from rich.table import Table

from inferchip.interfaces import fmt
from inferchip.interfaces.app import app
from inferchip.interfaces.cli_options import options as opts
from inferchip.interfaces.cli_options.output import console, print_text

if TYPE_CHECKING:  # the cost model is imported when the command runs (a faster cold start)
    from inferchip.cost.chip_cost import ChipCost
from inferchip.interfaces.cmd_predict import OutputFormat


def _num(v: float | str | None, unit: str) -> str:
    if v is None:
        return "-"
    if isinstance(v, str):
        return v
    if unit.startswith("USD"):
        return f"${v:,.2f}" if abs(v) < 100 else f"${v:,.0f}"
    if unit == "fraction":
        return fmt.pct(v)
    if isinstance(v, int) or float(v).is_integer():
        return f"{v:,.0f} {unit}".strip()
    return f"{v:,.3g} {unit}".strip()


def _ratio(v: float | None) -> str:
    return "-" if v is None else f"{v:,.1f}x"


COST_TABLE_WIDTHS = (30, 20, 40)
"""``cost --chip``'s columns at most (characters: item, value, source), so the table fits 100 columns in a pipe too,
its cells wrapped, never cut (its sources, up to 310 characters a line, made it 370 columns wide there, every row
padded to them); the longest number ("$1,234,567.89 USD/h") is within the value's width."""


def cost_tables(c: ChipCost) -> list[Table]:
    t = Table(title=f"cost of one {c.name} ({c.chip_id})", title_justify="left")
    item_w, value_w, source_w = COST_TABLE_WIDTHS
    t.add_column("item", style="bold", max_width=item_w, overflow="fold")
    t.add_column("value", justify="right", max_width=value_w, overflow="fold")
    t.add_column("source", max_width=source_w, overflow="fold")
    for line in c.lines:
        t.add_row(line.item, _num(line.value, line.unit), escape(line.source))
    tables = [t]
    if c.price_over_cost is not None or c.cloud_over_tco_at_cost is not None:
        r = Table(title="modelled cost against reality", show_header=False, title_justify="left")
        r.add_column(style="bold")
        r.add_column(justify="right")
        if c.price_over_cost is not None and c.price_covers == "system_share":  # not like for like: said
            r.add_row("system-share price / one chip's cost", _ratio(c.price_over_cost))
            r.add_row("implied gross margin", "- (see note)")
        elif c.price_over_cost is not None:
            r.add_row("reported price / manufacturing cost", _ratio(c.price_over_cost))
            r.add_row("implied gross margin",
                      "-" if c.implied_gross_margin is None else fmt.pct(c.implied_gross_margin))
        if c.cloud_over_tco_at_cost is not None:
            r.add_row("cloud $/h / TCO $/h at manufacturing cost", _ratio(c.cloud_over_tco_at_cost))
        tables.append(r)
    return tables


ALL_COLUMNS = ("chip", "node\nnm", "die\nmm2", "dies/\nwafer", "yield", "cost\nUSD", "price\nUSD", "margin",
               "cloud\nUSD/h", "cloud/\nTCO", "inter-\nposer")
"""``cost --all``'s columns, each unit in its header (two lines) so the cells are bare numbers: on a 100-column
terminal every number is whole and only the longest ids fold (ids and numbers were cut to "amd-…" and "$5,…"
there). The status and price/cost columns are left to ``--format json`` (``status``, ``price_over_cost``): a cost
or price of "-" says the first, the margin (1 - cost / price) the second."""


CHIP_MIN_WIDTH = 12  # characters: "nvidia-h100-" before a long id folds


def _all_table(costs: list[ChipCost]) -> Table:
    t = Table(title=f"{len(costs)} chips: modelled manufacturing cost against reported price", box=box.SIMPLE_HEAD,
              pad_edge=False, collapse_padding=True,
              caption="margin: 1 - cost / price ('share': the price is a share of a system's, price.covers, so no "
                      "margin of the chip); cloud/TCO: the cloud rate over the TCO per hour at manufacturing "
                      "cost; interposer: a CoWoS "
                      "package's dies (compute and silicon.base_dies) + HBM stacks against TSMC's largest "
                      "interposer of its year (OVER: no CoWoS package then holds it; `--chip ID` says by how much)")
    rows = []
    for c in costs:
        line = {x.item: x.value for x in c.lines if isinstance(x.value, int | float)}  # the numeric lines
        rows.append((
            c.chip_id,
            "-" if c.node_nm is None else f"{c.node_nm:g}",
            "-" if c.die_area_mm2 is None else f"{c.die_area_mm2:,.0f}",
            f"{line['dies per wafer (gross)']:.0f}" if "dies per wafer (gross)" in line else "-",
            fmt.pct(line["die yield (negative binomial)"]) if "die yield (negative binomial)" in line else "-",
            _bare(c.manufacturing_cost_usd), _bare(c.price_usd),
            "share" if c.price_covers == "system_share" else
            "-" if c.implied_gross_margin is None else fmt.pct(c.implied_gross_margin),
            "-" if c.cloud_usd_per_hour is None else f"{c.cloud_usd_per_hour:,.2f}", _ratio(c.cloud_over_tco_at_cost),
            "-" if c.interposer is None else "fits" if c.interposer.fits else "OVER",
        ))
    for k, col in enumerate(ALL_COLUMNS):  # the chip id folds where the terminal is narrow; a number never does
        t.add_column(col, justify="left" if k == 0 else "right", overflow="fold", no_wrap=k > 0,
                     min_width=CHIP_MIN_WIDTH if k == 0 else None)
    for r in rows:
        t.add_row(*r[:-1], "[yellow]OVER[/]" if r[-1] == "OVER" else r[-1])
    return t


def _bare(usd: float | None) -> str:
    return "-" if usd is None else f"{usd:,.0f}"


@app.command("cost")
def cost_cmd(
    chip: str | None = opts.chip_option(default=None),
    all_chips: bool = typer.Option(False, "--all", help="One row per catalogue chip: modelled cost against price."),
    assumptions: str | None = typer.Option(None, "--assumptions", help="YAML overriding silicon/cost assumptions.",
                                              callback=opts.input_file("--assumptions", ())),
    estimate: str = opts.estimate_option(),
    output: OutputFormat = typer.Option(OutputFormat.table, "--format"),
) -> None:
    """Manufacturing cost of a chip (dies, yield, wafer, memory, package, test) with sources, beside its price."""
    from inferchip.catalog.assumptions import load_assumptions
    from inferchip.catalog.chips import all_chips as catalogue
    from inferchip.catalog.chips import load_chip
    from inferchip.cost.chip_cost import chip_cost
    from inferchip.errors import InvalidSettingError

    if (chip is None) == (not all_chips):
        raise InvalidSettingError("give either --chip ID (or a chip YAML path) or --all")
    if estimate not in ("low", "central", "high"):
        raise InvalidSettingError(f"--estimate must be low, central or high, got {estimate}")
    a = load_assumptions(assumptions)
    con = console()
    if all_chips:
        costs = [chip_cost(spec, a, estimate) for spec in catalogue()]  # type: ignore[arg-type]
        if output == OutputFormat.json:
            typer.echo(fmt.to_json([c.to_dict() for c in costs]))
            return
        con.print(_all_table(costs))
        return
    c = chip_cost(load_chip(chip), a, estimate)  # type: ignore[arg-type]
    if output == OutputFormat.json:
        typer.echo(fmt.to_json(c.to_dict()))
        return
    if c.lines:
        for t in cost_tables(c):
            con.print(t)
    style = "yellow" if c.status != "modelled" else "green"
    con.print(f"[{style}]{escape(c.message)}[/]")
    for n in c.notes:
        print_text(con, n, "note", "yellow")
