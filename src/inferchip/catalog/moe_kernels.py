"""The expert (MoE) kernel table of the engine catalogue (``catalog/engines.yaml`` ``moe_kernels``): the kernels an
engine can serve a weight format's experts with on each chip family, the widths each pads an expert to, and the
checks that the table and the launch recipes' kernels (``recipe_moe_kernel``, which name an entry of it) are
consistent. Loaded with the catalogue (:func:`inferchip.catalog.engines.load_engines`); an entry is looked up by
:func:`inferchip.catalog.engines.moe_kernel_entry`."""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict, Field

from inferchip.errors import SpecError
from inferchip.spec.engine import EngineSpec
from inferchip.spec.formats import ALL_FORMATS


class MoeKernel(BaseModel):
    """An expert (MoE) kernel ``engine`` can serve ``weights`` experts with on chips of ``families``, the widths
    its weight layout pads each routed expert to (``pad_hidden_to``; ``pad_intermediate_to``, each rank's width:
    zeros it multiplies and reads, mapping.sharding.pad_experts) and the families where the engine picks it when
    the launch names none (``default_on``). Read for a user's prediction with ``--engine`` (``--moe-kernel``);
    the validated rows take their kernel from their launch recipe (EngineSpec.recipe_moe_kernel) or notes;
    ``token_vector_work``: the per-token work of untuned Triton MoE kernels those rows' notes carry."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    engine: str
    weights: str
    kernel: str = Field(pattern=r"^[a-z0-9-]+$")
    families: tuple[str, ...] = Field(min_length=1, description="Families of catalog/families.yaml.")
    default_on: tuple[str, ...] = ()
    pad_hidden_to: int = Field(ge=1, le=4096)
    pad_intermediate_to: int = Field(ge=1, le=4096)
    activations: str | None = Field(
        None, description="The activation format the kernel takes the experts' input in (bf16: W4A16 / MXFP4 x BF16; "
        "fp8: MXFP8 quantised at run time, priced at the fp8 rate), read as the activations' default where none is "
        "given (mapping.format_defaults.expert_activations); None: the kernel leaves it to the setting's rule.")
    token_vector_work: bool = Field(
        False, description="The kernel runs vLLM's Triton MoE at its default configs: each token and MoE layer costs "
        "cost.constants.TRITON_MOE_TOKEN_VECTOR_FLOP beyond its MMA (Calibration.moe_token_vector_flop), as the "
        "energy rows whose notes state 'MoE kernels: vLLM Triton' are priced (validation.moe_kernels).")
    source: str = Field(min_length=1)


def check_moe_kernels(path: str, kernels: Sequence[MoeKernel], ids: list[str], families: list[str]) -> None:
    """Each ``moe_kernels`` entry names a catalogue engine, a format and chip families; its defaults are among its
    families; one entry per engine, format, kernel and family, and at most one default per engine, format and
    family (a SpecError naming the entry otherwise)."""
    seen: dict[tuple[str, str, str, str], int] = {}
    for i, k in enumerate(kernels):
        where = f"{path}: moe_kernels entry {i} ({k.engine} {k.weights} {k.kernel})"
        if k.engine not in ids:
            raise SpecError(f"{where}: engine {k.engine!r} is not an engine id; allowed: {', '.join(ids)}")
        if k.weights not in ALL_FORMATS:
            raise SpecError(f"{where}: weights {k.weights!r}; allowed: {', '.join(ALL_FORMATS)}")
        if k.activations is not None and k.activations not in ALL_FORMATS:
            raise SpecError(f"{where}: activations {k.activations!r}; allowed: {', '.join(ALL_FORMATS)}")
        bad = [f for f in (*k.families, *k.default_on) if f not in families]
        if bad:
            raise SpecError(f"{where}: family {bad[0]!r}: not a chip family; allowed: {', '.join(families)}")
        if not set(k.default_on) <= set(k.families):
            raise SpecError(f"{where}: default_on {list(k.default_on)} must be among its families {list(k.families)}")
        for f in k.families:
            keys = [("this kernel", (k.engine, k.weights, k.kernel, f))]
            keys += [("its default", (k.engine, k.weights, "", f))] if f in k.default_on else []
            for what, key in keys:
                if key in seen:
                    raise SpecError(f"{where}: family {f} already has {what} in entry {seen[key]}")
                seen[key] = i


def check_recipe_kernels(path: str, engines: Sequence[EngineSpec], kernels: Sequence[MoeKernel]) -> None:
    """Each engine's ``recipe_moe_kernel`` entry names a kernel ``moe_kernels`` lists for that engine and weight
    format (the one record of its padding), a SpecError naming the entry and the kernels listed otherwise."""
    for e in engines:
        for j, r in enumerate(e.recipe_moe_kernel):
            listed = sorted({k.kernel for k in kernels
                             if k.engine == e.id and (not r.weights or k.weights == r.weights)})
            if r.kernel not in listed:
                raise SpecError(f"{path}: engine {e.id}: recipe_moe_kernel entry {j} ({r.accelerator} "
                                f"{r.weights or 'any weights'}): kernel {r.kernel!r} is no moe_kernels entry of "
                                f"{e.id}; allowed: {', '.join(listed) or 'none (add its moe_kernels entry)'}")
