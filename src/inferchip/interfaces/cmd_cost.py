"""``inferchip cost``: silicon cost breakdown of a chip, each line with its source, beside its price."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer
from rich.markup import escape
from rich.table import Table

from inferchip.interfaces import fmt
from inferchip.interfaces.app import app
from inferchip.interfaces.cli_options import options as opts
from inferchip.interfaces.cli_options.output import console

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


def cost_tables(c: ChipCost) -> list[Table]:
    t = Table(title=f"cost of one {c.name} ({c.chip_id})", title_justify="left")
    t.add_column("item", style="bold")
    t.add_column("value", justify="right")
    t.add_column("source")
    for line in c.lines:
        t.add_row(line.item, _num(line.value, line.unit), escape(line.source))
    tables = [t]
    if c.price_over_cost is not None or c.cloud_over_tco_at_cost is not None:
        r = Table(title="modelled cost against reality", show_header=False, title_justify="left")
        r.add_column(style="bold")
        r.add_column(justify="right")
        if c.price_over_cost is not None:
            r.add_row("reported price / manufacturing cost", _ratio(c.price_over_cost))
            r.add_row("implied gross margin",
                      "-" if c.implied_gross_margin is None else fmt.pct(c.implied_gross_margin))
        if c.cloud_over_tco_at_cost is not None:
            r.add_row("cloud $/h / TCO $/h at manufacturing cost", _ratio(c.cloud_over_tco_at_cost))
        tables.append(r)
    return tables


def _all_table(costs: list[ChipCost]) -> Table:
    t = Table(title=f"{len(costs)} chips: modelled manufacturing cost against reported price",
              caption="interposer: a CoWoS package's compute dies + HBM stacks against TSMC's largest interposer of "
                      "its year (OVER: no CoWoS package then holds it; `--chip ID` says by how much)")
    for col in ("chip", "status", "node", "die mm2", "dies/wafer", "yield", "cost", "price", "price/cost",
                "margin", "cloud $/h", "cloud/TCO@cost", "interposer"):
        t.add_column(col, justify="left" if col in ("chip", "status") else "right")
    for c in costs:
        line = {x.item: x.value for x in c.lines if isinstance(x.value, int | float)}  # the numeric lines
        t.add_row(
            c.chip_id, c.status,
            "-" if c.node_nm is None else f"{c.node_nm:g} nm",
            "-" if c.die_area_mm2 is None else f"{c.die_area_mm2:,.0f}",
            f"{line['dies per wafer (gross)']:.0f}" if "dies per wafer (gross)" in line else "-",
            fmt.pct(line["die yield (negative binomial)"]) if "die yield (negative binomial)" in line else "-",
            _num(c.manufacturing_cost_usd, "USD"), _num(c.price_usd, "USD"), _ratio(c.price_over_cost),
            "-" if c.implied_gross_margin is None else fmt.pct(c.implied_gross_margin),
            _num(c.cloud_usd_per_hour, "USD"), _ratio(c.cloud_over_tco_at_cost),
            "-" if c.interposer is None else "fits" if c.interposer.fits else "[yellow]OVER[/]",
        )
    return t


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
        con.print(f"[yellow]note:[/] {escape(n)}")
