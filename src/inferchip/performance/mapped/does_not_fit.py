"""The error that says by how much a mapped model does not fit one chip, and what would make it fit: a wider
tensor-parallel size, a smaller prefill chunk, more chips in a layout, a smaller batch or format
(:func:`fit_error`, raised by ``predict``, serving and validation as a :class:`~inferchip.errors.DoesNotFitError`).
"""

from __future__ import annotations

import math
from dataclasses import replace

from inferchip.errors import DoesNotFitError, named, named_as
from inferchip.mapping.layout import Layout, divisors, tp_domain, tp_splits_heads
from inferchip.mapping.memory_fit import (
    activation_bytes_per_chip,
    vocab_bytes_per_chip,
)
from inferchip.performance.mapped.model import LOGIT_ROWS, MappedModel, map_model, sharded
from inferchip.units import GIGA, MEGA


def _tp_whose_activations_fit(mm: MappedModel, budget: float, step_tokens: float) -> int | None:
    """The smallest tensor-parallel size above the layout's, within the chip's tp domain and splitting the
    model's heads (``mapping.layout``), at which one step of ``step_tokens``' activations fit ``budget``; None where
    none does (the residual stream, ``4 x hidden`` per token, is held whole on every chip whatever the tp)."""
    for tp in divisors(tp_domain(mm.chip.max_scaleup_domain)):
        if tp > mm.layout.tp and tp_splits_heads(mm.model, tp):
            wide = sharded(mm.model, Layout(tp=tp))
            if float(activation_bytes_per_chip(mm.model, wide, mm.formats, step_tokens)) < budget:
                return tp
    return None


def _chunk_that_fits(mm: MappedModel, room: float, step: float) -> int | None:
    """The largest prefill chunk (at most ``LOGIT_ROWS`` tokens) whose activations fit in ``room`` bytes, where it is
    below the ``step``'s tokens; None where no chunk of at least one token fits or the step already fits."""
    per_token = float(mm.activation_bytes(1.0))
    if room <= 0 or per_token <= 0:
        return None
    tokens = min(int(room // per_token), LOGIT_ROWS)
    return tokens if 1 <= tokens < step else None


def _smaller_chunk(mm: MappedModel, room: float, step: float) -> list[str]:
    """The advice of a smaller prefill chunk where the activations of one of at most ``LOGIT_ROWS`` tokens fit the
    ``room`` the weights and KV cache leave (activations grow linearly in the tokens there): empty where none does.
    ``step`` is the largest step's tokens, the chunk or a static batch's prompts below it: a chunk below either
    bounds the step (``step_activation_bytes``), so the advice holds for both."""
    tokens = _chunk_that_fits(mm, room, step)
    if tokens is None:
        return []
    return [f"  - a smaller prefill chunk: {named_as('chunk_tokens', f'{tokens:,}')} or fewer (its activations, "
            f"{float(mm.activation_bytes(float(tokens))) / GIGA:.3f} GB, fit beside the weights and KV cache)"]


def _layout_for_chips(mm: MappedModel, replicas: int, per_seq_tokens: float, batch: float, step: float) -> str:
    """The smallest replica this model and chip allow (``mapping.layout``: a tp dividing the chip's tp domain and
    splitting the heads, no narrower than the run's, a pp up to the layers) on which ``batch`` sequences of
    ``per_seq_tokens`` and a ``step``-token step fit, each layout mapped and summed as :func:`fit_error` sums it (its
    estimate of the chips needed spreads the run's per-chip weights evenly, where a pipeline's end stage keeps the
    embedding or LM head whole: 14 chips where 20 were needed), the widest tp among equals, as the flags that ask for
    it (``--count`` keeps the run's ``replicas``); a sentence saying none exists where none does."""
    tps = [tp for tp in _domain_tps(mm) if tp_splits_heads(mm.model, tp)]
    tps = [tp for tp in tps if tp >= mm.layout.tp] or tps  # widen the run's tp, never narrow it

    def fits(tp: int, pp: int) -> bool:
        on = replace(map_model(mm.model, mm.chip, Layout(tp=tp, pp=pp), mm.formats, mm.cal),
                     chunk_tokens=mm.chunk_tokens, static_memory_fraction=mm.static_memory_fraction)
        need = on.weights_bytes + float(on.kv_bytes_per_seq(per_seq_tokens)) * batch + on.step_activation_bytes(step)
        return bool(need <= on.budget_bytes)

    best: tuple[int, int, int] | None = None  # (chips, -tp, pp)
    for tp in tps:
        # fit_error's estimate, from the run's layout, bounds no other: the least pp that fits, by bisection (a
        # deeper pipeline never needs more per chip: each stage holds no more layers, the end stage's vocab the same)
        lo, hi = 1, mm.model.num_layers
        if not fits(tp, hi):
            continue
        while lo < hi:
            mid = (lo + hi) // 2
            lo, hi = (lo, mid) if fits(tp, mid) else (mid + 1, hi)
        if best is None or (tp * lo, -tp) < best[:2]:
            best = (tp * lo, -tp, lo)
    if best is None:
        return (f"no layout of this chip fits it ({mm.model.num_heads} heads, {mm.model.num_layers} layers, "
                f"a tp domain of {tp_domain(mm.chip.max_scaleup_domain)})")
    chips, tp, pp = best[0], -best[1], best[2]
    n = mm.chip.devices_per_package  # --count counts packages; the layout, the runtime's devices
    flags = named_as("tp", tp) + (f" {named_as('pp', pp)}" if pp > 1 else "") + \
        f" {named_as('count', -(-chips * replicas // n))}" + (
        "" if n == 1 else f" ({chips * replicas} runtime devices, {n} a package)")
    return f"the smallest layout this model allows: {flags} (a tp that splits the heads, pp at most the layers)"


def _domain_tps(mm: MappedModel) -> list[int]:
    """The tensor-parallel widths the advice tries, ascending: the divisors of the chip's tp domain, and, where the
    chip's scale-up domain is wider than the model has attention heads, every divisor of the heads (such a domain's
    own divisors say little of the tps it offers: a Groq C2C network of up to 10,440 chips has none that splits 64
    heads above 8, where tp 64 is a layout too; a PCIe host's 8 cards, a chip without a domain, keep their divisors)."""
    domain = tp_domain(mm.chip.max_scaleup_domain)
    heads = mm.model.num_heads
    wide = divisors(heads) if mm.chip.max_scaleup_domain > heads else []
    return sorted(set(divisors(domain)) | set(wide))


def _wider_tp_text(mm: MappedModel) -> str:
    """What a wider tensor-parallel layout offers the end stage: the next tp of the scale-up domain that splits the
    heads (each such tp splits the vocab further), or that the layout's tp is the widest there is."""
    domain = tp_domain(mm.chip.max_scaleup_domain)
    wider = [tp for tp in _domain_tps(mm) if tp > mm.layout.tp and tp_splits_heads(mm.model, tp)]
    if wider:
        return f"a wider tp splits them further ({named_as('tp', wider[0])})"
    return (f"tp={mm.layout.tp} is already the widest the chip's scale-up domain of {domain} allows for "
            f"{mm.model.num_heads} heads")


def _end_stage_bytes(mm: MappedModel) -> float:
    """Bytes a chip of the stage holding the (16-bit, vocab-parallel) embedding or LM head keeps for them alone:
    the larger of the two at pp > 1 (first and last stage), both at pp 1 (the embedding alone where tied)."""
    embed, head = vocab_bytes_per_chip(mm.model, mm.sm)
    if mm.layout.pp > 1:
        return max(embed, head)
    return embed + (0.0 if mm.model.tie_word_embeddings else head)


def _count(x: float) -> str:
    """A count as the CLI writes one: 100,000 and 1,000,006 with separators, a fraction (a mean batch) to 4 figures."""
    return f"{int(x):,}" if float(x).is_integer() else f"{x:,.4g}"


def fit_error(mm: MappedModel, batch: float, input_tokens: float, output_tokens: float,
              chips_given: int, step_tokens: float | None = None) -> DoesNotFitError:
    """A clear 'does not fit' error: by how much, and what would make it fit. ``step_tokens``: the tokens of the
    largest step the run executes on one chip (a static batch: batch x prompt), bounded by the chunk; None: a
    chunk (continuous batching may fill one)."""
    need_w = mm.weights_bytes
    kv = float(mm.kv_bytes_per_seq(input_tokens + output_tokens)) * batch
    step = float(mm.chunk_tokens) if step_tokens is None else min(float(step_tokens), float(mm.chunk_tokens))
    act = mm.step_activation_bytes(step)
    budget = mm.budget_bytes
    short = need_w + kv + act - budget
    per, unit = (MEGA, "MB") if budget < GIGA else (GIGA, "GB")  # an SRAM chip's 211.6 MB, not "0.2 GB"
    lines = [
        f"{mm.model.id} does not fit on {mm.chip.id} with tp={mm.layout.tp} pp={mm.layout.pp} ep={mm.layout.ep}"
        f"{' (attention data-parallel)' if mm.layout.attn_dp else ''}: "
        f"per chip it needs {(need_w + kv + act) / per:,.1f} {unit} (weights {need_w / per:,.1f}, "
        f"KV cache {kv / per:,.1f} for batch {_count(batch)} at {_count(input_tokens + output_tokens)} "
        f"{'token' if input_tokens + output_tokens == 1 else 'tokens'}, "
        f"activations {act / per:,.1f}) but "
        f"{budget / per:,.1f} {unit} is usable: short by {short / per:,.1f} {unit}.",
        "What would make it fit:",
    ]
    chunk_line = _smaller_chunk(mm, budget - need_w - kv, step)
    if budget <= act:  # more chips of this layout or narrower weights cannot help: each chip keeps these activations
        tp = _tp_whose_activations_fit(mm, budget, step) if budget > 0 else None
        helps = ("nothing in the layout or the formats helps" if budget <= 0 else
                 f"a wider tensor-parallel layout shrinks them per chip ({named_as('tp', tp)} is the narrowest at "
                 f"which they fit), as do narrower {named('activations')}" if tp else
                 "no wider tensor-parallel layout fits them (the residual stream is held whole on every chip); "
                 f"narrower {named('activations')} shrink them")
        alone = _chunk_that_fits(mm, budget, step)
        if alone is not None:  # a smaller chunk bounds the step too (step_activation_bytes)
            helps += f", or a smaller prefill chunk at this tp ({named_as('chunk_tokens', f'{alone:,}')} or fewer)"
        what = (f"one {step:,.0f}-token prefill chunk" if step >= mm.chunk_tokens else
                f"its largest step, {step:,.0f} tokens (batch x prompt; the chunk is {mm.chunk_tokens:,})")
        lines.append(f"  - the activations of {what} at tp={mm.layout.tp} "
                     f"({act / per:,.1f} {unit}) alone exceed the {budget / per:,.1f} {unit} usable per chip: {helps}; "
                     "else a chip with more memory (check its memory.capacity and memory.capacity_unit)")
        lines.extend(chunk_line)
        return DoesNotFitError("\n".join(lines))
    lines.extend(chunk_line)
    ends = _end_stage_bytes(mm)
    if ends + act >= budget:  # the embedding / LM head stage: more stages of this tp cannot shrink it
        both = "embedding and LM head" if mm.layout.pp == 1 else "embedding or LM head"
        lines.append(f"  - the vocab-parallel {both} alone take {ends / 1e6:,.1f} MB a chip at tp={mm.layout.attn_tp} "
                     f"({mm.model.vocab_size:,} x {mm.model.hidden_size:,} x 2 B / {mm.layout.attn_tp}), with the "
                     f"activations more than the {budget / 1e6:,.1f} MB usable: no pipeline depth at this tp fits "
                     f"them; {_wider_tp_text(mm)}")
    chips = mm.layout.chips_per_replica
    # Weights and KV cache both split over a replica's chips; each chip keeps its activations.
    need_chips = math.ceil((need_w + kv) * chips / (budget - act)) if budget > act else 0
    if need_chips > chips and ends + act < budget:
        lines.append(f"  - more chips: about {need_chips} per replica; "
                     + _layout_for_chips(mm, max(1, chips_given // chips), input_tokens + output_tokens, batch, step))
    if need_w + act < budget and kv > 0:
        b_fit = int(max(0.0, (budget - need_w - act)) // float(mm.kv_bytes_per_seq(input_tokens + output_tokens)))
        if b_fit >= 1:
            lines.append(f"  - a smaller batch: at most {b_fit} sequences of {input_tokens + output_tokens:g} tokens")
        lines.append(f"  - a shorter context ({named('input_tokens')}/{named('output_tokens')}) or an fp8 KV cache "
                     f"({named_as('kv', 'fp8')})")
    if mm.formats.weights in ("bf16", "fp16", "fp32"):
        lines.append(f"  - narrower weights: {named_as('weights', 'fp8')} (half the bytes) or int4/fp4 (a quarter)")
    elif mm.formats.weights in ("fp8", "int8"):
        lines.append(f"  - narrower weights: {named_as('weights', 'fp4')} or int4 (half the bytes of fp8)")
    return DoesNotFitError("\n".join(lines))
