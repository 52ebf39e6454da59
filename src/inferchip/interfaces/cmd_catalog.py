"""``inferchip chips`` and ``inferchip models``: list the catalogue."""

from __future__ import annotations

from typing import TypedDict

import typer
from rich.table import Table

from inferchip.interfaces import fmt
from inferchip.interfaces.app import app
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


@app.command("chips")
def chips_cmd(output: OutputFormat = typer.Option(OutputFormat.table, "--format")) -> None:
    """List the chip catalogue (dense peaks, memory, power; estimates flagged)."""
    from inferchip.catalog.chips import all_chips, get_chip_params
    from inferchip.spec.chip import pick

    rows: list[ChipRow] = []
    for spec in all_chips():
        p = get_chip_params(spec.id)
        tdp = pick(spec.power.tdp_w)  # None (JSON null) when the chip publishes none
        rows.append({
            "id": spec.id, "name": spec.name, "vendor": spec.vendor, "status": spec.status, "estimate": spec.estimate,
            "bf16_flop_per_s": p.peak_flop_per_s.get("bf16") or p.peak_flop_per_s.get("fp16"),
            "fp8_flop_per_s": p.peak_flop_per_s.get("fp8"),
            "memory_type": spec.memory.memory_type, "memory_description": spec.memory.type,
            "memory_capacity_bytes": p.memory_capacity_bytes,
            "memory_bytes_per_s": p.memory_bytes_per_s, "tdp_w": tdp,
        })
    if output == OutputFormat.json:
        typer.echo(fmt.to_json(rows))
        return
    t = Table(title=f"{len(rows)} chips (dense peaks; * = estimated figures)")
    for c in ("id", "bf16 TFLOP/s", "fp8 TFLOP/s", "memory", "TB/s", "TDP W"):
        t.add_column(c, justify="left" if c in ("id", "memory") else "right", overflow="fold")  # wrapped, never cut
    for r in rows:
        t.add_row(
            r["id"] + (" *" if r["estimate"] else ""),
            f"{r['bf16_flop_per_s'] / 1e12:,.0f}" if r["bf16_flop_per_s"] else "-",
            f"{r['fp8_flop_per_s'] / 1e12:,.0f}" if r["fp8_flop_per_s"] else "-",
            f"{fmt.gb(r['memory_capacity_bytes'])} {r['memory_type'] or r['memory_description']}",
            f"{r['memory_bytes_per_s'] / 1e12:.2f}",
            f"{r['tdp_w']:.0f}" if r["tdp_w"] is not None else "-",
        )
    console().print(t)


@app.command("models")
def models_cmd(output: OutputFormat = typer.Option(OutputFormat.table, "--format")) -> None:
    """List the bundled models (Hugging Face ids, aliases resolved) with parameter counts."""
    from inferchip.catalog.models import load_model, model_ids
    from inferchip.workload.params import active_params_per_token, total_params

    rows: list[ModelRow] = []
    for mid in model_ids():
        m = load_model(mid)
        rows.append({"id": mid, "model_type": m.model_type, "layers": m.num_layers, "hidden": m.hidden_size,
                     "attention": m.attention, "experts": m.num_experts, "total_params": total_params(m),
                     "active_params": active_params_per_token(m)})
    vision = _vision_rows()
    if output == OutputFormat.json:
        typer.echo(fmt.to_json([*rows, *vision]))
        return
    t = Table(title=f"{len(rows)} models")
    for c in ("id", "type", "layers", "attention", "experts", "params", "active"):
        # wrapped, never cut
        t.add_column(c, justify="left" if c in ("id", "type", "attention") else "right", overflow="fold")
    for r in rows:
        t.add_row(r["id"], r["model_type"], str(r["layers"]), r["attention"], str(r["experts"] or "-"),
                  f"{r['total_params'] / 1e9:.1f}B", f"{r['active_params'] / 1e9:.1f}B")
    console().print(t)
    v = Table(title=f"{len(vision)} vision networks (per frame; --model ID or --model FILE.onnx)")
    for c in ("id", "family", "input", "GFLOP/frame", "params"):
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
