"""``inferchip vision``: latency, throughput, energy and power of a vision network on a chip, per batch size."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import typer
from rich.table import Table

from inferchip.errors import DoesNotFitError
from inferchip.interfaces import fmt
from inferchip.interfaces.app import app
from inferchip.interfaces.cli_options import aliases
from inferchip.interfaces.cli_options import options as opts
from inferchip.interfaces.cli_options.output import console
from inferchip.interfaces.cli_options.tables import system_text
from inferchip.interfaces.cli_options.vision import (
    VISION_WEIGHTS,
    WEIGHTS_HELP,
    dim_option,
    load_vision_model,
    vision_model_option,
)
from inferchip.interfaces.cmd_drive import BOUND_SHORT
from inferchip.interfaces.cmd_predict import OutputFormat
from inferchip.spec.vision import BATCH_MAX, MAX_VISION_CHIPS

if TYPE_CHECKING:
    from inferchip.performance.vision import FrameCost


def _batches(text: str) -> list[int]:
    items = text.split(",")
    if any(not x.strip() for x in items):
        raise typer.BadParameter(f"'{text}': an empty item; give whole numbers separated by single commas",
                                 param_hint="--batch")
    try:
        out = [int(x) for x in items]
    except ValueError:
        raise typer.BadParameter(f"'{text}': a comma-separated list of whole numbers", param_hint="--batch") from None
    if not out or any(not 1 <= b <= BATCH_MAX for b in out):
        raise typer.BadParameter(f"'{text}': batch sizes between 1 and {BATCH_MAX}", param_hint="--batch")
    twice = sorted({b for b in out if out.count(b) > 1})
    if twice:  # the row was printed twice
        raise typer.BadParameter(f"'{text}': batch size(s) given twice: {', '.join(map(str, twice))}; allowed: each "
                                 "batch size once", param_hint="--batch")
    return out


def _refuse_batches_that_do_not_fit(f: FrameCost, net: str, system: str, precision: str, chips: int) -> None:
    """`predict --batch` refuses a batch the memory does not hold; so does this (frame_cost refuses only a call whose
    smallest batch does not fit, and notes the others: FrameCost.over_memory). ``system``: the title's words for the
    chips (:func:`~inferchip.interfaces.cli_options.tables.system_text`); ``chips``: the devices they are."""
    over = f.over_memory()
    if over and f.memory is not None and f.memory_per_chip_bytes is not None:
        fits = f.memory.fitting_frames(f.usable_memory_bytes) * chips
        unit = "device" if f.runtime_devices_per_package > 1 else "chip"  # a package's GCDs are what the call splits
        raise DoesNotFitError(f"--batch {','.join(map(str, over))}: {net} at {precision} does not fit on "
                              f"{system}: {float(max(f.memory_per_chip_bytes)) / 1e9:,.4g} GB per {unit} at least "
                              f"(weights and its largest layer's input and output) but "
                              f"{f.usable_memory_bytes / 1e9:,.4g} GB is usable; allowed: at most {fits:,} frames "
                              f"per call on {chips} {unit}{'s' if chips > 1 else ''}")


def _binds(split: dict[str, npt.NDArray[np.float64]], i: int) -> dict[str, Any] | None:
    """The largest part of batch point ``i``'s latency (``FrameCost.time_split_s``): ``{"by", "share"}``."""
    if not split:
        return None
    total = sum(float(v[i]) for v in split.values())
    by = max(split, key=lambda k: float(split[k][i]))
    return {"by": by, "share": float(split[by][i]) / total if total > 0 else 0.0}


BOUND_NOTE = ("the latency and the energy per frame are floors and the frames per second a ceiling (the table marks "
              "them '>=' and '<='): the graph has nodes not costed (named in a note above), counted as 0 s and 0 J; "
              "the power, their ratio, may be either way")


def bound_marks(net: Any) -> tuple[str, str]:
    """The marks of a table's figures that are bounds: ``(">= ", "<= ")`` (latency and energy per frame floors,
    frames per second a ceiling) where the network ``net`` has layers not costed (an ONNX graph's nodes its importer
    cannot price, ``op == "uncosted"``, counted as 0 s: :mod:`inferchip.workload.vision.onnx_import`), else
    ``("", "")``: the figures as modelled."""
    if any(getattr(x, "op", "") == "uncosted" for x in getattr(net, "layers", ()) or ()):
        return ">= ", "<= "
    return "", ""


@app.command("vision")
def vision_cmd(
    ctx: typer.Context,
    chip: str = opts.chip_option(),
    model: str = vision_model_option(),
    batch: str = typer.Option("1", "--batch", help="Frames per call, comma-separated (e.g. 1,8,64)."),
    precision: str = typer.Option(VISION_WEIGHTS, "--weights", callback=opts.number_format("--weights"),
                                  help=WEIGHTS_HELP),
    chips: int = typer.Option(1, "--count", callback=opts.int_range("--count", 1, MAX_VISION_CHIPS),
                              help=f"Chips sharing each call's frames (data parallel), 1 to {MAX_VISION_CHIPS:,}."),
    dim: list[str] = dim_option(),
    output: OutputFormat = typer.Option(OutputFormat.table, "--format"),
    old_precision: str | None = aliases.old_spelling("--precision", opts.number_format("--precision")),
    old_chips: int | None = aliases.old_spelling("--chips", opts.int_range("--chips", 1, MAX_VISION_CHIPS)),
) -> None:
    """Cost of one call of a vision network (bundled id or FILE.onnx) on a chip, for each batch size."""
    precision = aliases.take(ctx, "precision", precision, "--precision", old_precision)
    chips = aliases.take(ctx, "chips", chips, "--chips", old_chips)

    from inferchip.catalog.chips import load_chip
    from inferchip.performance.vision import frame_cost

    sizes = _batches(batch)
    net = load_vision_model(model, dim)
    spec = load_chip(chip)
    f = frame_cost(spec, net, np.array(sizes, dtype=float), weights=precision, count=chips)
    n = f.runtime_devices_per_package  # a package its runtime sees as n devices: per-chip figures are a device's
    system = system_text(spec.id, chips, n)
    _refuse_batches_that_do_not_fit(f, net.named, system, precision, chips * n)
    # power_w is the call's power on all the chips together (frame_cost's); call_energy_per_frame_j the call's energy
    # over its frames (calls back to back, no idle between them): drive's energy_per_frame_j is per camera frame at a
    # rig's rate, idle included (sim.vision.rig_energy), a different figure, so a different name
    split = f.time_split_s or {}
    rows: list[dict[str, Any]] = [
        {"batch": int(b), "latency_s": float(t), "frames_per_s": float(b / t), "call_energy_per_frame_j": float(e / b),
         "power_w": float(p), "power_w_per_chip": float(p) / (chips * n),
         "time_split_s": {k: float(v[i]) for k, v in split.items()}, "binds": _binds(split, i)}
        for i, (b, t, e, p) in enumerate(zip(f.batch, f.latency_s, f.energy_j, f.power_w, strict=True))]
    notes = list(f.notes)
    devices, unit = chips * n, "devices" if n > 1 else "chips"
    few = [int(b) for b in f.batch if b < devices]
    if few:  # each device runs whole frames of its own copy: a call of fewer frames leaves some idle
        notes.append(f"batch {', '.join(map(str, few))}: fewer frames than the {devices:,} {unit}, so "
                     f"{', '.join(f'{devices - b:,}' for b in few)} of them sit idle through the call (at idle "
                     "power, counted in its energy and power; the latency is one frame's on one of them)")
    low, high = bound_marks(net)
    if low:  # the same note in the table and the JSON
        notes.append(BOUND_NOTE)
    if output == OutputFormat.json:
        # predict's key names for the same concepts (README: one name per concept): chip_id, model_id, weights,
        # num_chips (stop 45's tour: these read chip, model, precision, chips); num_chips counts devices as predict's
        typer.echo(fmt.to_json({"chip_id": spec.id, "model_id": net.id, "weights": precision, "num_chips": chips * n,
                                "runtime_devices_per_package": n, "power_dynamic_only": f.power_dynamic_only,
                                "flop_per_frame": f.flop_per_frame, "dram_bytes_per_frame": f.bytes_per_frame,
                                "params": net.params, "points": rows, "notes": notes}))
        return
    t = Table(title=f"{net.id} on {system}, {precision}: {fmt.sig(f.flop_per_frame / 1e9)} GFLOP and "
              f"{fmt.sig(f.bytes_per_frame / 1e6)} MB DRAM traffic per frame (batch 1)", title_justify="left")
    power = "power W" if chips * n == 1 else f"power W (all {chips * n:,} {'devices' if n > 1 else 'chips'})"
    for c in ("batch", "latency ms", "frames/s", "mJ/frame\nin the call", power, "bound by"):
        t.add_column(c, justify="right")
    for r in rows:
        b = r["binds"]
        t.add_row(str(r["batch"]), f"{low}{r['latency_s'] * 1e3:,.3f}", f"{high}{r['frames_per_s']:,.1f}",
                  f"{low}{r['call_energy_per_frame_j'] * 1e3:,.2f}", f"{r['power_w']:,.0f}",
                  "-" if b is None else f"{BOUND_SHORT.get(b['by'], b['by'])} {b['share']:.0%}")
    con = console()
    con.print(t)
    opts.print_notes(con, list(notes))
