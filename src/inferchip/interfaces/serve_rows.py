"""``serve``/``curve`` with ``--mtp`` or ``--disagg``: the closed-loop benchmark ``validate`` runs for a case row.

The options are written as the closed-loop case row they describe (:func:`closed_loop_case`: a ``-mtp-`` /
``-disagg-`` case id, the pools in the notes' words), and that row is predicted by the validator's own code
(:func:`inferchip.validation.closed_loop_rows.predict_closed_loop`): one implementation, so ``serve`` and a case
row of the same configuration give the same figures.

* ``--mtp N`` draft tokens per decode step, each accepted with ``--mtp-acceptance a`` (default: the engine
  catalogue's 0.85, DeepSeek-V3 Technical Report, arXiv 2412.19437, section 5.4.3: the second-token prediction
  is accepted 85-90 % of the time); a decode step verifies ``1 + N`` tokens per sequence and emits
  ``1 + a + ... + a^N``.
* ``--disagg PREFILL:DECODE``, each pool ``WxtpTepE[dpa]``: ``W`` workers of tensor-parallel ``T``, expert-parallel
  ``E`` (``dpa``: attention data-parallel over the worker's ``max(T, E)`` chips; ``E`` not written: 1, or ``T``
  with ``dpa``, as ``--attn-dp``'s ``--ep`` default), e.g. ``1xtp4ep4:4xtp8ep8`` is a
  case row's "4 prefill GPUs (1 worker(s), TP4/EP4, DP-attention false) + 32 decode GPUs (4 worker(s),
  TP8/EP8, DP-attention false)". The KV cache crosses the chip's scale-up link when both pools fit one scale-up
  domain, else the prefill worker's scale-out links (``closed_loop.kv_link``), unless ``--kv-link-gb-per-s`` /
  ``--kv-link-latency-us`` give the link.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

import typer
from pydantic import ValidationError

from inferchip.errors import InvalidSettingError
from inferchip.interfaces.cli_options.options import CURVE_REQUESTS_PER_CLIENT as CURVE_REQUESTS_PER_CLIENT
from inferchip.sim.load.lengths import RANGE_RATIO  # the case rows' length draw, [0.8 L, L] (InferenceMAX)
from inferchip.workload.limits import MAX_CHIPS

CURVE_CONCURRENCIES = (1, 2, 4, 8, 16, 32, 64, 128, 256)  # curve --mtp/--disagg: the points (closed-loop rows)
# a row's refusal names its columns; serve names the options they came from (longest first)
COLUMN_OPTIONS = (("column notes (decode pool)", "--disagg (decode pool)"),
                  ("column notes (prefill pool)", "--disagg (prefill pool)"), ("column notes", "--disagg"),
                  ("column num_accelerators", "--count (or the --disagg pools)"),
                  ("column concurrency", "--concurrency"), ("column input_tokens", "--input-tokens"),
                  ("column output_tokens", "--output-tokens"), ("columns tp", "--tp"), ("column tp", "--tp"),
                  ("column ep", "--ep"), ("column software", "--software"), ("the row's", "the options'"))
MAX_DRAFT_TOKENS = 8  # EngineSpec.mtp_draft_tokens' bound (spec/engine/record.py)
_POOL = re.compile(r"^(\d+)x(?:tp)?(\d+)(?:ep(\d+))?(dpa)?$", re.IGNORECASE)
DISAGG_FORM = "PREFILL:DECODE, each pool WxtpTepE with an optional dpa suffix, e.g. 1xtp4ep4:4xtp8ep8"
_CHIP_LIMIT = (f"at most {MAX_CHIPS:,} chips in the two pools together (W x tp a pool, W x max(tp, ep) with dpa): "
               "the --count limit, MAX_CHIPS in inferchip/workload/limits.py")


@dataclass(frozen=True)
class Pool:
    """One pool of a disaggregated system: ``workers`` engine instances of ``tp``/``ep`` (attention DP: ``dpa``)."""

    workers: int
    tp: int
    ep: int
    dpa: bool

    @property
    def chips_per_worker(self) -> int:
        return max(self.tp, self.ep) if self.dpa else self.tp

    @property
    def chips(self) -> int:
        return self.workers * self.chips_per_worker

    def notes_text(self, role: str) -> str:
        """The pool as a case row's notes state it (``closed_loop_facts._POOLS``)."""
        return (f"{self.chips} {role} GPUs ({self.workers} worker(s), TP{self.tp}/EP{self.ep}, "
                f"DP-attention {str(self.dpa).lower()})")

    def id_text(self, role: str) -> str:
        return f"{role[0]}{self.chips}x{self.tp}e{self.ep}{'dpa' if self.dpa else ''}"


def _bad(option: str, value: Any, allowed: str) -> typer.BadParameter:
    return typer.BadParameter(f"{value!r}; allowed: {allowed}", param_hint=f"'{option}'")


def parse_disagg(value: str | None) -> tuple[Pool, Pool] | None:
    """``--disagg PREFILL:DECODE`` (module doc) as (prefill pool, decode pool); a bad form is one error naming it."""
    if value is None:
        return None
    parts = value.strip().split(":")
    if len(parts) != 2:
        raise _bad("--disagg", value, DISAGG_FORM)
    pools = []
    for role, text in zip(("prefill", "decode"), parts, strict=True):
        m = _POOL.match(text.strip())
        if m is None:
            raise _bad("--disagg", value, f"{DISAGG_FORM} (the {role} pool {text!r} is not WxtpTepE)")
        # an ep not written: 1, or the tp under dpa, as --attn-dp's --ep default (predict, serve and curve alike)
        w, tp = int(m.group(1)), int(m.group(2))
        ep = int(m.group(3)) if m.group(3) else tp if m.group(4) else 1
        if min(w, tp, ep) < 1:
            raise _bad("--disagg", value, f"{DISAGG_FORM}, workers, tp and ep whole numbers from 1 "
                                          f"(the {role} pool {text!r})")
        if not m.group(4) and tp % ep:
            raise _bad("--disagg", value, f"{DISAGG_FORM}; without dpa ep divides tp (the {role} pool {text!r})")
        if w * max(tp, ep) > MAX_CHIPS:
            raise _bad("--disagg", value, _CHIP_LIMIT + f" (the {role} pool {text!r} alone holds "
                                          f"{w * max(tp, ep):,})")
        pools.append(Pool(w, tp, ep, bool(m.group(4))))
    chips = pools[0].chips + pools[1].chips
    if chips > MAX_CHIPS:
        raise _bad("--disagg", value, _CHIP_LIMIT + f" (the pools hold {pools[0].chips:,} + {pools[1].chips:,} "
                                      f"= {chips:,})")
    return pools[0], pools[1]


def check_options(mtp: int | None, acceptance: float | None, disagg: tuple[Pool, Pool] | None,
                  link_gb_per_s: float | None, link_latency_us: float | None, *, concurrency: int | None,
                  given: dict[str, bool], range_ratio: float, software: str | None = None) -> None:
    """Refuse combinations the closed-loop row model cannot express, saying why (``software``: ``--software``)."""
    if mtp is None and acceptance is not None:
        raise InvalidSettingError("--mtp-acceptance: it is the acceptance of MTP draft tokens; give --mtp N too")
    if mtp == 0 and acceptance is not None:
        raise InvalidSettingError(f"--mtp-acceptance {acceptance:g} with --mtp 0: --mtp 0 runs no draft tokens, so "
                                  "none is accepted; allowed: drop --mtp-acceptance, or give --mtp 1 to 8")
    if disagg is None and (link_gb_per_s is not None or link_latency_us is not None):
        raise InvalidSettingError("--kv-link-gb-per-s/--kv-link-latency-us: the KV link joins the pools of "
                                  "--disagg; give --disagg too")
    if not concurrency and not math.isclose(range_ratio, RANGE_RATIO):
        raise InvalidSettingError(f"--range-ratio {range_ratio:g}: it draws the lengths of the closed loop "
                                  "(--concurrency C); --rate sends --input-tokens/--output-tokens as given and "
                                  "--trace its own lengths; allowed: drop it, or give --concurrency C")
    if mtp is None and disagg is None:
        if software is not None:
            raise InvalidSettingError(f"--software {software!r}: it names a case row's software for --mtp/--disagg; "
                                      "allowed: with --mtp N or --disagg PREFILL:DECODE, else drop it")
        return
    what = "--mtp" if disagg is None else "--disagg"
    if not concurrency:
        raise InvalidSettingError(f"{what}: runs the closed-loop benchmark of a case row; give --concurrency C "
                                  "(--rate and --trace are not modelled with it)")
    if given.get("--warmups"):  # its requests are not serve's: the first N sent are no list it runs one by one
        from inferchip.validation.closed_loop import PROMPTS_PER_CLIENT, SIM_ROUNDS

        raise InvalidSettingError(f"--warmups with {what}: the case row's closed-loop benchmark simulates at most "
                                  f"{SIM_ROUNDS} rounds of its clients standing for the {PROMPTS_PER_CLIENT} prompts "
                                  "a client it sends (its middle weighted, validation.closed_loop.num_requests), not "
                                  "the requests one by one, so it has no first N requests to leave unread; drop "
                                  "--warmups")
    for opt, was_given in given.items():
        if was_given:
            raise InvalidSettingError(f"{opt} with {what}: the closed-loop benchmark of a case row sends 10 prompts "
                                      "per client (the engine's run_length where it states one); drop " + opt)
    if not math.isclose(range_ratio, RANGE_RATIO):
        raise InvalidSettingError(f"--range-ratio {range_ratio:g} with {what}: the case rows' benchmark draws "
                                  "lengths from [0.8 L, L] (InferenceMAX RANDOM_RANGE_RATIO); allowed: 0.8")


def mtp_setting(mtp: int, engine: Any) -> tuple[dict[str, Any], list[str]]:
    """``--mtp N`` (0: off) on the closed-loop row: the JSON's ``mtp`` key and the note saying what an on/off pair
    shares and what differs. The row of ``--mtp 0`` is the row of ``--mtp N`` without its ``-mtp`` mark: the same
    engine record, launch recipe, running-batch cap, chunk and layout, each decode step verifying and emitting one
    token per sequence instead of ``1 + N`` verified and ``1 + a + ... + a^N`` emitted
    (:class:`~inferchip.validation.closed_loop.EngineReplica`, :func:`~inferchip.sim.engines.bench.mtp_output_steps`).
    ``engine``: the rows' engine record, its draft tokens and acceptance already the options'."""
    shared = ("the closed-loop row of --mtp N and of --mtp 0 share the engine, its caps and chunk, the layout "
              "(the note 'closed loop simulated' states them) and with --disagg the MTP row's launch recipe "
              "(its batch caps, as published for MTP); only the speculative terms differ: the tokens each "
              "decode step verifies (1 + N against 1) and emits per sequence (tokens/step); plain serve/curve "
              "without --mtp simulates another setup (the engine's default scheduler), so compare --mtp N with "
              "--mtp 0")
    if mtp == 0:
        return {"draft_tokens": 0, "acceptance": None, "tokens_per_step": 1.0}, [
            "--mtp 0: speculative decoding off; " + shared]
    return {"draft_tokens": mtp, "acceptance": engine.mtp_acceptance,
            "tokens_per_step": engine.mtp_tokens_per_step()}, [shared]


def memory_limit_note(kv_capacity_tokens: int, replicas: int, input_tokens: int, output_tokens: int,
                      concurrencies: list[int] | tuple[int, ...]) -> list[str]:
    """A curve's note naming its points above the memory limit the plain curve stops at
    (``sim.load.lengths.memory_limit_concurrency`` of the system's KV cache); none for one point or none above it."""
    from inferchip.sim.load.lengths import memory_limit_concurrency, uniform_length

    limit = memory_limit_concurrency(kv_capacity_tokens, replicas, uniform_length(input_tokens, RANGE_RATIO),
                                     uniform_length(output_tokens, RANGE_RATIO))
    if len(concurrencies) < 2 or max(concurrencies) <= limit:
        return []
    return [f"concurrencies above {limit:,} exceed the memory limit the plain curve stops at (replicas x KV "
            "capacity / mean request tokens); their clients queue in the row model"]


def disagg_layout_conflict(disagg: tuple[Pool, Pool] | None, count: int | None, layout_given: bool,
                           devices_per_package: int = 1) -> None:
    """Refuse a layout option beside ``--disagg``, and an explicit ``--count`` (``count``; None: not given) other
    than the pools' chips (prefill + decode), which the row is sized by; a ``--count`` equal to them is accepted.
    A pool counts GPUs as its engine does, the runtime's devices (an MI250X's GCDs, ``devices_per_package`` a
    package), and ``--count`` counts packages: the pools must fill whole packages."""
    if disagg is None:
        return
    if layout_given:
        raise InvalidSettingError("--tp/--pp/--ep/--attn-dp with --disagg: the pools give every worker's "
                                  "layout; drop them")
    chips, n = disagg[0].chips + disagg[1].chips, devices_per_package
    if chips % n:
        raise InvalidSettingError(f"--disagg: the pools hold {chips:,} runtime devices ({disagg[0].chips:,} prefill "
                                  f"+ {disagg[1].chips:,} decode), and the runtime sees each package of this chip as "
                                  f"{n} devices (the chip file's memory.runtime_devices); allowed: pools that fill "
                                  f"whole packages, a multiple of {n} devices in all")
    if count is not None and count * n != chips:
        held = f"{chips:,} chips" if n == 1 else f"{chips:,} runtime devices, {chips // n:,} package(s) of {n},"
        raise InvalidSettingError(f"--count {count} with --disagg: the pools hold {held} "
                                  f"({disagg[0].chips:,} prefill + {disagg[1].chips:,} decode); "
                                  f"allowed: --count {chips // n} or no --count")


def disagg_keys(pools: tuple[Pool, Pool] | None, kv_link: tuple[float, float] | None) -> dict[str, Any] | None:
    """The ``disagg`` block of a ``--disagg`` row's JSON: each pool's workers and layout, the KV link's rate (B/s)
    and latency (s) the validator resolved (``kv_link``); None without ``--disagg``."""
    if pools is None:
        return None
    pre, dec = pools
    return {"prefill_workers": pre.workers, "prefill_tp": pre.tp, "prefill_ep": pre.ep, "prefill_attn_dp": pre.dpa,
            "decode_workers": dec.workers, "decode_tp": dec.tp, "decode_ep": dec.ep, "decode_attn_dp": dec.dpa,
            "kv_link_bytes_per_s": None if kv_link is None else kv_link[0],
            "kv_link_latency_s": None if kv_link is None else kv_link[1]}


def package_devices(chip: str) -> int:
    """The devices the runtime sees in one package of ``chip`` (an MI250X: 2 GCDs; the chip file's
    ``memory.runtime_devices``)."""
    from inferchip.catalog.chips import get_chip_params

    return get_chip_params(chip).runtime_devices


def rows_system(chip: str, row: dict[str, Any], pools: tuple[Pool, Pool] | None) -> str:
    """The system a closed-loop row ran and its layout, as predict and serve title theirs: its ``num_chips`` are the
    runtime's devices, a package of ``runtime_devices_per_package`` of them
    (:func:`~inferchip.interfaces.cli_options.tables.system_text`); the layout :func:`rows_layout`'s."""
    from inferchip.interfaces.cli_options.tables import system_text

    n = row["runtime_devices_per_package"]
    return f"{system_text(chip, row['num_chips'] // n, n)} ({rows_layout(row, pools)})"


def closed_loop_case(chip: str, model: str, *, count: int, tp: int, pp: int, ep: int, attn_dp: bool,
                     weights: str, activations: str | None, kv: str | None, engine_id: str | None,
                     input_tokens: int, output_tokens: int, concurrency: int, mtp: bool,
                     disagg: tuple[Pool, Pool] | None, software: str | None = None) -> Any:
    """The closed-loop case row (a ``server`` row measuring mean TTFT) the options describe."""
    from inferchip.validation.cases import Case

    marks = ("-mtp" if mtp else "") + ("-dpa" if attn_dp and disagg is None else "")
    notes = ["speculative decoding: mtp" if mtp else "speculative decoding: none"]
    if disagg is not None:
        pre, dec = disagg
        marks += f"-disagg-{pre.id_text('prefill')}-{dec.id_text('decode')}"
        notes.insert(0, f"{pre.notes_text('prefill')} + {dec.notes_text('decode')}")
        count, tp, pp, ep = pre.chips + dec.chips, dec.tp, 1, dec.ep
    return Case(case_id=f"serve{marks}-{input_tokens}-{output_tokens}-c{concurrency}", source_kind="cli",
                source="inferchip serve", accelerator=chip, num_accelerators=count,
                software=software or engine_id or "",
                model=model, weight_dtype=weights, act_dtype=activations, kv_dtype=kv, tp=tp, pp=pp, ep=ep,
                scenario="server", input_tokens=float(input_tokens), output_tokens=float(output_tokens),
                concurrency=concurrency, metric="ttft_ms", value=1.0, unit="ms", notes="; ".join(notes), line=0)


def row_validator(calibration: str | None, engine_id: str | None, mtp: int | None, acceptance: float | None,
                  link_gb_per_s: float | None, link_latency_us: float | None, software: str | None = None,
                  model: Any = None) -> Any:
    """A validator predicting closed-loop rows by the simulated benchmark, with the engine's MTP draft tokens and
    acceptance replaced by the options' and the KV link by ``--kv-link-*`` where given. The engine: ``engine_id``,
    else the one ``software`` names as a row's software column does, else the catalogue's default. ``model``: the
    command's ``--model`` as read once (``cli_options.options.GivenModel``), which its rows then take instead of
    reading the model (a user's config.json) again."""
    from inferchip.catalog.calibration_file import load_calibration
    from inferchip.catalog.engines import engine_ids, get_engine, row_engine
    from inferchip.validation.validate import Validator

    eng = get_engine(engine_id) if engine_id is not None or not software else row_engine(software, "--software")
    if eng is None:
        raise InvalidSettingError(f"--software: {software!r} names no serving engine; allowed: a text naming one of "
                                  f"{', '.join(engine_ids())} (as a case row's software column)")
    if mtp:  # validated as the record's own fields are (model_copy would skip their bounds); 0: no draft tokens
        update = {"mtp_draft_tokens": mtp, **({} if acceptance is None else {"mtp_acceptance": acceptance})}
        try:
            eng = type(eng).model_validate({**eng.model_dump(), **update})
        except ValidationError as e:
            err = e.errors()[0]
            option = "--mtp-acceptance" if err["loc"][-1] == "mtp_acceptance" else "--mtp"
            raise InvalidSettingError(f"{option}: value {err['input']!r} is not allowed: {err['msg']}") from None
    link = None
    if link_gb_per_s is not None or link_latency_us is not None:
        if link_gb_per_s is None:
            raise InvalidSettingError("--kv-link-latency-us: give the link's bandwidth too (--kv-link-gb-per-s)")
        link = (link_gb_per_s * 1e9, (link_latency_us or 0.0) * 1e-6)
    v: Any = Validator(load_calibration(calibration), server_model="sim")
    v.engine_spec, v.kv_link = eng, link  # read by closed_loop_rows.predict_closed_loop (getattr: None elsewhere)
    v.recipe_mtp = None if mtp is None else True  # --mtp 0 too: the MTP row's launch recipe (mtp_setting)
    if model is not None:
        v.give_model(model.name, model.spec, model.config)
    return v


def check_row_engine(engine: Any, chip: str, option: str) -> None:
    """Refuse the rows' engine on a chip of a family its ``hardware`` record does not list, as ``--engine`` is refused
    without ``--mtp``/``--disagg`` (:func:`inferchip.catalog.engines.check_engine_runs_on`), whatever the layout:
    the rows' engine comes from ``--engine``, ``--software`` or the catalogue's default (``option`` names which)."""
    from inferchip.catalog.chips import get_chip_params
    from inferchip.catalog.engines import check_engine_runs_on

    params = get_chip_params(chip)
    check_engine_runs_on(engine, params.id, params.family, option)


def run_row(v: Any, case: Any) -> dict[str, Any]:
    """The row's simulated benchmark as ``serve``'s summary (seconds, tokens/s); a refusal raises its reason."""
    res = v.predict_case(case)
    if res.status != "ok":
        reason = res.reason.replace(f"line 0 ({case.case_id})", "the options")
        for column, option in COLUMN_OPTIONS:
            reason = reason.replace(column, option)
        raise InvalidSettingError(reason)
    sim = res.sim
    chips = case.num_accelerators
    tpot_s = sim["tpot_ms"] / 1e3
    out: dict[str, Any] = {
        "concurrency": case.concurrency, "requests": sim["requests"], "num_chips": chips,
        "ttft_s_mean": sim["ttft_ms"] / 1e3, "ttft_s_p50": sim["ttft_median_ms"] / 1e3,
        "ttft_s_p90": sim["ttft_p90_ms"] / 1e3, "ttft_s_p99": sim["ttft_p99_ms"] / 1e3, "tpot_s_mean": tpot_s,
        "tpot_s_p50": sim["tpot_median_ms"] / 1e3, "tpot_s_p90": sim["tpot_p90_ms"] / 1e3,
        "tpot_s_p99": sim["tpot_p99_ms"] / 1e3, "e2e_s_mean": sim["e2e_ms"] / 1e3,
        "output_tokens_per_s": sim["output_tokens_per_s"],
        "output_tokens_per_s_per_chip": sim["output_tokens_per_s"] / chips,
        "output_tokens_per_s_per_user": 1.0 / tpot_s if tpot_s > 0 else math.nan,
        "tokens_per_step": sim["tokens_per_step"], "engine": sim["engine"], "notes": list(res.notes)}
    if res.layout is not None:
        lay = res.layout
        out["layout"] = {"tp": lay.tp, "pp": lay.pp, "ep": lay.ep, "attn_dp": lay.attn_dp, "replicas": lay.replicas}
        if "-disagg-" not in case.case_id:  # the flat keys of serve's and curve's other answers (one system's layout)
            out.update({"tp": lay.tp, "pp": lay.pp, "ep": lay.ep, "attn_dp": lay.attn_dp,
                        "num_replicas": lay.replicas})
    return out


def rows_layout(row: dict[str, Any], pools: tuple[Pool, Pool] | None) -> str:
    """The layout a closed-loop row ran, as serve's and predict's titles name theirs: the pools of ``--disagg``,
    else the one layout (``tp=8 pp=1 ep=8 attention-DP, 1 replica(s)``)."""
    if pools is not None:
        pre, dec = pools
        return "disaggregated: prefill " + pool_text(pre) + ", decode " + pool_text(dec)
    lay = row.get("layout")
    if lay is None:
        return "layout not stated"
    return (f"tp={lay['tp']} pp={lay['pp']} ep={lay['ep']}{' attention-DP' if lay['attn_dp'] else ''}, "
            f"{lay['replicas']} replica(s)")


def pool_text(pool: Pool) -> str:
    return (f"{pool.workers} x (tp={pool.tp} ep={pool.ep}{' attention-DP' if pool.dpa else ''}, "
            f"{pool.chips_per_worker} chips)")


def no_recipe_options_with_rows(moe_kernel: str | None, chunk_tokens: int | None, mtp: int | None,
                                 disagg: str | None) -> None:
    """``--moe-kernel`` or ``--chunk-tokens`` with ``--mtp``/``--disagg``: refused, the case row's launch recipe picks
    its expert kernel and sets its chunk (serve and curve alike)."""
    if mtp is None and disagg is None:
        return
    row_option = "--mtp" if disagg is None else "--disagg"
    if moe_kernel is not None:
        raise InvalidSettingError(f"--moe-kernel {moe_kernel} with {row_option}: the case row's launch recipe picks "
                                  "its expert kernel (catalog/engines.yaml recipe_moe_kernel); drop --moe-kernel")
    if chunk_tokens is not None:
        raise InvalidSettingError(f"--chunk-tokens {chunk_tokens} with {row_option}: the case row's launch recipe "
                                  "sets its chunk (catalog/engines.yaml); drop --chunk-tokens")


def row_layouts(setting: Any) -> Any:
    """``setting`` (a searched ``performance.setting.Setting``) with only the layouts a closed-loop case row runs: a
    DP-attention worker is ``max(tp, ep)`` chips with no pipeline stages (``validation.closed_loop_facts.row_facts``),
    so a DP-attention layout with ``pp > 1`` (which ``predict`` weighs) would lose its stages in the row."""
    from dataclasses import replace

    kept = tuple(lay for lay in setting.layouts if not (lay.attn_dp and lay.pp > 1))
    if not kept:
        raise InvalidSettingError(f"{setting.model.id} on {setting.count} x {setting.chip.id}: every layout that fits "
                                  "runs attention DP over pipeline stages, which a closed-loop row (--mtp/--disagg) "
                                  "does not run; allowed: more chips, narrower weights, or give --tp/--ep")
    return replace(setting, layouts=kept, _mapped={}, sweeps={}, derived={})


def check_row_layout(pp: int | None, attn_dp: bool | None) -> None:
    """Refuse ``--pp`` above 1 with attention DP for a closed-loop row (:func:`row_layouts`), naming the option."""
    if attn_dp and (pp or 1) > 1:
        raise InvalidSettingError(f"--pp {pp} with attention DP and --mtp: a closed-loop row's DP-attention worker is "
                                  "max(tp, ep) chips with no pipeline stages (validation/closed_loop_facts.py); "
                                  "allowed: --pp 1, or --no-attn-dp")
