"""The filters of ``inferchip chips`` and ``inferchip models``: each reads one catalogue field, each is resolved
once into a frozen record (:class:`ChipFilter`, :class:`ModelFilter`) before any row is listed.

A value the catalogue does not hold (a vendor, a system, a number format, a model type) is a usage error that
names the option, the value, what is allowed and the closest allowed values (``errors.closest``); the numeric
bounds are checked by ``options.float_range``. Text is matched without regard to case.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import get_args

import typer

from inferchip.interfaces.cli_options.options import float_range

# Bounds of the numeric filters: above any catalogue chip's memory (the largest, a CPU socket, 825 GB) and any model's
# parameters (the largest bundled, 1,000 B), small enough that a typo (GiB typed in bytes) is refused, not silently
# matched by nothing.
MAX_MEMORY_GB = 100_000.0
MAX_PARAMS_B = 100_000.0
check_memory_gb = float_range("--min-memory-gb", MAX_MEMORY_GB, lo=0.0, lo_open=False)
check_min_params_b = float_range("--min-params", MAX_PARAMS_B, lo=0.0, lo_open=False)
check_max_params_b = float_range("--max-params", MAX_PARAMS_B, lo=0.0, lo_open=False)


def one_of(option: str, value: str | None, allowed: Iterable[str]) -> str | None:
    """``value`` as the catalogue spells it (any case), None when the option was not given; a value outside
    ``allowed`` raises a usage error naming the option, the value, the closest allowed values and all of them."""
    if value is None:
        return None
    from inferchip.errors import closest

    known = sorted(set(allowed), key=str.lower)
    by_lower = {k.lower(): k for k in known}
    found = by_lower.get(value.strip().lower())
    if found is not None:
        return found
    near = closest(value, known)
    shown = value if len(value) <= 60 else value[:57] + "..."
    hint = f"closest: {', '.join(near)}; " if near else ""
    raise typer.BadParameter(f"{shown!r} is not in the catalogue; {hint}allowed: {', '.join(known)}",
                             param_hint=f"'{option}'")


def vendor_names(vendor: str) -> tuple[str, ...]:
    """The names a chip's vendor answers to: as the catalogue writes it, and without its parenthesis
    ("Intel (Habana)" answers to "Intel (Habana)" and to "Intel")."""
    short = vendor.split(" (", 1)[0].strip()
    return (vendor, short) if short and short != vendor else (vendor,)


@dataclass(frozen=True)
class ChipFilter:
    """Which chips ``inferchip chips`` lists (None: no condition). ``number_format``: a dense peak in that format is
    published (a key of ``ChipParams.peak_flop_per_s``: fp4 is NVFP4 (nvfp4 reads as fp4), mxfp4 the OCP MX format,
    each matched as the catalogue lists it); ``min_memory_bytes``: the memory capacity the table shows; ``name``: text
    inside the id or the name."""

    vendor: str | None = None
    system: str | None = None
    number_format: str | None = None
    min_memory_bytes: float | None = None
    name: str | None = None

    def keeps(self, *, chip_id: str, chip_name: str, vendor: str, system: str, formats: Iterable[str],
              memory_capacity_bytes: float) -> bool:
        if self.vendor is not None and self.vendor.lower() not in {v.lower() for v in vendor_names(vendor)}:
            return False
        if self.system is not None and system != self.system:
            return False
        if self.number_format is not None and self.number_format not in set(formats):
            return False
        if self.min_memory_bytes is not None and memory_capacity_bytes < self.min_memory_bytes:
            return False
        return self.name is None or self.name.lower() in chip_id.lower() or self.name.lower() in chip_name.lower()


@dataclass(frozen=True)
class ModelFilter:
    """Which models ``inferchip models`` lists (None: no condition). ``model_type``: the Hugging Face
    ``model_type`` (``vision`` for the vision networks); ``attention`` and ``moe`` hold only language models;
    the parameter bounds count every parameter (``total_params``), in B = 1e9."""

    model_type: str | None = None
    attention: str | None = None
    moe: bool | None = None
    min_params: float | None = None
    max_params: float | None = None
    name: str | None = None

    @property
    def language_only(self) -> bool:
        """A condition only a language model can meet: the vision networks are left out."""
        return self.attention is not None or self.moe is not None

    def keeps(self, *, model_id: str, model_type: str, attention: str | None, experts: int | None,
              total_params: float) -> bool:
        if self.model_type is not None and model_type != self.model_type:
            return False
        if self.attention is not None and attention != self.attention:
            return False
        if self.moe is not None and (experts is None or (experts > 0) != self.moe):
            return False
        if self.min_params is not None and total_params < self.min_params:
            return False
        if self.max_params is not None and total_params > self.max_params:
            return False
        return self.name is None or self.name.lower() in model_id.lower()


def name_text(value: str | None) -> str | None:
    """``--name`` as typed (None: not given); an empty or blank text is refused, one line naming the option, as
    ``explore`` refuses an empty item: every id holds it, so it would list the whole catalogue as if not given."""
    if value is not None and not value.strip():
        from inferchip.errors import InvalidSettingError

        raise InvalidSettingError(f"--name {value!r}: an empty text, which every id holds; allowed: a text with "
                                  "a character that is not a blank (leave --name out to list the whole catalogue)")
    return value


def chip_filter(*, vendor: str | None, system: str | None, number_format: str | None, min_memory_gb: float | None,
                name: str | None, vendors: Iterable[str], formats: Iterable[str]) -> ChipFilter:
    """The chips filter from the options as typed, checked against the catalogue's ``vendors`` and ``formats``; a
    number format by the one resolver of format names (``spec.formats.canonical_format``: nvfp4 is fp4, e4m3 fp8)."""
    from inferchip.spec.chip import ChipSpec
    from inferchip.spec.formats import canonical_format, unknown_format_reason

    if number_format is not None:
        why = unknown_format_reason(number_format)
        if why is not None:
            raise typer.BadParameter(f"{number_format!r}: {why}; allowed: {', '.join(sorted(set(formats)))}",
                                     param_hint="'--number-format'")
        number_format = canonical_format(number_format)

    names = [n for v in vendors for n in vendor_names(v)]
    systems = get_args(ChipSpec.model_fields["system"].annotation)  # the field's Literal: server, embedded_soc
    return ChipFilter(vendor=one_of("--vendor", vendor, names), system=one_of("--system", system, systems),
                      number_format=one_of("--number-format", number_format, formats),
                      min_memory_bytes=None if min_memory_gb is None else min_memory_gb * 1e9,
                      name=name_text(name))


def model_filter(*, model_type: str | None, attention: str | None, moe: bool | None, min_params_b: float | None,
                 max_params_b: float | None, name: str | None, model_types: Iterable[str],
                 attentions: Iterable[str]) -> ModelFilter:
    """The models filter from the options as typed, checked against the catalogue's ``model_types``/``attentions``;
    ``--min-params`` above ``--max-params`` is refused, naming both."""
    if min_params_b is not None and max_params_b is not None and min_params_b > max_params_b:
        raise typer.BadParameter(f"{min_params_b:g} is above --max-params {max_params_b:g}; no model can match",
                                 param_hint="'--min-params'")
    return ModelFilter(model_type=one_of("--model-type", model_type, model_types),
                       attention=one_of("--attention", attention, attentions), moe=moe,
                       min_params=None if min_params_b is None else min_params_b * 1e9,
                       max_params=None if max_params_b is None else max_params_b * 1e9, name=name_text(name))
