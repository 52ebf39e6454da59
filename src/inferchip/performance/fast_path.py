"""``predict``'s fast path: one question on a setting of one layout, in plain floats.

:func:`~inferchip.performance.predict.predict_setting` answers through
:func:`~inferchip.performance.predict.best_layout`, ``operating_point`` and the phase
metrics, each general (length spreads, many layouts, arrays of points). For the common
question (fixed lengths, one layout, no latency limits) this module does the same
operations, in the same order, on floats: what depends only on the setting and layout
(the compiled step, free memory, KV bytes per token, the chip's economy) is read once into
a :class:`FastLayout` kept with the setting, and a question costs two compiled steps
(:mod:`inferchip.cost.scalar_step`) plus, for the most throughput, one vectorised sweep
of the decode step time over the concurrency grid. The answers equal the general path's to
float rounding (``tests/test_fast_path.py``); questions it does not cover (latency limits,
several layouts, chips given as arrays, attention data parallelism for the sweep) go the
general way.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from inferchip.cost.roofline import FloatArray
from inferchip.cost.step import StepPlan, cached_step_plan, replica_point, step_points
from inferchip.errors import InferchipError
from inferchip.performance.fast_compiled import StepTuple, breakdown_function, power_function
from inferchip.performance.fast_sweep import StaticSteps, SweepParts, decode_times, sweep_parts
from inferchip.performance.operating import BATCH_GRID
from inferchip.performance.prediction import Prediction
from inferchip.performance.setting import Setting

if TYPE_CHECKING:  # cost.economics is imported where a setting is priced
    from inferchip.cost.economics import ChipEconomy, ChipMoney

_GRID = [float(x) for x in BATCH_GRID]
DOES_NOT_FIT = "does not fit"  # what the fast path answers where the general one raises DoesNotFitError
Deferred = tuple[Callable[[dict[str, Any], StepTuple, StepTuple, float | None, bool, float], None], StepTuple,
                 StepTuple, float | None, bool, float]  # FastLayout._fill and its arguments, called when read


def throttle_note(tdp_w: float, prefill: bool, decode: bool, static: bool, stretch: float = math.nan) -> str:
    """The note of steps stretched to hold the TDP, naming which ones and by how much (``stretch``: the most
    stretched step's throttled time over its unthrottled time) and the field that sets it: a TDP typed in kW
    (``power.tdp_w: 0.7``) stretched an H100's steps 210 times under a note that said neither. In a static batch
    the power shown is the mean over its prefill and decode steps, so a throttled prefill sits beside a mean power
    far below the TDP."""
    by = f" {stretch:,.3g} times" if math.isfinite(stretch) else ""
    field = " (the chip's power.tdp_w)" if not math.isfinite(stretch) or stretch < 3 else \
        " (the chip's power.tdp_w, in W: is it typed in kW?)"
    if not static:
        return f"power would exceed the {tdp_w:,g} W TDP{field}: clocks throttle and the steps stretch{by}"
    which = "prefill and decode steps" if prefill and decode else ("prefill steps" if prefill else "decode steps")
    return (f"the {which} would draw more than the {tdp_w:,g} W TDP{field}: clocks throttle and those steps "
            f"stretch{by} (the power shown is the mean over the batch's prefill and decode)")


class FastLayout:
    """What a question on one (setting, layout) needs that does not depend on the question."""

    def __init__(self, setting: Setting, plan: StepPlan) -> None:
        s = setting
        lay = s.layout
        mm = s.mapped(lay)
        self.setting, self.layout, self.mm, self.plan = s, lay, mm, plan
        if plan.scalar is None:
            raise ValueError("FastLayout: the step plan has no scalar form (fast_layout makes none then)")
        self.scalar = plan.scalar  # its ``step``: compiled once called often enough (ScalarPlan)
        self.dp, self.pp, self.replicas = mm.sm.dp_attention, lay.pp, lay.replicas
        self.chunk_tokens, self.replica_chunk_tokens = mm.chunk_tokens, mm.replica_chunk_tokens
        self.free_bytes = float(mm.free_bytes())
        self.kv_terms = tuple((layer.count * layer.kv_elements_per_token, layer.window) for layer in mm.sm.layers)
        self.kv_bytes = mm.formats.kv_bytes
        widest = max(max(g.n for g in layer.gemms) for layer in mm.sm.layers)
        self.act_per_token = (4 * mm.sm.hidden + 2 * widest) * mm.formats.act_bytes  # memory_fit.activation_bytes
        self.act_logits = mm.sm.lm_head.n * 4.0
        self.chunk_act = float(mm.chunk_activation_bytes())
        self.kv_activations = float(mm.static_memory_fraction is None)  # MappedModel._kv_activation_bytes: 0 or 1
        self.budget = mm.budget_bytes
        self.weights, self.reserve = mm.weights_bytes, mm.reserve_bytes
        self.capacity = s.chip.memory_capacity_bytes
        self.class_names, self.flop_formats = plan.class_names, plan.flop_formats
        self._breakdown = breakdown_function(self.class_names)
        self.calibration = "fitted" if s.calibration.fitted else "defaults"
        fmt = s.formats
        self.head = (s.chip.id, s.model.id, lay.tp, lay.pp, lay.ep, fmt.weights, fmt.activations, fmt.kv,
                     s.compute_format, s.weights_source, s.activations_source, s.kv_source, s.chip.devices_per_package)
        self.priced = math.isfinite(float(s.chip.tdp_w))
        notes = [] if s.chip_spec is not None else ["no chip spec given: energy assumes a 7 nm node and HBM3 memory"]
        self.economy: ChipEconomy | None = None
        self.money: ChipMoney | None = None
        if not self.priced:
            notes.append(f"{s.chip.id}: no TDP published: power, energy and TCO are unavailable")
        else:
            self.economy, self.money = s.economy, s.money
        self.notes = tuple(notes)
        self.format_notes = tuple(s.notes)  # the setting's (format fallbacks, the chip's)
        self.num_chips = lay.num_chips
        n = 1 + 5 * len(self.class_names)
        self.flop_at, self.flop_end = n, n + len(self.flop_formats)  # FLOP by format in ScalarPlan.step's tuple
        if self.economy is not None and self.money is not None:  # both where priced
            self.flop_j = [self.economy.units.flop_j(f) for f in self.flop_formats]
            self.tdp_w = float(s.chip.tdp_w)
            self.money_notes = tuple(self.money.notes)
            self.money_fields = {"chip_price_usd": self.money.price_usd, "chip_price_source": self.money.price_source,
                                 "manufacturing_cost_usd": self.money.manufacturing_cost_usd}
            self.power = power_function(self.economy, self.flop_j, self.flop_at, self.flop_end)
            self.notes_priced = (*self.format_notes, *self.notes, *self.money_notes)
        self.notes_all = (*self.format_notes, *self.notes)
        # Static prefill steps by their point: a loop over output lengths (or anything but the prompt
        # length and the batch) prefills the same prompts again; the step is a pure function of the point.
        self.prefills: dict[tuple[float, ...], tuple[float, ...]] = {}
        # A sweep's steps priced on arrays by their point (fast_sweep.prime; a prefill point's decode rows are 0, a
        # decode point's never), held while the sweep runs: a later question prices its steps as before.
        self.primed: dict[tuple[float, ...], tuple[float, ...]] = {}

    def _throttled_notes(self, prefill: bool, decode: bool, static: bool, stretch: float) -> tuple[str, ...]:
        """The priced notes with the throttling note of these steps and their stretch."""
        return (*self.format_notes, *self.notes, throttle_note(self.tdp_w, prefill, decode, static, stretch),
                *self.money_notes)

    # --- the pieces of the general path, in floats -------------------------------------
    def kv_one(self, ctx: float) -> float:
        """``MappedModel._kv_bytes_one``: KV bytes of one sequence of ``ctx`` tokens on its chip share."""
        kv_bytes, out = self.kv_bytes, 0.0
        for c, window in self.kv_terms:
            out = out + c * (ctx if window is None else min(ctx, window)) * kv_bytes
        dp = self.dp
        return out / dp if dp > 1 else out

    def max_batch(self, ctx: float, step_tokens: float | None = None) -> float | None:
        """``MappedModel.max_batch(ctx, 0.0, step_tokens)`` (None where the float path does not apply)."""
        dp, free = self.dp, self.free_bytes
        if step_tokens is not None and step_tokens < self.chunk_tokens:  # MappedModel.free_bytes of a smaller step
            free = self.budget - self.weights - self.activations(step_tokens) * self.kv_activations
        if dp == 1 and len(self.kv_terms) == 1 and self.kv_terms[0][1] is None:  # kv_one written out
            per_seq = 0.0 + self.kv_terms[0][0] * (ctx + 0.0) * self.kv_bytes
        else:
            per_seq = self.kv_one(ctx + 0.0) * dp
        if per_seq > 0 and math.isfinite(per_seq) and math.isfinite(free):
            return float(dp * math.floor((0.0 if 0.0 > free else free) / per_seq))
        return None

    def activations(self, step_tokens: float) -> float:
        """The activations of a step of ``step_tokens`` (a full chunk's above the chunk size)."""
        if step_tokens >= self.chunk_tokens:
            return self.chunk_act
        return step_tokens * self.act_per_token + min(step_tokens, 4096.0) * self.act_logits

    def point(self, t: float, s_dec: float, kv_dec: float, pairs: float,
              logit_rows: float | None = None, prefill_chip: float | None = None) -> tuple[float, ...]:
        """``StepPlan.point_cost`` of one step, as ``ScalarPlan.step``'s flat tuple (time first)."""
        return self.scalar.step(*replica_point(self.dp, t, s_dec, kv_dec, pairs, logit_rows, prefill_chip))

    def breakdown(self, v: tuple[float, ...]) -> dict[str, dict[str, Any]]:
        """``prediction._breakdown`` of a step costed by :meth:`point`: each class's time (x pp),
        share and bound (the first of the largest of compute, memory, network, overhead)."""
        return self._breakdown(v, self.pp)

    def _sweep_parts(self) -> SweepParts:
        """:func:`~inferchip.performance.fast_sweep.sweep_parts` of the plan (kept)."""
        held = getattr(self, "_parts", None)
        if held is None:
            held = self._parts = sweep_parts(self.plan)
        return held

    def decode_times(self, grid: FloatArray, i: float, o: float) -> FloatArray:
        """Replica time of the steady-state decode step at each concurrency of ``grid``
        (:func:`~inferchip.performance.fast_sweep.decode_times`: never a tile or a wave off
        ``StepPlan.evaluate``'s, the sums maybe in another order)."""
        return decode_times(self._sweep_parts(), self.plan, self.pp, grid, i, o)

    def decode_times_reference(self, grid: FloatArray, i: float, o: float) -> FloatArray:
        """:meth:`decode_times` through ``StepPlan.evaluate``: ``steady_state``'s very numbers."""
        e_o = max(o, 1.0)
        new = grid / e_o
        mean_ctx = i + o * o / (2.0 * e_o)
        pp = self.pp
        pts = step_points(1, (grid + new * i) / pp, grid / pp, grid * mean_ctx / pp,
                          new * (i * (0.0 + (i + 1.0) / 2.0)) / pp)
        return pp * self.plan.evaluate(pts).time_s

    def best_concurrency(self, grid: FloatArray, i: float, o: float) -> int:
        """Index of the grid concurrency with the most tokens/s (the first of equals). Where another
        comes within 1e-9 of it, the sums' last bits could decide: the reference sweep does."""
        tput = grid / self.decode_times(grid, i, o)
        k = int(tput.argmax())
        if len(tput) > 1:
            best = tput.item(k)
            tput[k] = -math.inf  # the runner-up, then: within 1e-9 of the best?
            if tput.max() >= best * (1.0 - 1e-9):
                k = int(np.argmax(grid / self.decode_times_reference(grid, i, o)))
        return k

    # --- questions ------------------------------------------------------------------------
    def static_steps(self, b: float, i: float, o: float) -> StaticSteps | str | None:
        """The points of a static batch's prefill and decode steps (the scalar step's arguments, dp = 1) and its
        prefill chunks; DOES_NOT_FIT; or None where the float path does not apply (:meth:`static` answers then)."""
        # (max(a, b) written out below as ``b if b > a else a``: the same value, without the call)
        bmax = self.max_batch(i + o * o / (1.0 if 1.0 > o else o), b * i)  # beside the activations of its prompts
        if bmax is None:
            return None
        if b > bmax:
            return DOES_NOT_FIT
        if self.dp > 1:
            return None
        pp = self.pp
        n_chunks = float(math.ceil(b * i / self.replica_chunk_tokens))
        n_chunks = 1.0 if 1.0 > n_chunks else n_chunks
        pairs = i * (0.0 + (i + 1.0) / 2.0) * b / n_chunks
        t, s_dec = b * i / n_chunks / pp, b / pp  # point() written out: a prefill step (no decode), a decode step
        t_pre = t - 0.0
        return ((t, t, 0.0, 0.0 if 0.0 > t_pre else t_pre, 0.0, pairs / pp, b / n_chunks / pp),
                (s_dec, s_dec, s_dec, 0.0, b * (i + o / 2.0) / pp, 0.0, s_dec + 0.0), n_chunks)

    def dp_static_steps(self, b: float, i: float, o: float) -> tuple[tuple[float, ...], tuple[float, ...], float]:
        """An attention-DP static batch's prefill and decode steps (:meth:`point`'s rows) and its prefill chunks, for a
        batch that fits (:meth:`static`'s; ``ic.sweep``'s arrays take them from here too)."""
        pp, dp = self.pp, self.dp
        # attention DP: whole prompts on each chip, the busiest holding ceil(b / dp) (phases.static_batch)
        rank_prompts = math.ceil(b / dp) * i
        n_chunks = float(math.ceil(rank_prompts / self.chunk_tokens))
        n_chunks = 1.0 if 1.0 > n_chunks else n_chunks
        # the busiest chip's own prompts' pairs, in the step's worker form (dp x): phases.static_batch
        pairs = dp * (math.ceil(b / dp) * (i * (0.0 + (i + 1.0) / 2.0))) / n_chunks
        pre = self.point(b * i / n_chunks / pp, 0.0 / pp, 0.0 / pp, pairs / pp, b / n_chunks / pp,
                         rank_prompts / n_chunks / pp)
        return pre, self.point(b / pp, b / pp, b * (i + o / 2.0) / pp, 0.0 / pp), n_chunks

    def static(self, b: float, i: float, o: float) -> Prediction | str | None:
        """A static batch of ``b`` sequences of ``i`` input and ``o`` output tokens per replica (its steps from
        :attr:`primed` where a sweep priced them: :func:`~inferchip.performance.fast_sweep.prime`)."""
        pp, dp = self.pp, self.dp
        if dp == 1:
            got = self.static_steps(b, i, o)
            if not isinstance(got, tuple):  # DOES_NOT_FIT, or None
                return got
            at, dec_at, n_chunks = got
            primed = self.primed
            pre = primed.get(at) if primed else None
            if pre is None:
                pre = self.prefills.get(at)
            if pre is None:  # a prompt length and batch new to this layout
                pre = self.scalar.step(*at)
                if len(self.prefills) >= PREFILLS_KEPT:
                    self.prefills.clear()
                self.prefills[at] = pre
            dec = primed.get(dec_at) if primed else None
            if dec is None:
                dec = self.scalar.step(*dec_at)
        else:
            bmax = self.max_batch(i + o * o / (1.0 if 1.0 > o else o), b * i)
            if bmax is None:
                return None
            if b > bmax:
                return DOES_NOT_FIT
            pre, dec, n_chunks = self.dp_static_steps(b, i, o)
        ttft = n_chunks * (pp * pre[0]) * (2 * pp - 1) / pp
        tpot = pp * dec[0]
        steps = o - 1.0
        e2e = ttft + (0.0 if 0.0 > steps else steps) * tpot
        return self._prediction(b, i, o, True, ttft, tpot, e2e, b * o / e2e, pre, dec, n_chunks, ttft / n_chunks)

    def max_throughput(self, i: float, o: float) -> Prediction | str | None:
        """The concurrency with the most output tokens/s (continuous batching, no latency limits)."""
        if self.dp > 1:
            return None
        bmax = self.max_batch(i + o * o / max(o, 1.0))
        if bmax is None:
            return None
        if bmax < 1:
            return DOES_NOT_FIT
        n = bisect.bisect_left(_GRID, bmax)  # operating.batch_grid(bmax): the grid below bmax, then bmax
        grid = np.concatenate((BATCH_GRID[:n], (bmax,)))
        k = self.best_concurrency(grid, i, o)
        b = float(grid[k])
        pp = self.pp
        e_o = max(o, 1.0)
        new = b / e_o / 1
        ctx = i + o * o / (2.0 * e_o)
        mpp = i * (0.0 + (i + 1.0) / 2.0)
        step, t, s_dec = self.scalar.step, (b + new * i) / pp, b / pp  # point() of dp = 1 written out
        t_pre = t - s_dec
        t_pre = 0.0 if 0.0 > t_pre else t_pre
        dec = step(t, t, s_dec, t_pre, b * ctx / pp, new * mpp / pp, s_dec + float(t_pre > 0))
        tpot = pp * dec[0]
        chunk = min(i, float(self.chunk_tokens))
        n_chunks = float(math.ceil(i / self.chunk_tokens))
        pairs = chunk * (0.0 + (chunk + 1.0) / 2.0) + new * mpp
        t = (b + chunk) / pp
        t_pre = t - s_dec
        pre = step(t, t, s_dec, 0.0 if 0.0 > t_pre else t_pre, b * ctx / pp, pairs / pp, (b + 1.0) / pp)
        ttft = n_chunks * (pp * pre[0])
        e2e = ttft + max(o - 1.0, 0.0) * tpot
        return self._prediction(b, i, o, False, ttft, tpot, e2e, b / tpot, pre, dec, n_chunks, pp * pre[0])

    def _prediction(self, b: float, i: float, o: float, static: bool, ttft: float, tpot: float, e2e: float,
                    tps_replica: float, pre: tuple[float, ...], dec: tuple[float, ...], n_chunks: float,
                    pre_step_s: float) -> Prediction:
        """``predict_setting`` then ``add_energy_and_money`` from the point's figures: the same
        numbers, the final ones computed before the :class:`Prediction` is made."""
        kv_cache = self.kv_one(i + o) * b
        # the activations the memory fit keeps: a static batch's prompts (at most the chunk), else a full chunk
        act = self.activations(b * i) if static else self.chunk_act
        num_chips, replicas, batch, out = self.num_chips, self.replicas, int(b), round(o)
        tput = tps_replica * replicas
        per_user = 1.0 / tpot if tpot > 0 else math.inf
        deferred: Deferred
        if self.economy is not None:
            pp, power_of = self.pp, self.power  # ChipEconomy.step_power_of of a step tuple
            tpot0 = tpot
            tpot, dec_p, throttled, dec_e = power_of(dec, tpot, pp)
            dec_thr = pre_thr = throttled
            stretch = tpot / tpot0 if throttled and tpot0 > 0 else 1.0
            if static:
                pre_t, _, pre_thr, pre_e = power_of(pre, pre_step_s, pp)
                if pre_thr and pre_step_s > 0:
                    stretch = max(stretch, pre_t / pre_step_s)
                ttft = pre_t * n_chunks
                throttled = throttled or pre_thr
                steps = out - 1 if out > 1 else 0  # max(out - 1, 0)
                e2e = ttft + steps * tpot
                power = (pre_e * n_chunks + steps * dec_e) / e2e
                tput = batch * out / e2e * replicas
            else:
                power = dec_p
                e2e = ttft + (out - 1 if out > 1 else 0) * tpot
                tput = batch / tpot * replicas
            notes = list(self._throttled_notes(pre_thr and static, dec_thr, static, stretch) if throttled else
                         self.notes_priced)
            per_user = 1.0 / tpot
            deferred = (self._fill, pre, dec, power, throttled, tput / num_chips)
        else:
            notes = list(self.notes_all)
            deferred = (self._fill, pre, dec, None, False, 0.0)
        h = self.head
        p = _new_prediction(Prediction)  # its fields as Prediction(...) sets them; breakdown and extra when read
        p.__dict__.update({  # (a frozen record: its __dict__ filled, not assigned)
            "chip_id": h[0], "model_id": h[1], "num_chips": num_chips, "tp": h[2], "pp": h[3], "ep": h[4],
            "replicas": replicas, "batch": batch, "mode": "static" if static else "continuous",
            "input_tokens": round(i), "output_tokens": out, "ttft_s": ttft, "tpot_s": tpot, "e2e_latency_s": e2e,
            "output_tokens_per_s": tput, "output_tokens_per_s_per_chip": tput / num_chips,
            "output_tokens_per_s_per_user": per_user, "memory_per_chip_bytes": self.weights + kv_cache + act,
            "memory_breakdown_bytes": {"weights": self.weights, "kv_cache": kv_cache, "activations": act,
                                       "runtime_reserve": self.reserve},
            "memory_capacity_per_chip_bytes": self.capacity, "weights": h[5], "activations": h[6], "kv": h[7],
            "compute_format": h[8], "weights_source": h[9],
            "activations_source": h[10], "kv_source": h[11], "notes": notes, "attn_dp": self.layout.attn_dp,
            "runtime_devices_per_package": h[12], "_deferred": deferred})
        return p

    def _fill(self, d: dict[str, Any], pre: tuple[float, ...], dec: tuple[float, ...], power: float | None,
              throttled: bool, per_chip: float) -> None:
        """A fast-path prediction's ``breakdown`` and ``extra`` (where not set already): time by
        operator class of both steps; energy and money per token (``add_energy_and_money``'s)."""
        pp = self.pp
        if "breakdown" not in d:
            d["breakdown"] = {"prefill": self._breakdown(pre, pp), "decode": self._breakdown(dec, pp)}
        if "extra" not in d:
            eco = self.economy
            if eco is None or power is None:
                d["extra"] = {"calibration": self.calibration}
            else:
                d["extra"] = {"calibration": self.calibration, "power_w_per_chip": power, "throttled": throttled,
                              "output_tokens_per_j": per_chip / power, "j_per_output_token": power / per_chip,
                              **self.money_fields, **eco.money_per_token(per_chip, power, self.num_chips)}


_new_prediction = object.__new__

PREFILLS_KEPT = 2048  # static prefill steps a FastLayout keeps (cleared when full; ~0.9 kB each, ~2 MB)
FAST_AFTER = 2  # questions asked of a setting before its FastLayout is made (a one-off goes the general way)


def fast_layout(setting: Setting) -> FastLayout | None:
    """The setting's :class:`FastLayout` (made on its FAST_AFTER-th question and kept in
    ``setting.derived``), or None: before that, or where the fast path does not apply (several
    candidate layouts, no scalar form of the step)."""
    held = setting.derived.get("fast")
    if held is None:
        asked = setting.derived["asked"] = setting.derived.get("asked", 0) + 1
        if asked < FAST_AFTER:
            return None
        held = (None,)
        if len(setting.layouts) == 1 and setting.padding is None:  # its step tables price unpadded steps
            mm = setting.mapped(setting.layout)
            plan = mm._plan = cached_step_plan(getattr(mm, "_plan", None), mm.sm, mm.chip, mm.formats, mm.cal)
            if plan.scalar is not None:
                try:
                    held = (FastLayout(setting, plan),)
                except InferchipError:  # e.g. a TDP below the static power: the general path says so, in its turn
                    pass
        setting.derived["fast"] = held
    fast = held[0]
    return fast if isinstance(fast, FastLayout) else None
