"""The public API's vector and tool calls (``ic.sweep``, ``ic.chip_cost``, ``ic.curve``, ``ic.find_count``,
``ic.drive``): what a
notebook reaches for beside ``ic.predict``, answered as pandas DataFrames and records, never printed.

``sweep`` predicts every combination of chips, lengths and batch sizes, one DataFrame row each, the setting of each
chip resolved once (``ic.predict``'s cache of recent settings) and each point on the fast path; a point that does not
fit memory (or the latency limits) is a row with ``fits`` False, its figures NaN and ``refusal`` saying why, so a
sweep across the memory limit answers instead of stopping at the first batch that does not fit. ``chip_cost`` is
``inferchip cost``'s record and ``curve`` the throughput-interactivity curve ``ic.serve`` would simulate point by
point (its scheduler: the same running-batch cap and step budget, :func:`inferchip.performance.serving.serve`), its
points judged against an SLO at a percentile as ``inferchip curve`` judges them; ``find_count`` the fewest chips
whose ``ic.serve`` run meets an SLO, ``inferchip serve --find-count``'s search (:mod:`inferchip.sim.runs.slo`);
``drive`` a camera rig, ``inferchip drive``'s record.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import pandas as pd

from inferchip.catalog.chips import ChipInput
from inferchip.catalog.models import ModelInput
from inferchip.errors import DoesNotFitError, InternalError, InvalidSettingError
from inferchip.sim.load.lengths import RANGE_RATIO
from inferchip.spec.chip import ChipParams, ChipSpec
from inferchip.spec.model import ModelSpec
from inferchip.workload.limits import MAX_CHIPS, MAX_REQUESTS

if TYPE_CHECKING:
    from inferchip.cost.chip_cost import ChipCost
    from inferchip.performance.fast_path import FastLayout
    from inferchip.performance.setting import Setting
    from inferchip.sim.runs.curve import CurveResult

MAX_SWEEP_POINTS = 1_000_000
"""The most points one :func:`sweep` takes (the product of its vectors' lengths): ~40 us of CPU a static batch that
fits (its steps priced on arrays, ``benchmarks/bench_sweep.py``), ~0.3 ms a most-throughput point: minutes at most."""

_SKIP = ("breakdown", "notes", "memory_breakdown_bytes")  # per-point structures: the Prediction's own, not columns


def _vector(name: str, v: object, *, none_ok: bool = False) -> list[Any]:
    """``v`` as the list of its values: a number (or, for ``chip``, one chip) is a list of one; a sequence, a numpy
    array or a pandas Series its elements. Each element is checked where it is used (``ic.predict``'s checks)."""
    if v is None and none_ok:
        return [None]
    if isinstance(v, str | bytes | ChipSpec | ChipParams | ModelSpec) or not isinstance(v, Iterable):
        return [v]
    out = list(np.asarray(v).ravel().tolist()) if isinstance(v, np.ndarray | pd.Series) else list(v)
    if not out:
        raise InvalidSettingError(f"{name}: an empty sequence; allowed: one value or a non-empty sequence of them")
    return out


def _chip_label(chip: object) -> str:
    if isinstance(chip, ChipSpec | ChipParams):
        return chip.id
    return str(chip)


def sweep(chip: ChipInput | ChipParams | Sequence[ChipInput | ChipParams], model: ModelInput | ModelSpec, *,
          batch: int | Sequence[int] | np.ndarray[Any, Any] | pd.Series[int] | None = None,
          input_tokens: int | Sequence[int] | np.ndarray[Any, Any] | pd.Series[int] = 1024,
          output_tokens: int | Sequence[int] | np.ndarray[Any, Any] | pd.Series[int] = 1024,
          **setting: Any) -> pd.DataFrame:
    """``ic.predict`` over every combination of ``chip`` (one or a list: ids, paths, ChipSpecs, ChipParams),
    ``input_tokens``, ``output_tokens`` and ``batch`` (each one value or a sequence, numpy array or Series; ``batch``
    None: the most throughput), the other keywords (``count``, ``weights``, ``tp``, ``max_ttft_s``, ...) as
    ``ic.predict`` takes them, the same for every point.

    One row per point, chips outermost and batch innermost: ``chip``, ``input_tokens_asked``,
    ``output_tokens_asked``, ``batch_asked`` (the point as given), ``fits`` (False: the point does not fit memory or
    the limits, its figures NaN, ``refusal`` the first line of why), then every scalar of ``Prediction.to_dict()``
    (``ttft_s``, ``tpot_s``, ``output_tokens_per_s``, ``memory_per_chip_bytes``, ``power_w_per_chip``,
    ``usd_per_million_tokens``, ...; units in their names). A bad argument (a batch of 0, an unknown chip) raises
    InvalidSettingError or UnknownIdError before any point is predicted. At most :data:`MAX_SWEEP_POINTS` points."""
    from inferchip.performance.fast_sweep import release
    from inferchip.performance.predict import predict

    chips = _vector("chip", chip)
    ins, outs = _vector("input_tokens", input_tokens), _vector("output_tokens", output_tokens)
    batches = _vector("batch", batch, none_ok=True)
    n = len(chips) * len(ins) * len(outs) * len(batches)
    if n > MAX_SWEEP_POINTS:
        raise InvalidSettingError(f"sweep: {n:,} points ({len(chips)} chips x {len(ins)} input x {len(outs)} output "
                                  f"lengths x {len(batches)} batches); allowed: at most {MAX_SWEEP_POINTS:,}")
    from inferchip.catalog.chips import load_chip

    for c in chips:  # an unknown id or a missing file among them refused before the first chip's points run
        if not isinstance(c, ChipParams):
            load_chip(c)
    for name, values in (("input_tokens", ins), ("output_tokens", outs), ("batch", batches)):
        for v in dict.fromkeys(values, None) if all(isinstance(x, int | float) for x in values) else values:
            if v is not None or name != "batch":  # each distinct value checked once, named, before any point runs
                # (None: the most throughput for a batch; a length of None was primed as float(None), a TypeError)
                _checked_point(name, v)
    rows: list[dict[str, Any]] = []
    # A static batch that does not fit memory: neither does a larger one of the same chip and lengths (its KV cache
    # and activations only grow), said without building the refusal's advice again (~0.5 ms a point; 10,000 batch
    # sizes across the limit took 5 s). With a latency limit a refusal may be the limit's: every point is predicted.
    memory_only = setting.get("max_ttft_s") is None and setting.get("max_tpot_s") is None
    refused: dict[tuple[int, Any, Any], tuple[float, str]] = {}
    # Static batches on the fast path: each block's steps priced at once (fast_sweep.prime, the same figures to
    # float rounding), once predict has made the setting's fast layout (its second question), then asked as before;
    # the steps are dropped when the sweep ends (fast_sweep.release), so a later predict prices its own.
    primed: list[FastLayout] = []
    try:
        primed_to = 0
        for (k, c), i, o, (n, b) in itertools.product(enumerate(chips), ins, outs, enumerate(batches)):
            if n == 0:
                primed_to = 0 if memory_only else len(batches)
            if n >= primed_to:
                primed_to = _prime(c, model, setting, i, o, batches, n, primed)
            row: dict[str, Any] = {"chip": _chip_label(c), "input_tokens_asked": i, "output_tokens_asked": o,
                                   "batch_asked": b}
            first = refused.get((k, i, o)) if memory_only and b is not None else None
            if first is not None and b > first[0]:
                row.update(fits=False, refusal=f"batch {b:,} does not fit memory: the first that does not at "
                                               f"these lengths is {first[0]:,} ({first[1]})")
                rows.append(row)
                continue
            try:
                d = predict(c, model, input_tokens=i, output_tokens=o, batch=b, **setting).to_dict()
            except DoesNotFitError as exc:
                row.update(fits=False, refusal=str(exc).split("\n", 1)[0])
                if b is not None and (first is None or b < first[0]):
                    refused[(k, i, o)] = (b, row["refusal"])
            else:
                row.update(fits=True, refusal=None)
                for key in _SKIP:
                    d.pop(key, None)
                row.update(d)
            rows.append(row)
    finally:
        for fast in primed:
            release(fast)
    return pd.DataFrame.from_records(rows, columns=_columns(rows))


def _prime(chip: Any, model: Any, setting: dict[str, Any], i: Any, o: Any, batches: list[Any], n: int,
           primed: list[FastLayout]) -> int:
    """Prime the fast layout of ``predict(chip, model, **setting)`` with the static batches ``batches[n:]`` at these
    lengths, a block of them (:func:`~inferchip.performance.fast_sweep.prime`; the layout added to ``primed``); the
    index to prime from next (two on where predict has not made its fast layout yet, the end where it never will)."""
    from inferchip.performance.fast_sweep import PRIME_BLOCK, prime


    fast = recent_fast_layout(chip, model, **setting)
    if fast is None:
        return n + 2 if n < 2 else len(batches)
    if fast.dp > 1:  # the float path prices attention-DP steps point by point
        return len(batches)
    if not primed or primed[-1] is not fast:
        primed.append(fast)
    end = min(n + PRIME_BLOCK, len(batches))
    prime(fast, ((float(b), float(i), float(o)) for b in batches[n:end] if b is not None))  # (None: most throughput)
    return end


def recent_fast_layout(chip: ChipInput | ChipParams, model: ModelInput | ModelSpec, **kw: Any) -> FastLayout | None:
    """The :class:`~inferchip.performance.fast_path.FastLayout` that ``predict(chip, model, **kw)`` answers a
    fixed-length question on, where recent calls made one (None otherwise: no call yet, fewer than the fast path
    waits for, or a setting it does not cover). ``kw``: predict's keywords other than the question's (lengths,
    batch, limits), as the calls were given them."""
    from inferchip.catalog.models import input_key
    from inferchip.performance.fast_path import FastLayout
    from inferchip.performance.predict import _RECENT, KEYED

    if kw.keys() - KEYED.keys() - {"max_ttft_s", "max_tpot_s"}:  # one predict does not take: it says so, at the point
        return None
    try:
        setting = _RECENT.get((input_key(chip), input_key(model), *(kw.get(k, d) for k, d in KEYED.items())))
    except TypeError:  # an unhashable argument: predict keeps no setting for it
        return None
    held = None if setting is None else setting.derived.get("fast")
    return held[0] if held is not None and isinstance(held[0], FastLayout) else None


def _columns(rows: list[dict[str, Any]]) -> list[str]:
    """The sweep's columns: the point, then every figure a Prediction has (NaN in a row that does not fit; where no
    point fits, the columns are there all the same), then any other key a row holds."""
    from dataclasses import fields

    from inferchip.performance.prediction import ENERGY_AND_MONEY_KEYS, Prediction

    cols = ["chip", "input_tokens_asked", "output_tokens_asked", "batch_asked", "fits", "refusal"]
    cols += [f.name for f in fields(Prediction) if f.name not in ("extra", *_SKIP)]
    cols += ["ttft_includes_queueing", "calibration", *ENERGY_AND_MONEY_KEYS]
    seen = dict.fromkeys(cols)
    for r in rows:  # (rows mostly hold the same keys: a set comparison each, not a loop over every key)
        if not r.keys() <= seen.keys():
            seen.update(dict.fromkeys(r))
    return list(seen)


def _checked_point(name: str, v: object) -> None:
    """One value of a swept length or batch (or a curve's lengths and requests per user): a finite number above 0,
    whole for a batch and requests per user (``ic.predict``'s rule), named here so that a bad one stops the call
    before it starts, not at its row."""
    from numbers import Real

    from inferchip.errors import named, positive

    if v is None or isinstance(v, bool) or not isinstance(v, Real):  # positive() lets None (not given) pass
        raise InvalidSettingError(f"{named(name)} must be a number, got {v!r} ({type(v).__name__}); allowed: a finite "
                                  "number above 0")
    positive(name, cast(float, v))  # (a Real: 10**400 is refused there, not overflowed here)
    if name in ("batch", "requests_per_user") and not v % 1 == 0:
        raise InvalidSettingError(f"{named(name)} must be a whole number, got {v!r}; allowed: 1, 2, 3, ...")


def chip_cost(chip: ChipInput, *, estimate: str = "central", assumptions: str | None = None) -> ChipCost:
    """``inferchip cost``'s answer as a record: dies per wafer, yield, wafer, HBM and packaging cost against the
    chip's price (``ChipCost``; ``.to_dict()``). ``chip``: an id, a chip YAML's path or a ChipSpec; ``estimate``:
    low, central or high for estimated figures; ``assumptions``: a YAML merged over the bundled cost constants."""
    from inferchip.catalog.assumptions import load_assumptions
    from inferchip.catalog.chips import load_chip
    from inferchip.cost.chip_cost import chip_cost as cost_of
    from inferchip.performance.setting import estimate_level

    return cost_of(load_chip(chip), load_assumptions(assumptions), estimate_level(estimate))


def curve(chip: ChipInput | ChipParams | Setting, model: ModelInput | ModelSpec | None = None, *,
          concurrencies: Sequence[int] | None = None, input_tokens: int = 1024, output_tokens: int = 1024,
          requests_per_user: int = 8, seed: int = 0, chunk_tokens: int | None = None, range_ratio: float = RANGE_RATIO,
          slo_ttft_s: float | None = None, slo_tpot_s: float | None = None, slo_percentile: float | str = 99,
          **system: Any) -> CurveResult:
    """The throughput-interactivity curve of closed loops of users on one layout (``chip`` a resolved one-layout
    Setting, or chip and model with ``system``: ``count``, ``tp``, ``pp``, ``ep``, ``weights``, ... as ``ic.serve``
    takes them), scheduled as ``ic.serve`` schedules a run (the chip's running-batch cap and step budget), each
    request's lengths drawn from ``[range_ratio L, L]`` as ``ic.serve(concurrency=...)`` and ``inferchip curve`` draw
    them (``--random-range-ratio``, default 0.8; 1: every request ``input_tokens`` / ``output_tokens`` long).
    ``concurrencies``: the users of each point (None: up to the memory or the cap); ``.to_dataframe()``: one row per
    point (tokens/s per chip and per user, TTFT, TPOT). ``slo_ttft_s`` / ``slo_tpot_s`` (seconds): each point's
    ``meets_slo``, its TTFT and TPOT at ``slo_percentile`` (99, 90, 50, "p99", ... or "mean"; default 99) within
    them, and ``.slo`` the limits, statistic, rule and the point with the most tokens/s per chip among those that
    meet them, as ``inferchip curve --slo-ttft-ms/--slo-tpot-ms/--slo-percentile`` marks them
    (:func:`inferchip.sim.runs.slo.mark_points`)."""
    from dataclasses import replace

    from inferchip.errors import positive
    from inferchip.performance.serving import serving_setting, serving_step
    from inferchip.sim.load.lengths import uniform_length
    from inferchip.sim.runs.curve import throughput_interactivity_curve
    from inferchip.sim.runs.slo import checked_slo, mark_points

    stat = checked_slo(slo_ttft_s, slo_tpot_s, slo_percentile)
    for name, v in (("input_tokens", input_tokens), ("output_tokens", output_tokens),
                    ("requests_per_user", requests_per_user), ("range_ratio", range_ratio)):
        _checked_point(name, v)
    if concurrencies is not None:
        given = _vector("concurrencies", concurrencies)  # one number is a list of one (1e12 was a raw TypeError)
        for c in given:
            positive("concurrencies", c)
            if isinstance(c, bool) or not float(c) % 1 == 0:
                raise InvalidSettingError(f"concurrencies: {c!r} is no whole number of users; allowed: 1, 2, 3, ...")
        concurrencies = [int(c) for c in given]
    setting = serving_setting(chip, model, **system)
    setting.model.check_context(input_tokens + output_tokens,
                                f"input_tokens {input_tokens:,} + output_tokens {output_tokens:,}")
    caps = setting.caps  # the engine's where the setting names one (engine=), as ic.serve runs it
    setting = setting.with_chunk(chunk_tokens)  # its padding the Setting's, as ic.serve runs it
    step, replicas = serving_step(setting)
    # its largest point's run, bounded as every run is (None: the default sweep ends at the running-batch cap)
    users = max(concurrencies) if concurrencies else caps.max_num_seqs * step.ranks * replicas
    if requests_per_user * users > MAX_REQUESTS:  # 10**6 requests per user ran on without end
        raise InvalidSettingError(f"requests_per_user {requests_per_user:,} x {users:,} users: above the simulator's "
                                  f"cap of {MAX_REQUESTS:,} requests per run; allowed: a product within it")
    ins, outs = (uniform_length(n, float(range_ratio)) for n in (input_tokens, output_tokens))
    host = None if setting.engine is None else setting.engine.host(input_tokens, setting.formats.weights)
    cur = throughput_interactivity_curve(step, ins, outs, concurrencies=concurrencies,
                                         requests_per_user=int(requests_per_user), seed=seed, replicas=replicas,
                                         scheduler_config=setting.scheduler(step.ranks),
                                         request_host_s=0.0 if host is None else host.outside_loop_s)
    return replace(cur, slo=mark_points(cur.points, slo_ttft_s, slo_tpot_s, stat))


def find_count(chip: ChipInput | ChipParams, model: ModelInput | ModelSpec | None = None, *,
               slo_ttft_s: float | None = None, slo_tpot_s: float | None = None, slo_percentile: float | str = 99,
               count: int = 1, **serve_args: Any) -> dict[str, Any]:
    """``inferchip serve --find-count`` as a call: the fewest chips whose ``ic.serve`` run of the load meets the SLO,
    its TTFT and TPOT at ``slo_percentile`` (99, 90, 50, "p99", ... or "mean"; default 99) within ``slo_ttft_s`` /
    ``slo_tpot_s`` (seconds; at least one). ``serve_args``: ``ic.serve``'s (``rate_per_s`` or ``concurrency``,
    lengths, ``num_requests``, ``seed``, ``tp``, ``pp``, ``ep``, ``weights``, ...), the same at every count. One
    search with the command line's (:class:`inferchip.performance.fleet.FleetQuestion`): the layout given (tp x pp
    chips a replica, ``ic.serve``'s 1 where one of them is not given), or with none of tp/pp/ep given, at each count
    the layouts that carry the load run in order of their mean end-to-end latency until one's run meets the SLO at
    ``slo_percentile``, as ``inferchip serve --find-count`` runs them (each count run lists its ``layout_rule``). The
    count search, from ``count``: doubling until a run meets the SLO, or halving while one does, then bisecting
    (:func:`inferchip.sim.runs.slo.smallest_count`); a count the layout does not divide, or no layout of which holds
    the model, is a miss, its reason listed.

    Returns ``ic.serve``'s summary at the count found (its ``slo`` verdict met) with ``sizing``: ``count``,
    ``counts_run`` (each count run: ``meets``, ``layout``, ``saturated``, ``ttft_s_at_statistic``,
    ``tpot_s_at_statistic``, ``reason``, ``layout_rule``) and ``rule``. Every argument is checked before the first
    run, on one replica's system (a bad one raises InvalidSettingError naming it; with the layout given, a model one
    replica does not hold raises DoesNotFitError: no count of the layout holds it); no count meeting the SLO within
    4,096 times ``count`` raises InvalidSettingError too, listing the counts run."""
    import inspect
    from functools import partial
    from numbers import Integral

    from inferchip.catalog.models import api_inputs
    from inferchip.performance.fleet import FleetQuestion, served_load
    from inferchip.performance.serving import serve, serve_inputs, serving_step
    from inferchip.performance.setting import Setting, resolve_setting
    from inferchip.sim.runs.slo import checked_slo, layout_text

    stat = checked_slo(slo_ttft_s, slo_tpot_s, slo_percentile)
    if slo_ttft_s is None and slo_tpot_s is None:
        raise InvalidSettingError("find_count: no SLO to meet; allowed: slo_ttft_s and/or slo_tpot_s, in seconds")
    if isinstance(chip, Setting):
        raise InvalidSettingError("chip: a resolved Setting, whose count is fixed; allowed: a chip id, a chip YAML's "
                                  "path, a ChipSpec or a ChipParams, with the model (the layout in tp/pp/ep)")
    a = inspect.signature(serve).bind(chip, model, **serve_args)  # serve's defaults: the load every count runs
    a.apply_defaults()
    load = {k: a.arguments[k] for k in ("rate_per_s", "concurrency", "input_tokens", "output_tokens", "range_ratio",
                                        "num_requests", "duration_s", "seed")}
    system = dict(a.arguments["system"], chunk_tokens=a.arguments["chunk_tokens"])
    searched = all(system.get(k) is None for k in ("tp", "pp", "ep"))
    sizes = [1 if system.get(k) is None else system[k] for k in ("tp", "pp")]  # None: not given, as ic.serve reads it
    one = int(sizes[0]) * int(sizes[1]) if all(isinstance(x, Integral) and not isinstance(x, bool) and
                                               1 <= int(x) <= MAX_CHIPS for x in sizes) else 1  # a bad one: named below
    # every argument checked on one replica's system; a layout given is fixed, so a model that does not fit one
    # replica fits no count (DoesNotFitError, with what would make it fit); a searched one may hold it on more chips,
    # and attention DP (tp 2 or more) too: each count judges it, as the command line's search does
    check = {**system, "count": one, **({"attn_dp": None} if searched and system.get("attn_dp") else {})}
    first = serve_inputs(chip, model, **load, **check)[0]
    try:
        serving_step(first)
    except DoesNotFitError:
        if not searched:
            raise
    layout = None if searched else {k: system.get(k, 1) if k != "attn_dp" else system.get(k, False)
                                    for k in ("tp", "pp", "ep", "attn_dp")}
    attn_dp = system.get("attn_dp")
    rest = {k: v for k, v in system.items() if k not in ("tp", "pp", "ep", "attn_dp", "chip_spec", "config")}
    if model is None:
        raise InternalError("serve_inputs refuses a chip id without its model")
    c, m, spec, config = api_inputs(chip, model, system.get("chip_spec"), system.get("config"),
                                    system.get("estimate", "central"))
    served = served_load(load["input_tokens"], load["output_tokens"], concurrency=load["concurrency"],
                         rate_per_s=load["rate_per_s"], running_cap=first.caps.max_num_seqs)

    def simulate(setting: Setting) -> dict[str, Any]:
        return serve(setting, slo_ttft_s=slo_ttft_s, slo_tpot_s=slo_tpot_s, slo_percentile=stat, **load)

    def judged(summary: dict[str, Any]) -> dict[str, Any]:
        verdict = summary["slo"]
        return {"meets": verdict["meets"], "saturated": summary["saturated"],
                "layout": layout_text(summary["tp"], summary["pp"], summary["ep"], summary["attn_dp"],
                                      summary["num_replicas"]),
                "ttft_s_at_statistic": verdict["ttft_s_at_statistic"],
                "tpot_s_at_statistic": verdict["tpot_s_at_statistic"]}

    question = FleetQuestion(partial(resolve_setting, c, m, chip_spec=spec, config=config, **rest), layout, served,
                             simulate, lambda summary: bool(summary["slo"]["meets"]), stat, attn_dp_given=attn_dp)
    _, sizing = question.smallest(count, judged, option="find_count", start_option="count")
    best, _ = sizing.pop("run")
    return {**best, "sizing": sizing}


def drive(chip: ChipInput, cameras: int, fps: float, models: Sequence[str] | None = None, *, count: int = 1,
          weights: str = "int8", deadline_ms: float | None = None, power_budget_w: float | None = None,
          duration_s: float = 60.0, seed: int = 0, batching: str = "tick", max_batch: int | None = None,
          phase_spread: float = 0.1) -> dict[str, Any]:
    """``inferchip drive --format json`` as a call: ``cameras`` cameras at ``fps`` frames/s through ``models``
    (vision network ids or ONNX paths, ``@camera`` / ``@rig``; default BEVFormer-tiny over the rig) on ``count``
    chips at the number format ``weights``, the options named as ``ic.predict``'s and the keys as the JSON's
    (``chip_id``, ``num_chips``, ``weights``). At the rig's rate: ``average_power_w``, ``energy_per_frame_j`` (per
    camera frame) and ``rig_energy_per_cycle_j`` (a frame of every camera) = the networks'
    ``networks[i]["energy_per_cycle_j"]`` + ``idle_energy_per_cycle_j`` (:mod:`inferchip.sim.vision.rig_energy`).
    A bad argument raises InvalidSettingError naming it."""
    from inferchip.interfaces.cmd_drive import JSON_KEYS
    from inferchip.performance.vision_drive import drive as simulate
    from inferchip.spec.formats import check_format

    check_format(weights, "weights")  # named as this call's keyword (the layer's is precision=)
    r = simulate(chip if isinstance(chip, ChipSpec) else str(chip), cameras, fps, models, chips=count,
                 precision=weights, deadline_ms=deadline_ms, power_budget_w=power_budget_w, duration_s=duration_s,
                 seed=seed, batching=batching, max_batch=max_batch, phase_spread=phase_spread)
    return {JSON_KEYS.get(k, k): v for k, v in r.items()}
