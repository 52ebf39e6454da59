"""``inferchip chips`` and ``inferchip models``: list the catalogue."""

from __future__ import annotations

from typing import TypedDict

import typer
from rich.table import Table

from inferchip.interfaces import fmt
from inferchip.interfaces.app import app
from inferchip.interfaces.cli_options import catalog_filters as filters
from inferchip.interfaces.cli_options.output import console
from inferchip.interfaces.cmd_predict import OutputFormat


class ChipRow(TypedDict):
    """One chip of ``inferchip chips`` (SI units; None: not published)."""

    id: str
    name: str
    vendor: str
    status: str
    estimate: bool
    bf16_flop_per_s: float | None
    fp8_flop_per_s: float | None
    memory_type: str | None
    memory_description: str
    memory_capacity_bytes: float
    memory_bytes_per_s: float
    tdp_w: float | None


class ModelRow(TypedDict):
    """One language model of ``inferchip models`` (``experts``: routed experts per MoE layer, 0: dense)."""

    id: str
    model_type: str
    layers: int
    hidden: int
    attention: str
    experts: int
    total_params: int
    active_params: int


class VisionRow(TypedDict):
    """One vision network of ``inferchip models``."""

    id: str
    model_type: str
    family: str
    input: str
    gflop_per_frame: float
    total_params: float


NAME_HELP = "Only {what} whose id{or_name} holds this text (any case)."


@app.command("chips")
def chips_cmd(
    output: OutputFormat = typer.Option(OutputFormat.table, "--format"),
    vendor: str | None = typer.Option(None, "--vendor", help="Only this vendor's chips (any case; 'Intel' also "
                                      "holds 'Intel (Habana)')."),
    system: str | None = typer.Option(None, "--system", help="Only chips of this system: server (a host shared by "
                                      "up to 8 accelerators) or embedded_soc (a module with its own CPU and DRAM)."),
    number_format: str | None = typer.Option(
        None, "--number-format", help="Only chips with a published dense peak in this number format (fp4: "
        "NVFP4 (nvfp4), mxfp4: OCP MX, fp8 (e4m3, e5m2), int8, bf16, ...; any case). --format is the output's."),
    min_memory_gb: float | None = typer.Option(None, "--min-memory-gb", help="Only chips with at least this memory "
                                               "capacity, GB = 1e9 bytes: the table's first figure (its "
                                               "bracket: the capacity as the source states it, 288 GiB = "
                                               "309.2 GB).",
                                               callback=filters.check_memory_gb),
    name: str | None = typer.Option(None, "--name", help=NAME_HELP.format(what="chips", or_name=" or name")),
) -> None:
    """List the chip catalogue (dense peaks, memory, power; estimates flagged), or the chips that meet every
    filter given."""
    from inferchip.catalog.chips import all_chips, get_chip_params
    from inferchip.review.inputs import is_estimate
    from inferchip.spec.chip import pick
    from inferchip.spec.formats import ALL_FORMATS

    specs = all_chips()
    keep = filters.chip_filter(vendor=vendor, system=system, number_format=number_format,
                               min_memory_gb=min_memory_gb, name=name, vendors=[s.vendor for s in specs],
                               formats=ALL_FORMATS)
    rows: list[ChipRow] = []
    stated: dict[str, str] = {}  # the capacity as the chip's source states it, where its unit is not GB
    for spec in specs:
        p = get_chip_params(spec.id)
        if not keep.keeps(chip_id=spec.id, chip_name=spec.name, vendor=spec.vendor, system=spec.system,
                          formats=p.peak_flop_per_s, memory_capacity_bytes=p.memory_capacity_bytes):
            continue
        tdp = pick(spec.power.tdp_w)  # None (JSON null) when the chip publishes none
        stated[spec.id] = _stated_capacity(pick(spec.memory.capacity), spec.memory.capacity_unit)
        rows.append({
            "id": spec.id, "name": spec.name, "vendor": spec.vendor, "status": spec.status,
            "estimate": is_estimate(spec),
            "bf16_flop_per_s": p.peak_flop_per_s.get("bf16") or p.peak_flop_per_s.get("fp16"),
            "fp8_flop_per_s": p.peak_flop_per_s.get("fp8"),
            "memory_type": spec.memory.memory_type, "memory_description": spec.memory.type,
            "memory_capacity_bytes": p.memory_capacity_bytes,
            "memory_bytes_per_s": p.memory_bytes_per_s, "tdp_w": tdp,
        })
    if output == OutputFormat.json:
        typer.echo(fmt.to_json(rows))
        return
    if not rows:  # as `models` says it: a filter that keeps nothing prints no empty table
        console().print("no chip meets the filters given (see `inferchip chips --help`)")
        return
    t = Table(title=f"{_n(len(rows), 'chip')} (dense peaks; * = estimated figures)")
    # the peaks' headers on two lines: the column as wide as its figures, the memory's stated capacity room
    for c in ("id", "bf16\nTFLOP/s", "fp8\nTFLOP/s", "memory", "TB/s", "TDP W"):
        t.add_column(c, justify="left" if c in ("id", "memory") else "right", overflow="fold")  # wrapped, never cut
    for r in rows:
        t.add_row(
            r["id"] + (" *" if r["estimate"] else ""),
            f"{r['bf16_flop_per_s'] / 1e12:,.0f}" if r["bf16_flop_per_s"] else "-",
            f"{r['fp8_flop_per_s'] / 1e12:,.0f}" if r["fp8_flop_per_s"] else "-",
            f"{fmt.gb(r['memory_capacity_bytes'])}{stated[r['id']]} {r['memory_type'] or r['memory_description']}",
            f"{r['memory_bytes_per_s'] / 1e12:,.2f}",
            f"{r['tdp_w']:,.0f}" if r["tdp_w"] is not None else "-",
        )
    console().print(t)


def _stated_capacity(value: float | None, unit: str) -> str:
    """The capacity as the chip's source states it, in brackets after the table's decimal GB (" (288 GiB)": AMD's
    "288 GB" of HBM3E is 288 GiB, 309.2 GB; " (230 MB)": an SRAM-only chip's on-die memory, 0.2 GB); "" where the
    source states decimal GB, which the table shows as it is."""
    return "" if unit == "GB" or value is None else f" ({value:,g} {unit})"


@app.command("models")
def models_cmd(
    output: OutputFormat = typer.Option(OutputFormat.table, "--format"),
    model_type: str | None = typer.Option(None, "--model-type", help="Only models of this Hugging Face model_type "
                                          "(llama, qwen3_moe, deepseek_v3, ...; vision: the vision networks)."),
    attention: str | None = typer.Option(None, "--attention", help="Only language models with this attention "
                                         "(gqa, mla)."),
    moe: bool | None = typer.Option(None, "--moe/--dense", help="Only mixture-of-experts language models (--moe) or "
                                    "only dense ones (--dense)."),
    min_params_b: float | None = typer.Option(None, "--min-params", help="Only models with at least this many "
                                              "parameters, in billions (all of them, not the active ones).",
                                              callback=filters.check_min_params_b),
    max_params_b: float | None = typer.Option(None, "--max-params", help="Only models with at most this many "
                                              "parameters, in billions (all of them, not the active ones).",
                                              callback=filters.check_max_params_b),
    name: str | None = typer.Option(None, "--name", help=NAME_HELP.format(what="models", or_name="")),
) -> None:
    """List the bundled models (Hugging Face ids, aliases resolved) with parameter counts, or those that meet every
    filter given."""
    from inferchip.catalog.models import load_model, model_ids
    from inferchip.workload.params import active_params_per_token, total_params

    every: list[ModelRow] = []
    for mid in model_ids():
        m = load_model(mid)
        every.append({"id": mid, "model_type": m.model_type, "layers": m.num_layers, "hidden": m.hidden_size,
                      "attention": m.attention, "experts": m.num_experts, "total_params": total_params(m),
                      "active_params": active_params_per_token(m)})
    every_vision = _vision_rows()
    keep = filters.model_filter(model_type=model_type, attention=attention, moe=moe, min_params_b=min_params_b,
                                max_params_b=max_params_b, name=name,
                                model_types=[r["model_type"] for r in [*every, *every_vision]],
                                attentions=[r["attention"] for r in every])
    rows = [r for r in every if keep.keeps(model_id=r["id"], model_type=r["model_type"], attention=r["attention"],
                                           experts=r["experts"], total_params=r["total_params"])]
    vision = [] if keep.language_only else [
        r for r in every_vision if keep.keeps(model_id=r["id"], model_type=r["model_type"], attention=None,
                                              experts=None, total_params=r["total_params"])]
    if output == OutputFormat.json:
        typer.echo(fmt.to_json([*rows, *vision]))
        return
    filtered = keep != filters.ModelFilter()
    if filtered and not rows and not vision:
        console().print("no model meets the filters given (see `inferchip models --help`)")
        return
    t = Table(title=_n(len(rows), "model"))
    for c in ("id", "type", "layers", "attention", "experts", "params", "active"):
        # wrapped, never cut
        t.add_column(c, justify="left" if c in ("id", "type", "attention") else "right", overflow="fold")
    for r in rows:
        t.add_row(r["id"], r["model_type"], str(r["layers"]), r["attention"], str(r["experts"] or "-"),
                  f"{r['total_params'] / 1e9:.1f}B", f"{r['active_params'] / 1e9:.1f}B")
    if rows or not filtered:  # a filter that keeps only vision networks prints no empty language table
        console().print(t)
    if filtered and not vision:
        return
    v = Table(title=f"{_n(len(vision), 'vision network')} (per frame; --model ID or --model FILE.onnx)")
    # the matrix work alone, as papers count a network's GFLOPs (2 x MACs); `vision` prints its vector work too
    for c in ("id", "family", "input", "GFLOP/frame\n(2 x MACs)", "params"):
        v.add_column(c, justify="left" if c in ("id", "family", "input") else "right", overflow="fold")
    for n in vision:
        v.add_row(n["id"], n["family"], n["input"], f"{n['gflop_per_frame']:,.1f}", f"{n['total_params'] / 1e6:.1f}M")
    console().print(v)


def _vision_rows() -> list[VisionRow]:
    """The bundled vision networks: family, input, matrix GFLOP (2 per MAC) per frame and parameters."""
    from inferchip.catalog.vision_networks import vision_network_ids
    from inferchip.workload.vision.network import load_network

    out: list[VisionRow] = []
    for nid in vision_network_ids():
        n = load_network(nid)
        shape = "x".join(str(d) for d in n.spec.input.spatial) if n.spec else "?"
        views = n.spec.input.views if n.spec else 1
        out.append({"id": nid, "model_type": "vision", "family": n.family,
                    "input": f"{views}x {shape}" if views > 1 else shape,
                    "gflop_per_frame": 2.0 * n.macs_per_frame / 1e9, "total_params": n.params})
    return out


def _n(count: int, noun: str) -> str:
    """``count`` and the noun, plural where it is not 1 ("1 chip", "59 chips")."""
    return f"{count:,} {noun}{'' if count == 1 else 's'}"
