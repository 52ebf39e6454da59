"""``inferchip drive``: a camera rig's frames through vision networks on a chip, with deadlines.

Frames from ``--cameras`` cameras at ``--fps`` (seeded phase offsets and jitter, not lock-step) go
through the ``--model`` networks (ONNX files' dynamic axes sized with ``--dim NAME=VALUE``) on ``--count``
chips; the command reports frame-latency percentiles,
jitter, the deadline-miss rate (late = after the same camera's next frame, or after ``--deadline-ms``),
utilisation, the average power and the energy per camera frame and per cycle (a frame of every camera) at the
rig's rate, by network. ``--power-budget-w`` throttles the clock when the chips'
average power would exceed it (model in :mod:`inferchip.sim.vision.rig`). ``--plot`` writes the
deadline curve: the miss rate over cameras x fps, with the highest frame rate per camera count
whose misses stay under ``--threshold``.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import typer
from rich.markup import escape
from rich.table import Table

from inferchip.interfaces import fmt
from inferchip.interfaces.app import app
from inferchip.interfaces.cli_options import aliases, files
from inferchip.interfaces.cli_options import options as opts
from inferchip.interfaces.cli_options.output import console, print_text
from inferchip.interfaces.cli_options.tables import system_text
from inferchip.interfaces.cli_options.vision import VISION_WEIGHTS, WEIGHTS_HELP, dim_option, parse_dims
from inferchip.interfaces.cmd_predict import OutputFormat

MAX_CAMERAS = 1_000
MAX_FPS = 10_000.0
MAX_CHIPS = 1_024
CURVE_MAX_DURATION_S = 20.0


def _duration_check(option: str) -> Any:
    return opts.float_range(option, opts.MAX_DURATION_S, lo=opts.MIN_DURATION_S, lo_open=False)


def _model_check(values: list[str] | None) -> list[str] | None:
    check = opts.identifier("--model")
    for v in values or []:
        base = v.rsplit("@", 1)[0] if "@" in v else v
        check(base)
    return values


def curve_grid(cameras: int, fps: float) -> tuple[list[int], list[float]]:
    """Cameras 1..2N (at most 24 counts) x 16 frame rates from fps/20 to 4 fps (geometric)."""
    import numpy as np  # numpy and the models load when the command runs (a faster cold start)

    top = min(max(2 * cameras, 8), MAX_CAMERAS)
    cams = sorted({int(round(x)) for x in np.linspace(1, top, min(top, 24))})
    rates = [float(f) for f in np.geomspace(fps / 20, min(fps * 4, MAX_FPS), 16)]
    return cams, rates


def curve_figure(curve: dict[str, Any], title: str) -> Any:
    import numpy as np
    import plotly.graph_objects as go

    miss = np.asarray(curve["miss_rate"]) * 100
    fig = go.Figure(go.Heatmap(z=miss, x=curve["fps"], y=curve["cameras"], colorscale="RdYlGn_r",
                               zmin=0, zmax=100, colorbar={"title": "deadline misses (%)"},
                               hovertemplate="%{y} cameras at %{x:.1f} fps: %{z:.2f}% late<extra></extra>"))
    ok = [(c, f) for c, f in zip(curve["cameras"], curve["max_fps"], strict=True) if math.isfinite(f)]
    if ok:
        fig.add_trace(go.Scatter(x=[f for _, f in ok], y=[c for c, _ in ok], mode="lines+markers",
                                 line={"color": "black"}, showlegend=True,  # plotly hides a lone trace's legend
                                 name=f"highest fps with misses <= {curve['threshold'] * 100:g}%"))
    from inferchip.interfaces.report.log_ticks import log_ticks

    tickvals, ticktext = log_ticks(min(curve["fps"]), max(curve["fps"]), dense=True)  # "50", not plotly's bare "5"
    fig.update_layout(title=title, xaxis={"title": "frames per second per camera", "type": "log",
                                          "tickvals": tickvals, "ticktext": ticktext},
                      yaxis={"title": "cameras"}, legend={"orientation": "h", "x": 0, "y": 1.0, "yanchor": "bottom"})
    return fig


def _table(r: dict[str, Any]) -> Table:
    n = r.get("runtime_devices_per_package", 1)  # chips counts the runtime's devices, as predict's num_chips
    t = Table(title=f"{r['cameras']:,} cameras at {r['fps']:,.6g} fps on {system_text(r['chip'], r['chips'] // n, n)} "
                    f"({r['precision']}, {r['duration_s']:g} s, seed {r['seed']}, {r['batching']} batching)",
              show_header=False, title_justify="left")
    t.add_column(style="bold")
    t.add_column(justify="right")
    t.add_row("networks", escape(",\n".join(f"{n['name']} ({n['role']})" for n in r["networks"])))  # one a line
    t.add_row("frames", f"{r['frames']:,}")
    lat = r["latency_ms"]
    for k in ("p50", "p90", "p99", "p99.9", "max"):
        t.add_row(f"frame latency {k}", f"{lat[k]:,.2f} ms")
    t.add_row("jitter (latency std)", f"{r['jitter_ms']:,.2f} ms")
    t.add_row("deadline misses (share of frames)", f"{r['deadline_miss_rate'] * 100:.3f}%")
    t.add_row("  late after the next frame", f"{r['late_after_next_frame_rate'] * 100:.3f}%")
    if r["deadline_ms"] is not None:
        t.add_row(f"  late after {r['deadline_ms']:g} ms", f"{r['late_after_deadline_rate'] * 100:.3f}%")
    v = r.get("deadline_verdict")
    if v is not None:
        by = "next frame" if v["set_by"] == "next_frame" else "--deadline-ms"
        gap = f"{abs(v['margin_ms']):,.2f} ms {'to spare' if v['margin_ms'] >= 0 else 'over'}"
        t.add_row("p99 against the deadline", f"{gap} ({v['deadline_ms']:,.2f} ms, {by})")
    sp = r.get("latency_split_ms")
    if sp is not None:
        t.add_row("mean latency: camera wait, queue, work",
                  f"{sp['camera_wait']:,.2f}, {sp['queueing']:,.2f}, {sp['service']:,.2f} ms")
    b = r.get("binds")
    if b is not None:
        short = {"camera_wait": "the camera pipeline", "queueing": "queueing"}.get(b["part"], "the chip's work")
        if b["network"] is not None:
            short = f"{b['network']}: {BOUND_SHORT.get(b['by'], b['by'])} {b['share']:.0%}"
        if v is not None and v.get("floor_of"):  # a network's uncosted nodes count 0 s: the verdict is a floor
            short += " (a floor)"
        t.add_row("what binds", escape(short))
    t.add_row("utilisation", fmt.pct(r["utilisation"]))
    t.add_row("capacity (camera frames per busy second)", f"{r['capacity_frames_per_s']:,.0f}")
    # the rig's power and budget are the chips' (devices') sum
    every = f" (all {r['chips']:,} {'devices' if n > 1 else 'chips'})" if r["chips"] > 1 else ""
    rate = "at the rig's rate" if r["busy_per_cycle_s"] <= 1 / r["fps"] else "(chips always busy)"
    t.add_row(f"average power{every} {rate}", f"{r['average_power_w']:,.1f} W")
    t.add_row("energy per camera frame", f"{fmt.sig(r['energy_per_frame_j'] * 1e3, 4)} mJ")
    t.add_row(f"energy per cycle ({r['cameras']:,} frames)", f"{fmt.sig(r['rig_energy_per_cycle_j'] * 1e3, 4)} mJ")
    for net in r["networks"]:  # the cycle's energy by network, then the idle rest: they sum to it
        calls = f"{net['calls_per_cycle']:,} call{'s' if net['calls_per_cycle'] > 1 else ''}"
        if net["role"] == "camera":
            calls = f"{net['samples_per_cycle']:,} frames in {calls}"
        t.add_row(escape(f"  {net['name']} ({calls})"), f"{fmt.sig(net['energy_per_cycle_j'] * 1e3, 4)} mJ")
    t.add_row("  idle rest of the cycle", f"{fmt.sig(r['idle_energy_per_cycle_j'] * 1e3, 4)} mJ")
    if r["power_budget_w"] is not None:
        at_most = "at most " if r.get("power_dynamic_only") else ""  # judged on the dynamic floor: see the note
        t.add_row(f"power budget{every}",
                  f"{r['power_budget_w']:g} W (clock at {at_most}{r['clock_fraction'] * 100:.1f}%)")
    return t


BOUND_SHORT = {"compute": "compute-bound", "memory": "memory-bound", "overhead": "overheads",
               "host_copy": "host input copy", "power_limit": "TDP-limited"}
"""The table's words for what binds a network's call (``binds['by']``; the JSON's ``binds.text`` says it in full)."""


JSON_KEYS = {"chip": "chip_id", "chips": "num_chips", "precision": "weights"}
"""``drive --format json`` names the chip, the chip count and the number format as ``predict`` and ``vision`` do
(the rig summary's ``chip``/``chips``/``precision``, which the text output reads)."""


@app.command("drive")
def drive_cmd(
    ctx: typer.Context,
    chip: str = opts.chip_option(),
    cameras: int = typer.Option(..., "--cameras", help=f"Cameras in the rig, 1 to {MAX_CAMERAS:,}.",
                                callback=opts.int_range("--cameras", 1, MAX_CAMERAS)),
    fps: float = typer.Option(..., "--fps", help="Frames per second per camera.",
                              callback=opts.float_range("--fps", MAX_FPS)),
    model: list[str] | None = typer.Option(
        None, "--model", callback=_model_check,
        help="Vision network id or ONNX file, repeatable, in order (perception, then planning); suffix @camera "
             "(one sample per camera frame) or @rig (one per tick of all cameras). Default: bevformer-tiny@rig."),
    dim: list[str] | None = dim_option(),
    chips: int = typer.Option(1, "--count", help=f"Chips sharing the work, 1 to {MAX_CHIPS:,}.",
                              callback=opts.int_range("--count", 1, MAX_CHIPS)),
    deadline_ms: float | None = opts.ms_option("--deadline-ms", "A frame is also late after this many ms."),
    power_budget_w: float | None = typer.Option(None, "--power-budget-w", help="Average power cap of the chips, W.",
                                                callback=opts.float_range("--power-budget-w", 1e6)),
    duration_s: float = typer.Option(60.0, "--duration", help="Simulated seconds, 0.001 to 86,400.",
                                     callback=_duration_check("--duration")),
    seed: int = opts.seed_option(),
    batching: str = typer.Option("tick", "--batching", help="tick: all cameras' k-th frames as one batch; "
                                 "frame: each frame alone.", callback=opts.choice("--batching", ("tick", "frame"))),
    precision: str = typer.Option(VISION_WEIGHTS, "--weights", help=WEIGHTS_HELP,
                                  callback=opts.number_format("--weights")),
    max_batch: int | None = typer.Option(None, "--max-batch", help="Most camera frames per network call under tick "
                                         "batching (default: all cameras of a tick).",
                                         callback=opts.int_range("--max-batch", 1, MAX_CAMERAS)),
    phase_spread: float = typer.Option(0.1, "--phase-spread", help="Camera phase offsets over this fraction of a "
                                       "frame period, 0 to 1.", callback=opts.float_range("--phase-spread", 1.0,
                                                                                         lo_open=False)),
    threshold: float = typer.Option(0.01, "--threshold", help="Miss rate the deadline curve allows, 0 to 0.5.",
                                    callback=opts.float_range("--threshold", 0.5, lo_open=False)),
    own_views: bool = typer.Option(False, "--own-views", help="Cost a rig network (BEVFormer) at its own camera "
                                   "views, not rebuilt at --cameras."),
    plot: Path | None = typer.Option(None, "--plot", help="Write the deadline curve (cameras x fps) as HTML here."),
    output: OutputFormat = typer.Option(OutputFormat.table, "--format"),
    old_chips: int | None = aliases.old_spelling("--chips", opts.int_range("--chips", 1, MAX_CHIPS)),
    old_duration: float | None = aliases.old_spelling("--duration-s", _duration_check("--duration-s")),
    old_precision: str | None = aliases.old_spelling("--precision", opts.number_format("--precision")),
) -> None:
    """Simulate a camera rig's frames through vision networks: latency, deadline misses, power, energy."""
    import numpy as np

    from inferchip.performance.vision_drive import drive, drive_curve

    chips = aliases.take(ctx, "chips", chips, "--chips", old_chips)
    duration_s = aliases.take(ctx, "duration_s", duration_s, "--duration-s", old_duration)
    precision = aliases.take(ctx, "precision", precision, "--precision", old_precision)

    if plot is not None:
        plot = files.check_writable(plot, "--plot", suffixes=files.HTML_SUFFIXES)  # before the run, not after it
    settings: dict[str, Any] = dict(chips=chips, deadline_ms=deadline_ms, power_budget_w=power_budget_w, seed=seed,
                                    batching=batching, precision=precision, phase_spread=phase_spread,
                                    max_batch=max_batch, loader=onnx_loader(model, dim), own_views=own_views)
    r = drive(chip, cameras, fps, model, duration_s=duration_s, **settings)
    if plot is not None:
        cams, rates = curve_grid(cameras, fps)
        curve = drive_curve(chip, cams, rates, model, duration_s=min(duration_s, CURVE_MAX_DURATION_S),
                            threshold=threshold, views=cameras, **settings)
        system = system_text(r["chip"], chips, r["runtime_devices_per_package"])
        late = "late after the next frame" + (f" or after {deadline_ms:g} ms" if deadline_ms is not None else "")
        fig = curve_figure(curve, f"deadline curve: {', '.join(curve['networks'])} on {system}"
                                  f"<br><sup>a miss: a camera frame {late}</sup>")
        files.write_text(plot, fig.to_html(include_plotlyjs="inline"), "--plot " + str(plot))
        r["deadline_curve"] = {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in curve.items()}
    if output == OutputFormat.json:
        typer.echo(fmt.to_json({JSON_KEYS.get(k, k): v for k, v in r.items()}))
        return
    con = console()
    con.print(_table(r))
    if "deadline_curve" in r:
        best = r["deadline_curve"]["max_fps"]
        con.print(f"deadline curve written to {escape(str(plot))}: at {cameras} cameras, highest fps with misses "
                  f"<= {threshold * 100:g}%: " + ("none in the grid" if cameras not in r["deadline_curve"]["cameras"]
                                                  else _best(r["deadline_curve"], cameras, best)))
    if r.get("binds") is not None:
        print_text(con, r["binds"]["text"], "what binds")
    opts.print_notes(con, r["notes"])


def onnx_loader(models: list[str] | None, dims: list[str] | None) -> Any:
    """The network loader of ``--model``, with ``--dim`` sizing the dynamic axes of its ONNX files (the
    bundled networks take none); None (the default loader) without ``--dim``."""
    sizes = parse_dims(dims)
    if not sizes:
        return None
    from inferchip.errors import InvalidSettingError
    from inferchip.workload.vision.network import load_network
    from inferchip.workload.vision.onnx_import import dynamic_axes

    files = [f for f in (m.rsplit("@", 1)[0].strip() for m in models or []) if f.lower().endswith(".onnx")]
    if not files:
        raise InvalidSettingError(f"--dim {', '.join(sizes)}: dynamic axes apply to ONNX files only, and no --model "
                                  "is one")
    # each graph takes the sizes of its own axes: two graphs with different axis names can share one rig
    axes = {f: dynamic_axes(f) for f in files}
    unknown = sorted(set(sizes) - set().union(*axes.values()))
    if unknown:
        theirs = "; ".join(f"{f}: {', '.join(sorted(a)) or 'none'}" for f, a in axes.items())
        raise InvalidSettingError(f"--dim {', '.join(unknown)}: no --model ONNX file has such a dynamic axis; "
                                  f"their dynamic axes: {theirs}")

    def load(name: str) -> Any:
        if not str(name).strip().lower().endswith(".onnx"):
            return load_network(name)
        own = axes.get(str(name).strip()) or dynamic_axes(str(name).strip())
        return load_network(name, **{k: v for k, v in sizes.items() if k in own})

    return load


def _best(curve: dict[str, Any], cameras: int, best: list[float]) -> str:
    """The highest fps under the threshold at ``cameras``, and the slower rates that miss more than it too: a
    tick waits for its last camera up to --phase-spread of a frame period, which at a low rate can pass
    --deadline-ms (6 cameras on an Orin at 50 ms: 60% of frames late at 1.5 fps, none from 3.6 to 50 fps)."""
    i = curve["cameras"].index(cameras)
    f = best[i]
    if not math.isfinite(f):
        return "none in the grid"
    slow = [r for r, m in zip(curve["fps"], curve["miss_rate"][i], strict=True) if r < f and m > curve["threshold"]]
    top = " (the grid's fastest rate, up to 4 x --fps: faster ones were not tried)" if f >= max(curve["fps"]) else ""
    if not slow:
        return f"{f:.1f}{top}"
    return (f"{f:.1f}{top}; misses pass {curve['threshold'] * 100:g}% at slower rates too, up to {max(slow):.1f} fps "
            "(a tick waits for its last camera up to --phase-spread of a frame period, longer at a lower rate)")
