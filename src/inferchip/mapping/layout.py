"""Parallel layout of one model replica: tensor (tp), pipeline (pp) and expert (ep) parallel.

Convention (TensorRT-LLM / vLLM): a replica spans ``tp * pp`` chips. Attention and dense
MLPs are split ``tp`` ways; MoE layers split their experts over ``ep`` groups and each
expert's width over ``moe_tp = tp // ep`` chips, so ``ep`` divides ``tp``. Data-parallel
replicas fill the rest of the system: ``replicas = chips // (tp * pp)``.
"""

from __future__ import annotations

from dataclasses import dataclass

from inferchip.errors import InvalidSettingError
from inferchip.spec.model import ModelSpec


@dataclass(frozen=True)
class Layout:
    tp: int = 1
    pp: int = 1
    ep: int = 1
    replicas: int = 1

    @property
    def chips_per_replica(self) -> int:
        return self.tp * self.pp

    @property
    def num_chips(self) -> int:
        return self.chips_per_replica * self.replicas

    @property
    def moe_tp(self) -> int:
        return self.tp // self.ep


def check_layout(model: ModelSpec, layout: Layout, num_chips: int | None = None) -> Layout:
    """Refuse impossible layouts with the reason."""
    for name in ("tp", "pp", "ep", "replicas"):
        v = getattr(layout, name)
        if not isinstance(v, int) or v < 1:
            raise InvalidSettingError(f"--{name} must be a positive integer, got {v}")
    if model.num_heads % layout.tp:
        raise InvalidSettingError(
            f"--tp {layout.tp} does not divide the {model.num_heads} attention heads of {model.id}; "
            f"allowed: {', '.join(str(d) for d in divisors(model.num_heads) if d <= 64)}"
        )
    if layout.pp > model.num_layers:
        raise InvalidSettingError(f"--pp {layout.pp} exceeds the {model.num_layers} layers of {model.id}")
    if layout.ep > 1:
        if not model.is_moe:
            raise InvalidSettingError(f"--ep {layout.ep} needs a mixture-of-experts model; {model.id} is dense")
        if layout.tp % layout.ep:
            raise InvalidSettingError(f"--ep {layout.ep} must divide --tp {layout.tp} (experts are split inside the TP group)")
        if model.num_experts % layout.ep:
            raise InvalidSettingError(f"--ep {layout.ep} does not divide the {model.num_experts} experts of {model.id}")
    if num_chips is not None and layout.num_chips > num_chips:
        raise InvalidSettingError(
            f"tp x pp = {layout.chips_per_replica} needs more chips than the {num_chips} given (--count)"
        )
    return layout


def divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


def candidate_layouts(model: ModelSpec, num_chips: int, max_scaleup_domain: int) -> list[Layout]:
    """Layouts worth searching when the user gives none: tp within the scale-up domain,
    pp for the rest of a replica, ep in {1, tp} for MoE models, replicas filling the system."""
    out: list[Layout] = []
    for tp in divisors(num_chips):
        if tp > max(1, max_scaleup_domain) or model.num_heads % tp:
            continue
        for pp in divisors(num_chips // tp):
            if pp > model.num_layers or pp > 16:
                continue
            eps = [1]
            if model.is_moe and tp > 1:
                eps += [e for e in divisors(tp) if e > 1 and model.num_experts % e == 0]
            for ep in eps:
                out.append(Layout(tp=tp, pp=pp, ep=ep, replicas=num_chips // (tp * pp)))
    return out
