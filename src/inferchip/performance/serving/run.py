"""A serving run's entry points: the setting a run simulates (:func:`serving_setting`), its step model and replicas
(:func:`serving_model`, :func:`serving_step`), its money (:func:`serving_economics`) and the run itself (:func:`serve`);
the step model they build is :mod:`.step_model`'s."""

from __future__ import annotations

import inspect
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

from inferchip.catalog.models import api_inputs
from inferchip.errors import InvalidSettingError, named, positive, unexpected_keyword
from inferchip.performance.setting import Setting, estimate_level, resolve_setting
from inferchip.spec.assumptions import Assumptions
from inferchip.spec.calibration import Calibration
from inferchip.spec.chip import ChipParams, ChipSpec
from inferchip.spec.engine.padding import PaddingLadder
from inferchip.spec.model import ModelSpec

if TYPE_CHECKING:
    from inferchip.catalog.chips import ChipInput
    from inferchip.catalog.models import ModelInput

from inferchip.performance.serving.step_model import ServingStepModel, step_energy_model


def serving_model(chip: ChipInput | ChipParams | Setting, model: ModelInput | ModelSpec | None = None, *,
                  count: int = 1, tp: int = 1, pp: int = 1, ep: int = 1, weights: str | None = None,
                  activations: str | None = None,
                  kv: str | None = None, calibration: Calibration | str | None = None, estimate: str = "central",
                  attn_dp: bool = False, assumptions: str | Assumptions | None = None,
                  chip_spec: ChipSpec | None = None, chunk_tokens: int | None = None,
                  padding: PaddingLadder | Literal["engine"] | None = "engine") -> tuple[ServingStepModel, int]:
    """(step model of one replica, number of replicas) for a system of ``count`` chips.

    ``chip`` may be a resolved :class:`~inferchip.performance.setting.Setting` with one layout
    (the other arguments are then ignored); else the arguments are resolved by
    :func:`~inferchip.performance.setting.resolve_setting` with the layout fixed at
    ``tp``/``pp``/``ep``. ``assumptions``: a path overriding the energy/money constants (None:
    the bundled file). ``chip_spec``: the chip's full spec (memory type, node, price) when
    ``chip`` is a ChipParams. ``attn_dp``: attention data-parallel over the tp chips (MLA/MoE
    models, ``mapping.layout``). ``chunk_tokens``: the prefill step budget per chip (None: resolve_setting's default,
    the default engine's on the chip). ``padding``: the compiled step shapes (resolve_setting's: ``"engine"``, the
    default engine's back end's on the chip; None: unpadded).
    """
    return serving_step(chip if isinstance(chip, Setting) else serving_setting(  # (a Setting's: these are defaults)
        chip, model, count=count, tp=tp, pp=pp, ep=ep, weights=weights, activations=activations, kv=kv,
        calibration=calibration, estimate=estimate, attn_dp=attn_dp, assumptions=assumptions, chip_spec=chip_spec,
        chunk_tokens=chunk_tokens, padding=padding))


def serving_setting(chip: ChipInput | ChipParams | Setting, model: ModelInput | ModelSpec | None = None, **system: Any
                    ) -> Setting:
    """The setting :func:`serving_model` simulates: ``chip`` itself where it is a Setting (a model or ``system``
    given with it is refused: they were dropped unread, so ``ic.serve(s, count=8)`` ran the Setting's count), else
    :func:`~inferchip.performance.setting.resolve_setting` of the arguments (``system``: as
    :func:`serving_model` takes them) with the layout fixed."""
    if isinstance(chip, Setting):
        if model is not None or system:  # (an unknown keyword: a TypeError, as with a chip id)
            check_system_names(system)
            given = ", ".join(f"{k}=" for k in [*(["model"] if model is not None else []), *system])
            raise InvalidSettingError(f"{given} given with a resolved Setting as the chip, whose model and system are "
                                      "fixed; allowed: them in ic.resolve_setting, or a chip id with them here")
        return chip
    if model is None:
        raise InvalidSettingError("model: none given; allowed: a model id, a config.json's path, a ModelSpec or a "
                                  "config dict (or a resolved Setting as the chip)")
    check_system_names(system)
    chip, model, spec, config = api_inputs(chip, model, system.pop("chip_spec", None), system.pop("config", None),
                                           system.get("estimate", "central"))
    return resolve_setting(chip, model, **{"tp": 1, "pp": 1, "ep": 1, "attn_dp": False, **system, "chip_spec": spec,
                                           "config": config})


OLD_NAMES = {"precision": "weights", "chips": "count"}  # ic.frame_cost's names to stop 50: suggested by the new


def check_system_names(system: dict[str, Any], own: Sequence[str] | None = None) -> None:
    """A keyword the system does not take raises TypeError naming it, the closest allowed name (``rate`` ->
    ``rate_per_s``; an old name by its new one, ``precision`` -> ``weights``) and every allowed one: ``own``, the
    calling function's other keywords (None: ``ic.serve``'s, its load and SLO; ``ic.curve``'s take
    ``concurrencies``, which its message named ``concurrency``), then the system's. An unknown one was a TypeError
    naming resolve_setting, which the caller never called, or reached the load's checks first."""
    known = [k for k in inspect.signature(resolve_setting).parameters if k not in ("chip", "model")]
    for name in system:
        if name not in known:
            mine = [k for k, p in inspect.signature(serve).parameters.items() if p.kind is p.KEYWORD_ONLY
                    and k not in known] if own is None else [k for k in own if k not in known]
            raise unexpected_keyword(name, [*mine, *known, *OLD_NAMES],
                                     f"{', '.join(mine)}, and the system's {', '.join(known)}", renamed=OLD_NAMES)


def format_fields(setting: Setting) -> dict[str, str]:
    """The formats a serving run uses and where each came from (``Setting.weights_source``: the ``--weights``
    given, else the checkpoint's quantization_config or torch_dtype; ``activations_source``, ``kv_source``:
    ``mapping.format_defaults.format_sources``), as its summary reports them."""
    f = setting.formats
    return {"weights": f.weights, "activations": f.activations, "kv": f.kv, "weights_source": setting.weights_source,
            "activations_source": setting.activations_source, "kv_source": setting.kv_source}


def serving_step(setting: Setting) -> tuple[ServingStepModel, int]:
    """(step model of one replica, number of replicas) of a setting with one layout.

    The step model carries the layout's attention-DP ranks (``ServingStepModel.ranks`` =
    ``Layout.attn_dp_ways``, 1 without attention DP), resolved here once: the simulated replica
    places each prefill chunk whole on one rank and prices the step at its busiest rank, as the
    page's server rows (``validation.server.ReplicaSim``) and the closed-loop rows do; the
    scheduler's budgets are per rank too (:func:`inferchip.sim.batching.scheduler.rank_scheduler`, which the
    simulator applies when no scheduler is given)."""
    if not setting.layout_given or len(setting.layouts) != 1:
        raise InvalidSettingError(f"the serving simulator needs one layout: give {named('tp')}/{named('pp')}/"
                                  f"{named('ep')}")
    lay = setting.layout
    mm = setting.mapped(lay)
    step = ServingStepModel(mm, step_energy_model(setting.chip, setting.chip_spec, setting.assumptions),
                            ranks=lay.attn_dp_ways)
    if step.kv_capacity_tokens < 1:
        from inferchip.performance.mapped import fit_error

        raise fit_error(mm, 1, 1, 0, setting.count)
    return step, lay.replicas


def serving_economics(step: ServingStepModel, figures: dict[str, Any], num_chips: int,
                      level: str = "central") -> dict[str, Any]:
    """Money of a simulated run (or curve point): $/h per chip, $ per million output tokens, tokens/s per $ capex.

    ``figures`` holds ``output_tokens_per_s_per_chip`` and ``power_w_per_chip`` (a
    :meth:`SimResult.summary` or a curve point). Returns the chip's price and its source
    too; every figure is None where the chip has no TDP or neither a price nor a silicon cost.
    """
    from inferchip.cost.economics import chip_money, device_money, money_per_token

    empty: dict[str, Any] = {"chip_price_usd": None, "chip_price_source": "unknown",
                             "tco_usd_per_hour_per_chip": None, "usd_per_million_tokens": None,
                             "output_tokens_per_s_per_usd_capex": None}
    power = figures.get("power_w_per_chip")
    tput = figures.get("output_tokens_per_s_per_chip")
    if step.energy is None or power is None or tput is None or not (math.isfinite(power) and math.isfinite(tput)):
        return empty
    # a package's price shared by its runtime devices, as predict's (Setting.money): the figures are per device
    money = device_money(chip_money(step.energy.spec, step.energy.assumptions, estimate_level(level)),
                         step.mm.chip.devices_per_package)
    out = {**empty, "chip_price_usd": money.price_usd, "chip_price_source": money.price_source}
    out.update(money_per_token(tput, power, money, num_chips, step.energy.assumptions,
                               system="server" if step.energy.spec is None else step.energy.spec.system,
                               devices_per_package=step.mm.chip.devices_per_package))
    return out


def serve(chip: ChipInput | ChipParams | Setting, model: ModelInput | ModelSpec | None = None, *,
          rate_per_s: float | None = None, concurrency: int | None = None, input_tokens: int = 1024,
          output_tokens: int = 1024,
          num_requests: int | None = None, duration_s: float | None = None, seed: int = 0, range_ratio: float = 0.8,
          slo_ttft_s: float | None = None, slo_tpot_s: float | None = None, slo_percentile: float | str = 99,
          chunk_tokens: int | None = None, warmups: int = 0, **system: Any) -> dict[str, Any]:
    """Simulate serving a load on a system: continuous batching, chunked prefill, paged KV cache.

    ``chip``/``model`` and ``system`` (``count``, ``tp``, ``pp``, ``ep``, ``weights``, ...) as
    :func:`serving_model`, or ``chip`` a resolved one-layout Setting. The load is Poisson arrivals
    at ``rate_per_s`` (requests/s), each request ``input_tokens`` in and ``output_tokens`` out, or the closed
    loop of a serving benchmark with ``concurrency`` clients, lengths drawn from ``[range_ratio L, L]``
    (:func:`~inferchip.sim.load.arrivals.benchmark_clients`; more clients than the engine admits wait in its queue);
    the run lasts ``num_requests`` requests (1000
    when neither it nor ``duration_s``, in seconds, is given). SLOs are in seconds: goodput and SLO attainment count
    each request against them (vLLM's ``--goodput``), and the summary's ``slo`` (None without them) says whether the
    run meets them at ``slo_percentile`` (99, 90, 50, "p99", ... or "mean"; default 99, as MLPerf's Server scenario
    and ``inferchip serve --slo-percentile``): the limits, the statistic, the rule, ``meets`` and the run's
    ``ttft_s_at_statistic`` / ``tpot_s_at_statistic`` (:func:`inferchip.sim.runs.slo.judge_run`, the CLI's verdict).
    ``warmups`` (``serve --warmups``): the first that many requests sent run unread by the percentiles, SLO attainment
    and verdict (``warmup_requests``, ``percentile_requests`` count both); 0, the default, reads every request.

    Lengths default as ``inferchip serve``'s do (1,024 tokens in and out; this function said 256 out), and so does the
    scheduler: the running-batch cap and step budget per attention-DP rank that ``inferchip serve`` without
    ``--engine`` runs on the chip (:func:`~inferchip.sim.batching.scheduler.run_caps`: the default engine record's
    device rule, a back end's own defaults on TPU / Gaudi / Neuron, or the vendor stack's), said in the summary's
    ``running_batch_cap`` and ``running_batch_cap_source``; ``chunk_tokens`` (None: the Setting's, by default that
    budget: :func:`~inferchip.performance.setting.resolve_setting`) sets the step budget, which the memory fit keeps a
    step's activations for; ``step_padding``: the
    compiled step shapes the back end pads each step to, the Setting's (``Setting.padding``: by default vLLM's TPU and
    Gaudi back ends', at that step budget; None elsewhere), in words.
    ``engine``/``moe_kernel`` (in ``system``): a serving engine as ``inferchip serve --engine`` runs it
    (:func:`~inferchip.performance.setting.resolve_setting`): its cap, step budget, intake and host time per request,
    said in the summary's ``engine`` (None without one).
    Returns the run's summary (``SimResult.summary``) with what was simulated, as ``inferchip serve``'s JSON names it
    (``chip_id``, ``model_id``, the layout ``tp``, ``pp``, ``ep``, ``attn_dp`` and ``num_replicas``), the formats
    (``weights``, ``activations``, ``kv``) and ``weights_source`` (:func:`format_fields`): latencies in seconds
    (``ttft_s_p50``, ``tpot_s_mean``, ...), ``output_tokens_per_s`` (whole system) and per chip, and where the chip
    publishes a TDP ``power_w_per_chip`` (W), tokens per joule and the money figures. An open loop's summary states
    the most requests/s the system completes (``capacity_requests_per_s`` and its terms,
    :mod:`inferchip.performance.serving.capacity`) and ``over_capacity``: an offered rate above it / 0.95 is
    ``saturated``, whatever the run's length (None and False in a closed loop).
    """
    from inferchip.performance.serving.capacity import capacity_bound, with_capacity
    from inferchip.sim.runs.search import simulate_client
    from inferchip.sim.runs.simulate import checked_warmups, unread_warmups
    from inferchip.sim.runs.slo import checked_slo, judge_run

    stat = checked_slo(slo_ttft_s, slo_tpot_s, slo_percentile)
    setting, arr, num_requests = serve_inputs(chip, model, rate_per_s, concurrency, input_tokens, output_tokens,
                                              range_ratio, num_requests, duration_s, seed, **system)
    caps = setting.caps  # as `inferchip serve` (with --engine where the setting names one), resolved once
    # None: the setting's chunk (resolve_setting's default: caps.chunk_tokens); its padding is the setting's, the
    # engine's back end's at that step budget unless the setting was resolved with another
    setting = setting.with_chunk(chunk_tokens)
    padding, served = setting.padding, setting.engine
    step, replicas = serving_step(setting)
    warmups = checked_warmups(warmups, num_requests, "warmups")  # named as this call takes it
    # the engine's host time in each request's TTFT and E2E, as a client times it (inferchip serve --engine's)
    host = None if served is None else served.host(input_tokens, setting.formats.weights)
    config = setting.scheduler(step.ranks)
    res = simulate_client(step, arr, 0.0 if host is None else host.outside_loop_s, duration_s=duration_s,
                          num_requests=num_requests, seed=seed, replicas=replicas, scheduler_config=config,
                          slo_ttft_s=slo_ttft_s, slo_tpot_s=slo_tpot_s)
    res = unread_warmups(res, warmups, "warmups")
    lay = setting.layout
    # an open loop offered more than the system completes is saturated, whatever its length (.capacity)
    bound = None if rate_per_s is None else capacity_bound(step, replicas, config, input_tokens, output_tokens,
                                                                    input_tokens)
    summary = {**with_capacity(res.summary(), rate_per_s, bound), **format_fields(setting),
               "chip_id": setting.chip.id, "model_id": setting.model.id,
               "tp": lay.tp, "pp": lay.pp, "ep": lay.ep, "attn_dp": bool(lay.attn_dp),
               "running_batch_cap": caps.max_num_seqs, "running_batch_cap_source": caps.reason,
               "prefill_chunk_tokens": setting.chunk_tokens, "step_padding": None if padding is None else padding.text,
               "engine": None if served is None else served.summary(setting.chunk_tokens, host=host, caps=caps)}
    if "power_w_per_chip" in summary:
        estimate = chip.estimate if isinstance(chip, Setting) else system.get("estimate", "central")
        summary.update(serving_economics(step, summary, res.num_chips, estimate))
    summary["slo"] = judge_run(summary, slo_ttft_s, slo_tpot_s, stat)  # the run at the SLO's percentile
    return summary


def serve_inputs(chip: ChipInput | ChipParams | Setting, model: ModelInput | ModelSpec | None,
                 rate_per_s: float | None, concurrency: int | None, input_tokens: int, output_tokens: int,
                 range_ratio: float, num_requests: int | None, duration_s: float | None, seed: int,
                 **system: Any) -> tuple[Setting, Any, int | None]:
    """(the setting, the arrivals, the requests) of a :func:`serve` run, every argument checked before any system
    is simulated (``ic.find_count`` checks them once, before its search, with ``count`` the smallest its layout
    takes): one of ``rate_per_s`` and ``concurrency``, the lengths within the model's context window, the run's
    bounds (``seed``, ``num_requests``, ``duration_s``: :func:`~inferchip.sim.load.arrivals.make_source`'s)."""
    from inferchip.sim import PoissonArrivals, benchmark_clients
    from inferchip.sim.load.arrivals import make_source

    check_system_names(system)  # an unknown keyword named before the load's checks, a Setting's too
    if (rate_per_s is None) == (concurrency is None):
        raise InvalidSettingError("give exactly one of rate_per_s or concurrency")
    for name, v in (("input_tokens", input_tokens), ("output_tokens", output_tokens), ("range_ratio", range_ratio)):
        if v is None:  # a text or a None was a raw TypeError in the simulator
            raise InvalidSettingError(f"{name} must be a number, got None; allowed: a finite number above 0")
        positive(name, v)
    setting = serving_setting(chip, model, **system)
    setting.model.check_context(input_tokens + output_tokens,  # predict's and the CLI's check: 1,000,000-token
                                f"input_tokens {input_tokens:,} + output_tokens {output_tokens:,}")  # prompts ran
    if concurrency is not None:
        arr: Any = benchmark_clients(concurrency, input_tokens, output_tokens, range_ratio)
    else:
        arr = PoissonArrivals(rate_per_s=rate_per_s, input_tokens=input_tokens, output_tokens=output_tokens)
    if num_requests is None and duration_s is None:
        num_requests = 1000
    make_source(arr, duration_s, num_requests, seed)  # the run's bounds, refused before a system is simulated
    return setting, arr, num_requests
