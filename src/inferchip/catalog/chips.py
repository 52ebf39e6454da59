"""The bundled chip catalogue: one YAML per chip under ``chips/`` plus ``families.yaml``.

A chip YAML is a :class:`~inferchip.spec.chip.ChipSpec` with datasheet units (TFLOP/s,
TB/s, GB/s, W, USD); its ``family`` selects the micro-architecture defaults
(:class:`~inferchip.spec.chip.FamilyDefaults`) in ``families.yaml``. :func:`get_chip_params`
turns both into SI :class:`~inferchip.spec.chip.ChipParams` for the cost models, at the
``low``, ``central`` or ``high`` value of estimated (Range) figures.

``load_chip`` takes a catalogue id or a path to a user's YAML. Malformed files raise
:class:`~inferchip.errors.SpecError` naming the file, the field and the value; unknown ids
raise :class:`~inferchip.errors.UnknownIdError` with the closest ids.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from inferchip.catalog.yaml_io import is_file, not_a_file, read_mapping, validate
from inferchip.errors import InvalidSettingError, SpecError, UnknownIdError
from inferchip.spec.bounds import Range, pick
from inferchip.spec.chip import (
    ChipParams,
    ChipSpec,
    EstimateLevel,
    FamilyDefaults,
    chip_params,
)
from inferchip.units import GIB

_DATA = Path(__file__).parent
_CHIPS_DIR = _DATA / "chips"
_FAMILIES_YAML = _DATA / "families.yaml"
_LEVELS = ("low", "central", "high")


@lru_cache(maxsize=1)
def _bundled() -> dict[str, Path]:
    return {p.stem: p for p in sorted(_CHIPS_DIR.glob("*.yaml"))}


def chip_ids() -> list[str]:
    """Ids of the bundled chips, sorted."""
    return sorted(_bundled())


@lru_cache(maxsize=1)
def _families() -> dict[str, FamilyDefaults]:
    data = read_mapping(_FAMILIES_YAML)
    out: dict[str, FamilyDefaults] = {}
    for name, body in data.items():
        if str(name).startswith("x-"):  # shared YAML anchors (source records), not a family
            continue
        if not isinstance(body, dict):
            raise SpecError(f"{_FAMILIES_YAML}: {name} = {body!r}: expected a mapping of defaults")
        out[str(name)] = validate(FamilyDefaults, body, f"{_FAMILIES_YAML} (family '{name}')")
    return out


def family_names() -> list[str]:
    """Families a chip YAML may name, sorted (``generic`` is meant for user chips)."""
    return sorted(_families())


def family_defaults(family: str) -> FamilyDefaults:
    """Micro-architecture defaults of ``family``; unknown family -> SpecError listing the allowed ones."""
    fams = _families()
    if family not in fams:
        raise SpecError(f"unknown chip family '{family}'; allowed: {', '.join(sorted(fams))}")
    return fams[family]


def _looks_like_path(given: str) -> bool:
    return given.endswith((".yaml", ".yml", ".json")) or "/" in given or "\\" in given


def _load_path(path: Path) -> ChipSpec:
    try:
        mtime_ns = path.stat().st_mtime_ns
    except OSError:
        mtime_ns = -1  # read_mapping reports the missing file
    return _load_cached(path, mtime_ns)


@lru_cache(maxsize=256)
def _load_cached(path: Path, mtime_ns: int) -> ChipSpec:
    """Parse and validate once per (file, modification time), so an edited user file is re-read."""
    data = read_mapping(path)
    spec = validate(ChipSpec, data, str(path))
    if spec.family not in _families():
        raise SpecError(
            f"{path}: family = {spec.family!r}: unknown family; allowed: {', '.join(family_names())}"
        )
    _check_reserve(spec, _families()[spec.family], path)
    _check_price(spec, path)
    return spec


def _check_price(spec: ChipSpec, path: Path) -> None:
    """Refuse a price below what the chip's own off-chip memory costs at the shipped price per GiB
    (catalog/assumptions.yaml ``silicon.memory_usd_per_gib``): a price typed in thousands of dollars (27.5 for an
    H100's $27,500) priced every $ figure a thousand times too low, without a word. The catalogue's cheapest
    price against its memory is 3.5 times it (Tesla AI5's and MI455X's low prices)."""
    price = pick(spec.price.usd, "low")
    gib = spec.memory.off_chip_gib("low")
    if not price or gib <= 0:
        return
    from inferchip.catalog.assumptions import load_assumptions

    per_gib = load_assumptions(None).table("silicon.memory_usd_per_gib").get(spec.memory.technology())
    if per_gib is None or price >= gib * per_gib:
        return
    shown = pick(spec.price.usd, "low")
    raise SpecError(
        f"{path}: price.usd = {shown:g}{' (its low value)' if isinstance(spec.price.usd, Range) else ''}: below "
        f"the chip's own memory, {gib:,.4g} GiB of {spec.memory.technology()} at {per_gib:g} USD/GiB = "
        f"{gib * per_gib:,.0f} USD (catalog/assumptions.yaml silicon.memory_usd_per_gib); allowed: at least that, "
        "in US dollars; is it in thousands of dollars?")


def _check_reserve(spec: ChipSpec, fam: FamilyDefaults, path: Path) -> None:
    """Refuse a chip whose family's runtime reserve takes all of its memory (a user's 900 MB SRAM part in the
    ``generic`` family, whose reserve is 2 GiB): every model was refused 'short by' its whole size with 0 GB usable,
    and the advice never named the reserve or how to state what the runtime leaves."""
    m = spec.memory
    if m.usable_capacity_gib is not None or fam.runtime_reserve_gib <= 0:
        return
    for level in _LEVELS:
        if m.capacity_bytes(level) <= fam.runtime_reserve_gib * GIB:  # type: ignore[arg-type]
            shown = pick(m.capacity, level)  # type: ignore[arg-type]
            raise SpecError(
                f"{path}: memory.capacity = {shown:g} {m.capacity_unit}"
                f"{f' (its {level} value)' if isinstance(m.capacity, Range) else ''}: not above the {spec.family} "
                f"family's runtime reserve of {fam.runtime_reserve_gib:g} GiB (catalog/families.yaml "
                "runtime_reserve_gib), so nothing is left for weights; allowed: a capacity above the reserve, or "
                "memory.usable_capacity_gib for what the runtime leaves (all of it for compiler-managed SRAM), or a "
                "family without a reserve (groq, cerebras)")


def load_chip(id_or_path: str | Path) -> ChipSpec:
    """A bundled chip by id, or a user's chip YAML by path.

    Raises UnknownIdError (with the closest ids) for an unknown id, SpecError for a missing or
    malformed file (naming the file, the field and the value).
    """
    if isinstance(id_or_path, Path):
        return _load_path(id_or_path.resolve())
    given = str(id_or_path).strip()
    bundled = _bundled()
    if given in bundled:
        return _load_path(bundled[given])
    if _looks_like_path(given) or is_file(Path(given)):
        path = Path(given).expanduser()
        if not is_file(path):
            raise SpecError(not_a_file(path, "chip"))
        return _load_path(path.resolve())
    raise UnknownIdError("chip", given, chip_ids())


def all_chips() -> list[ChipSpec]:
    """Every bundled chip, in id order."""
    return [load_chip(i) for i in chip_ids()]


def get_chip_params(id_or_path: str | Path, level: EstimateLevel = "central") -> ChipParams:
    """SI parameters of a chip (catalogue id or YAML path) at an estimate level of its Range figures."""
    if level not in _LEVELS:
        raise InvalidSettingError(f"estimate level '{level}' not allowed; use one of {', '.join(_LEVELS)}")
    spec = load_chip(id_or_path)
    return chip_params(spec, family_defaults(spec.family), level)
