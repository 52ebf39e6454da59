"""``ic.curve`` and ``ic.find_count``: the throughput-interactivity curve ``ic.serve`` would simulate point by
point, and the fewest chips whose run meets an SLO."""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import TYPE_CHECKING, Any

from inferchip.catalog.chips import ChipInput
from inferchip.catalog.models import ModelInput
from inferchip.errors import DoesNotFitError, InternalError, InvalidSettingError
from inferchip.sim.load.lengths import RANGE_RATIO
from inferchip.spec.chip import ChipParams
from inferchip.spec.model import ModelSpec
from inferchip.workload.limits import MAX_CHIPS, MAX_REQUESTS

if TYPE_CHECKING:
    from inferchip.performance.setting import Setting
    from inferchip.sim.runs.curve import CurveResult
from inferchip.interfaces.api.arguments import checked_point, vector


def curve(chip: ChipInput | ChipParams | Setting, model: ModelInput | ModelSpec | None = None, *,
          concurrencies: Sequence[int] | None = None, input_tokens: int = 1024, output_tokens: int = 1024,
          requests_per_user: int = 8, seed: int = 0, chunk_tokens: int | None = None, range_ratio: float = RANGE_RATIO,
          slo_ttft_s: float | None = None, slo_tpot_s: float | None = None, slo_percentile: float | str = 99,
          warmups_per_user: int = 0, **system: Any) -> CurveResult:
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
    (:func:`inferchip.sim.runs.slo.mark_points`). ``warmups_per_user`` (``inferchip curve --warmups-per-user``):
    each point's first that many requests a user run but are not read by its percentiles (1: the first wave)."""
    import inspect
    from dataclasses import replace

    from inferchip.errors import positive
    from inferchip.performance.serving import check_system_names, serving_setting, serving_step
    from inferchip.sim.load.lengths import uniform_length
    from inferchip.sim.runs.curve import throughput_interactivity_curve
    from inferchip.sim.runs.slo import checked_slo, mark_points

    own = [k for k, p in inspect.signature(curve).parameters.items() if p.kind is p.KEYWORD_ONLY]
    check_system_names(system, own)  # named as this call takes them (concurrencies, not concurrency)
    stat = checked_slo(slo_ttft_s, slo_tpot_s, slo_percentile)
    for name, v in (("input_tokens", input_tokens), ("output_tokens", output_tokens),
                    ("requests_per_user", requests_per_user), ("range_ratio", range_ratio)):
        checked_point(name, v)
    if concurrencies is not None:
        given = vector("concurrencies", concurrencies)  # one number is a list of one (1e12 was a raw TypeError)
        for c in given:
            positive("concurrencies", c)  # (None passes it: not a number given)
            if c is None or isinstance(c, bool) or not float(c) % 1 == 0:  # [None] was a raw TypeError
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
                                         warmups_per_user=warmups_per_user,
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
    from numbers import Integral

    from inferchip.catalog.models import api_inputs
    from inferchip.performance.fleet import FleetQuestion, served_load
    from inferchip.performance.serving import serve, serve_inputs, serving_step
    from inferchip.performance.setting import Setting, resolve_setting
    from inferchip.sim.runs.simulate import checked_warmups
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
                                        "num_requests", "duration_s", "seed", "warmups")}
    system = dict(a.arguments["system"], chunk_tokens=a.arguments["chunk_tokens"])
    searched = all(system.get(k) is None for k in ("tp", "pp", "ep"))
    sizes = [1 if system.get(k) is None else system[k] for k in ("tp", "pp")]  # None: not given, as ic.serve reads it
    one = int(sizes[0]) * int(sizes[1]) if all(isinstance(x, Integral) and not isinstance(x, bool) and
                                               1 <= int(x) <= MAX_CHIPS for x in sizes) else 1  # a bad one: named below
    # every argument checked on one replica's system; a layout given is fixed, so a model that does not fit one
    # replica fits no count (DoesNotFitError, with what would make it fit); a searched one may hold it on more chips,
    # and attention DP (tp 2 or more) too: each count judges it, as the command line's search does
    check = {**system, "count": one, **({"attn_dp": None} if searched and system.get("attn_dp") is True else {})}
    first, _, requests = serve_inputs(chip, model, **{k: v for k, v in load.items() if k != "warmups"}, **check)
    checked_warmups(load["warmups"], requests, "warmups")  # before the first run, against the requests it sends
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
                "tpot_s_at_statistic": verdict["tpot_s_at_statistic"],
                **{k: verdict.get(k) for k in ("too_short", "ramp_s", "service_s_min", "ramp_s_needed", "e2e_s_p99")}}

    question = FleetQuestion(partial(resolve_setting, c, m, chip_spec=spec, config=config, **rest), layout, served,
                             simulate, lambda summary: bool(summary["slo"]["meets"]), stat, attn_dp_given=attn_dp)
    _, sizing = question.smallest(count, judged, option="find_count", start_option="count")
    best, _ = sizing.pop("run")
    return {**best, "sizing": sizing}
