"""Parallel layout of one model replica: tensor (tp), pipeline (pp) and expert (ep) parallel.

Convention (TensorRT-LLM / vLLM): a replica spans ``tp * pp`` chips. Attention and dense
MLPs are split ``tp`` ways; MoE layers split their experts over ``ep`` groups and each
expert's width over ``moe_tp = tp // ep`` chips, so ``ep`` divides ``tp``. Data-parallel
replicas fill the rest of the system: ``replicas = chips // (tp * pp)``.

Attention data parallelism (``attn_dp``; SGLang ``--enable-dp-attention``, TensorRT-LLM
``enable_attention_dp`` / "DEP", vLLM data-parallel attention with expert-parallel MoE):
the ``tp`` chips of a stage each run attention, dense MLPs, shared experts, embedding and
LM head for their own ``1/tp`` of the sequences with unsplit (replicated) weights, and hold
only those sequences' KV cache; the routed experts are expert-parallel over the same chips
(``ep == tp``), reached by an all-to-all dispatch and combine instead of all-reduces. It
suits MLA models (DeepSeek-V2/V3/R1), whose single latent KV head cannot be split by heads,
so plain tensor parallelism replicates the whole latent cache on every chip. Under attention DP
``ep`` need not divide the experts (SGLang pads them with redundant copies,
``--ep-num-redundant-experts``): each chip holds ``ceil(experts / ep)``. ``ep`` may also be a divisor of
``tp`` below it (TensorRT-LLM ``moe_ep_size`` x ``moe_tp_size`` = ``tp_size`` with ``enable_attention_dp``, e.g.
``moe_expert_parallel_size: 1``): each expert is then split ``moe_tp = tp / ep`` ways in width, every chip needs
every token, and the tokens are all-gathered before the MoE and reduce-scattered after it instead
(:func:`inferchip.mapping.sharding.gather_scatter`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from inferchip.errors import InvalidSettingError, named, named_as
from inferchip.spec.model import ModelSpec


@dataclass(frozen=True)
class Layout:
    tp: int = 1
    pp: int = 1
    ep: int = 1
    replicas: int = 1
    attn_dp: bool = False  # attention data-parallel over the tp chips (see module docstring)

    @property
    def chips_per_replica(self) -> int:
        return self.tp * self.pp

    @property
    def num_chips(self) -> int:
        return self.chips_per_replica * self.replicas

    @property
    def moe_tp(self) -> int:
        return self.tp // self.ep

    @property
    def attn_tp(self) -> int:
        """Ways attention, dense MLPs, shared experts and the LM head are split (1 under attention DP)."""
        return 1 if self.attn_dp else self.tp

    @property
    def attn_dp_ways(self) -> int:
        """Chips of a stage over which the step's sequences are spread (tp under attention DP, else 1)."""
        return self.tp if self.attn_dp else 1


def check_layout(model: ModelSpec, layout: Layout, num_chips: int | None = None) -> Layout:
    """Refuse impossible layouts with the reason."""
    for name in ("tp", "pp", "ep", "replicas"):
        v = getattr(layout, name)
        if not isinstance(v, int) or v < 1:
            raise InvalidSettingError(f"{named(name)} must be a positive integer, got {v}")
    if not isinstance(layout.attn_dp, bool):
        raise InvalidSettingError(f"attn_dp must be true or false, got {layout.attn_dp!r}")
    if layout.attn_dp:
        if layout.tp < 2:
            hint = (f"; a worker of {layout.ep} chips with attention per chip and experts over all of them (a "
                    f"case id's tp1 ep{layout.ep} dpa, SGLang --tp {layout.ep} --dp {layout.ep} "
                    f"--enable-dp-attention) is {named_as('tp', layout.ep)} {named_as('ep', layout.ep)} "
                    f"{named_as('attn_dp', True)}") if layout.ep > 1 else ""
            raise InvalidSettingError(
                f"{named('attn_dp')} spreads sequences over the tp chips of a stage; it needs "
                f"{named_as('tp', 2)} or more, got {named_as('tp', layout.tp)}{hint}"
            )
        if not model.is_moe:
            raise InvalidSettingError(
                f"{named('attn_dp')} pairs data-parallel attention with expert-parallel MoE; {model.id} is dense "
                f"(for a dense model use data-parallel replicas: {named_as('tp', 1)} and more {named('count')})"
            )
        if layout.tp % layout.ep:
            raise InvalidSettingError(
                f"{named('attn_dp')} needs {named('ep')} dividing {named('tp')} (experts spread over the same "
                f"{layout.tp} chips, split tp/ep ways in width), got {named_as('ep', layout.ep)}; allowed: "
                f"{', '.join(str(d) for d in divisors(layout.tp))}"
            )
    if not layout.attn_dp and not tp_splits_heads(model, layout.tp):
        allowed = ", ".join(str(d) for d in divisors(model.num_heads) if d <= 64 and tp_splits_heads(model, d))
        if model.num_heads % layout.tp:
            raise InvalidSettingError(f"{named_as('tp', layout.tp)} does not divide the {model.num_heads} attention "
                                      f"heads of {model.id}; allowed: {allowed}")
        raise InvalidSettingError(
            f"{named_as('tp', layout.tp)} does not split the {model.num_kv_heads} key/value heads of {model.id}: "
            f"each chip holds {model.num_kv_heads} / tp of them, or one copied on tp / {model.num_kv_heads} chips, "
            f"so tp divides {model.num_kv_heads} or is a multiple of it (vLLM and SGLang QKVParallelLinear); "
            f"allowed: {allowed}")
    if layout.pp > model.num_layers:
        raise InvalidSettingError(f"{named_as('pp', layout.pp)} exceeds the {model.num_layers} layers of {model.id}; "
                                  f"allowed: 1 to {model.num_layers}")
    if layout.ep > 1:
        if not model.is_moe:
            raise InvalidSettingError(f"{named_as('ep', layout.ep)} needs a mixture-of-experts model; {model.id} "
                                      "is dense; allowed: 1")
        if layout.tp % layout.ep:
            raise InvalidSettingError(
                f"{named_as('ep', layout.ep)} must divide {named_as('tp', layout.tp)} (experts are split inside the "
                "TP group); allowed: "
                f"{', '.join(str(d) for d in divisors(layout.tp) if model.num_experts % d == 0)}"
            )
        if model.num_experts % layout.ep and not layout.attn_dp:
            raise InvalidSettingError(
                f"{named_as('ep', layout.ep)} does not divide the {model.num_experts} experts of {model.id}; allowed: "
                f"{', '.join(str(d) for d in divisors(layout.tp) if model.num_experts % d == 0)}")
    if num_chips is not None and layout.num_chips > num_chips:
        raise InvalidSettingError(
            f"tp x pp = {layout.chips_per_replica} needs more chips than the {num_chips} given ({named('count')})"
        )
    if num_chips is not None and num_chips % layout.chips_per_replica:
        # a remainder would be chips that the prediction silently leaves out ("on 2 x" for --count 3 --tp 2)
        raise InvalidSettingError(
            f"{named_as('count', num_chips)} is not a whole number of replicas of tp x pp = "
            f"{layout.chips_per_replica} chips; "
            f"allowed: a multiple of {layout.chips_per_replica}"
        )
    return layout


HOST_PCIE_CARDS = 8
"""Cards one server's PCIe fabric joins (8-card PCIe servers, e.g. NVIDIA's L40S and L4 OEM systems; inferchip's
estimate): a chip with no scale-up fabric (catalogue domain 1) runs tensor parallelism over the host's PCIe, which
its link figure describes, up to this many cards (the L40S tp=4 rows of validation_cases.csv measure that)."""


def tp_domain(max_scaleup_domain: int) -> int:
    """Chips one tensor-parallel group may span: the scale-up domain, or a PCIe host's cards without one."""
    return max_scaleup_domain if max_scaleup_domain > 1 else HOST_PCIE_CARDS


def check_scaleup(layout: Layout, max_scaleup_domain: int, chip_id: str, moe: bool = True) -> list[str]:
    """A tensor-parallel group within one scale-up domain (its all-reduces run over the scale-up link,
    the only link the step model costs them on). Wider only where the layout says how it spans domains:
    attention data-parallel per chip with the experts expert-parallel over all of them (a note says so);
    anything else -> InvalidSettingError with what would fit (``moe``: the model has experts, so attention DP
    is offered too)."""
    d = tp_domain(max_scaleup_domain)
    if layout.tp <= d:
        return []
    if layout.attn_dp and layout.ep == layout.tp:
        return [f"the {layout.tp} chips of a stage span {-(-layout.tp // d)} scale-up domains of {d}: attention "
                "data-parallel per chip, experts expert-parallel over all of them (their all-to-all crosses the "
                "scale-out network)"]
    fits = max(t for t in divisors(layout.tp) if t <= d)
    what = f"scale-up domain of {d} chips" if max_scaleup_domain > 1 else f"PCIe host of {d} cards (no scale-up fabric)"
    raise InvalidSettingError(
        f"{named_as('tp', layout.tp)} exceeds the {what} of {chip_id}: the tensor-parallel all-reduces would cross "
        f"the scale-out network and the layout does not say how the group spans it; use {named_as('tp', fits)} with "
        f"{named_as('pp', layout.tp // fits)} (pipeline stages on further domains)"
        + (f" or {named_as('attn_dp', True)} (attention per chip, experts expert-parallel over all chips)"
           if moe else ""))


def tp_splits_heads(model: ModelSpec, tp: int) -> bool:
    """Whether tensor parallelism of ``tp`` splits the attention heads as the engines shard them: the query heads
    evenly, and the key/value heads evenly (``num_kv_heads / tp`` per chip) or, with fewer of them than chips,
    each copied on ``tp / num_kv_heads`` chips. vLLM's QKVParallelLinear (vllm/model_executor/layers/linear.py)
    and SGLang's (python/sglang/srt/layers/linear.py) refuse anything else through ``divide``'s assertion; the
    sharding (mapping.sharding) prices ``max(1, num_kv_heads // tp)`` heads per chip, which holds only then. An
    MLA model's one latent KV head is replicated on every chip."""
    if model.num_heads % tp:
        return False
    kv = model.num_kv_heads
    return model.attention == "mla" or kv % tp == 0 or tp % kv == 0


def divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


SEARCHED_PP_MAX = 16  # the layout search's pp ceiling on chips that hold their weights in DRAM (GPUs and the like)


def candidate_layouts(model: ModelSpec, num_chips: int, max_scaleup_domain: int,
                      layer_pipeline: bool = False) -> list[Layout]:
    """Layouts worth searching when the user gives none: tp within the scale-up domain,
    pp for the rest of a replica, ep over the divisors of tp for MoE models, replicas filling
    the system; for MLA MoE models also attention data-parallel with ep = tp (the layout
    SGLang, TensorRT-LLM and vLLM serve DeepSeek-V3/R1 with at high batch).

    pp is searched up to :data:`SEARCHED_PP_MAX` stages, or, on a chip whose family pipelines a model's layers
    over as many chips as it needs (``layer_pipeline``: the SRAM-only, compiler-scheduled designs, whose
    weights must all be resident on chip), up to the model's layer count (one layer a stage); the chip count
    bounds it either way (pp divides ``num_chips / tp``)."""
    pp_max = model.num_layers if layer_pipeline else min(model.num_layers, SEARCHED_PP_MAX)
    out: list[Layout] = []
    for tp in divisors(num_chips):
        if tp > max(1, max_scaleup_domain) or not tp_splits_heads(model, tp):
            continue
        for pp in divisors(num_chips // tp):
            if pp > pp_max:
                continue
            eps = [1]
            if model.is_moe and tp > 1:
                eps += [e for e in divisors(tp) if e > 1 and model.num_experts % e == 0]
            for ep in eps:
                out.append(Layout(tp=tp, pp=pp, ep=ep, replicas=num_chips // (tp * pp)))
            if model.attention == "mla" and tp in eps and tp > 1:
                out.append(Layout(tp=tp, pp=pp, ep=tp, replicas=num_chips // (tp * pp), attn_dp=True))
    return out


def row_layouts(ms: ModelSpec, count: int, tp: int | None, pp: int | None, ep: int | None, scaleup_domain: int,
                layer_pipeline: bool) -> list[Layout]:
    """Layout constraints of a measurement row: every candidate (tp up to the scale-up domain, or
    the row's tp) that has the sizes the row gives; where none has, the row's own layout (1 for
    a size it leaves blank), checked."""
    given = {"tp": tp, "pp": pp, "ep": ep}
    found = [lay for lay in candidate_layouts(ms, count, max(scaleup_domain, tp or 1), layer_pipeline)
             if all(v is None or getattr(lay, k) == v for k, v in given.items())]
    if found:
        return found
    lay = check_layout(ms, Layout(tp or 1, pp or 1, ep or 1), count)
    return [replace(lay, replicas=max(1, count // lay.chips_per_replica))]
