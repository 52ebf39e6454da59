"""Model variants ``tools/energy/energy_fold_split.py`` can price the energy runs with (each a measurement, not the
shipped model; that tool's doc says what each is for): ``--prefill-mixture`` (:func:`mixture_step_s`, vLLM V1's
decode-only and prompt-carrying steps as a mixture), ``--moe-token-scale FORMAT=FACTOR`` (:func:`scaled_moe_work`)
and ``--layer-kernels REGEX=K`` (:func:`extra_layer_kernels`). Each ``_patch_*`` replaces one model function for the
rest of the process."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

import numpy as np


def mixture_step_s(decode_only_s: np.ndarray, with_prompt_s: np.ndarray, prompts_per_step: np.ndarray
                   ) -> np.ndarray:
    """Mean step time, s, of a closed loop that admits ``prompts_per_step`` (< 1) whole prompts per step:
    ``(1 - p) x decode-only step + p x step carrying one prompt``; at ``p >= 1`` the steps all carry
    prompts and the mixture is not used (NaN, the caller keeps its own)."""
    p = np.asarray(prompts_per_step, dtype=float)
    mixed = (1.0 - p) * np.asarray(decode_only_s, dtype=float) + p * np.asarray(with_prompt_s, dtype=float)
    out: np.ndarray = np.where(p < 1.0, mixed, np.nan)
    return out


def _patch_prefill_mixture() -> None:
    """``performance.operating.steady_state`` with its TPOT (and tokens/s) replaced by :func:`mixture_step_s`."""
    import dataclasses

    import inferchip.performance.operating as op

    plain = op.steady_state

    def mixed(mm, b, q, with_ttft, decode=None):  # type: ignore[no-untyped-def]
        met = plain(mm, b, q, with_ttft, decode)
        i, o = q.inputs, q.outputs
        e_o = max(o.mean, 1.0)
        b = np.asarray(b, dtype=float)
        ctx = i.mean + o.second_moment / (2.0 * e_o)
        t0, _ = mm.replica_step_s(b, b, b * ctx, 0.0 * b)
        t1, _ = mm.replica_step_s(b + i.mean, b, b * ctx, i.mean_prefill_pairs + 0.0 * b)
        t = mixture_step_s(t0, t1, b / e_o / q.beams)
        tpot = np.where(np.isnan(t), met.tpot_s, t)
        return dataclasses.replace(met, tpot_s=tpot, tokens_per_s_replica=b / tpot)

    op.steady_state = mixed  # type: ignore[assignment]


def parse_scales(items: Sequence[str]) -> dict[str, float]:
    """``["mxfp4=2", "fp8=1.5"]`` -> ``{"mxfp4": 2.0, "fp8": 1.5}``; ValueError naming a malformed item."""
    out: dict[str, float] = {}
    for item in items:
        fmt, sep, factor = item.partition("=")
        if not sep or not fmt.strip():
            raise ValueError(f"--moe-token-scale {item!r}: expected FORMAT=FACTOR, e.g. mxfp4=2")
        value = float(factor)
        if not math.isfinite(value) or value < 0.0:
            raise ValueError(f"--moe-token-scale {item!r}: the factor must be a finite number >= 0")
        out[fmt.strip().lower()] = value
    return out


def scaled_moe_work(cal, row: dict[str, str], scales: dict[str, float]):  # type: ignore[no-untyped-def]
    """``cal`` with its per-token MoE work times ``scales[weight format]`` for a row whose notes state vLLM's
    Triton MoE kernels (``validation.moe_kernels.states_triton_moe``); every other row's ``cal`` unchanged."""
    from inferchip.validation.moe_kernels import states_triton_moe

    factor = scales.get((row.get("weight_dtype") or "").strip().lower())
    if factor is None or not states_triton_moe(row):
        return cal
    return cal.model_copy(update={"moe_token_vector_flop": cal.moe_token_vector_flop * factor})


def _patch_moe_scales(scales: dict[str, float]) -> None:
    """``validation.moe_kernels.run_calibration`` followed by :func:`scaled_moe_work` (the energy path
    imports it at call time, so the module attribute is the one to replace)."""
    import inferchip.validation.moe_kernels as mk

    plain = mk.run_calibration

    def scaled(cal, row, closed_loop, family):  # type: ignore[no-untyped-def]
        return scaled_moe_work(plain(cal, row, closed_loop, family), row, scales)

    mk.run_calibration = scaled  # type: ignore[assignment]


def parse_layer_kernels(items: Sequence[str]) -> list[tuple[str, int]]:
    """``["235B.*FP8=4"]`` -> ``[("235B.*FP8", 4)]`` (split at the last ``=``); ValueError naming a malformed item."""
    out: list[tuple[str, int]] = []
    for item in items:
        pattern, sep, count = item.rpartition("=")
        if not sep or not pattern or not count.strip().isdigit():
            raise ValueError(f"--layer-kernels {item!r}: expected REGEX=K with K a whole number, e.g. '235B.*FP8=4'")
        out.append((re.compile(pattern).pattern, int(count)))
    return out


def extra_layer_kernels(model: str, specs: Sequence[tuple[str, int]]) -> int:
    """Kernels added to every layer of a run of ``model``: the sum of K over the specs whose REGEX it matches."""
    return sum(k for pattern, k in specs if re.search(pattern, model))


def _patch_layer_kernels(specs: Sequence[tuple[str, int]]) -> None:
    """``mapping.sharding.layer_small_kernels`` plus :func:`extra_layer_kernels` of the run that
    ``energy.rows.predict_energy_run`` is pricing (0 outside it)."""
    import inferchip.mapping.sharding as sh
    from inferchip.validation.energy import rows as er

    current, plain_kernels, plain_run = {"k": 0}, sh.layer_small_kernels, er.predict_energy_run

    def kernels(m, group):  # type: ignore[no-untyped-def]
        return plain_kernels(m, group) + current["k"]

    def run(row, *a, **kw):  # type: ignore[no-untyped-def]
        current["k"] = extra_layer_kernels(row.get("model", ""), specs)
        try:
            return plain_run(row, *a, **kw)
        finally:
            current["k"] = 0

    sh.layer_small_kernels, er.predict_energy_run = kernels, run  # type: ignore[assignment]
