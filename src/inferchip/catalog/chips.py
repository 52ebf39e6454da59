"""The bundled chip catalogue: one YAML per chip under ``chips/`` plus ``families.yaml``.

A chip YAML is a :class:`~inferchip.spec.chip.ChipSpec` with datasheet units (TFLOP/s,
TB/s, GB/s, W, USD); its ``family`` selects the micro-architecture defaults
(:class:`~inferchip.spec.chip.FamilyDefaults`) in ``families.yaml``. :func:`get_chip_params`
turns both into SI :class:`~inferchip.spec.chip.ChipParams` for the cost models, at the
``low``, ``central`` or ``high`` value of estimated (Range) figures.

``load_chip`` takes a catalogue id or a user's YAML path. Malformed files raise :class:`~inferchip.errors.SpecError`
naming the file, the field and the value; unknown ids :class:`~inferchip.errors.UnknownIdError` with the closest ids.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from functools import lru_cache
from pathlib import Path

from inferchip.catalog.yaml_io import is_file, not_a_file, read_mapping, validate
from inferchip.errors import InvalidSettingError, SpecError, UnknownIdError
from inferchip.input_files import user_path
from inferchip.spec.bounds import Figure, Range, pick
from inferchip.spec.chip import (
    ChipParams,
    ChipSpec,
    EstimateLevel,
    FamilyDefaults,
    chip_params,
    left_out_note,
)
from inferchip.spec.vision import is_cpu_family
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
    _check_peak_density(spec, path)
    _check_float_peaks(spec, path)
    _check_tdp(spec, path)
    _check_heat_flux(spec, path)
    return spec


# A narrower float format never runs slower than a wider one on the same chip: every catalogue chip with both has
# fp8 >= bf16/fp16 and fp4/mxfp4 >= fp8 (H100 1,978.9 >= 989.4; B200 9,000 >= 4,500 >= 2,250). Integer formats are
# not bounded so: Blackwell Ultra's int8 (150 TFLOP/s on B300) really is below its bf16.
_FLOAT_ORDER = (("fp8", ("bf16", "fp16")), ("fp4", ("fp8",)), ("mxfp4", ("fp8",)))
# The densest catalogue die with a sourced (single-valued) area and 16-bit peak: MI355X, 2,516.6 TFLOP/s over
# 8 x 110 mm2 XCDs on TSMC N3P = 2.86 TFLOP/s per mm2 (tests/test_fuzz_chip_peak_units.py keeps it the densest).
# The bound is 10 times that, an inferchip estimate (branch newuser41b): it clears the catalogue's estimated dies
# (Rubin 5.2 per mm2) and two to three logic-density doublings; below 3 nm it grows as (3 / node)^2.
DENSEST_BF16_TFLOPS_PER_MM2 = 2.86
DENSITY_MARGIN = 10.0
# Bare arithmetic energy at 45 nm, Horowitz, 'Computing's Energy Problem', ISSCC 2014 (Fig. 1.1.9): 16-bit FP
# multiply 1.1 pJ + 16-bit FP add 0.4 pJ = 1.5 pJ per FMA (2 FLOP); 8-bit integer multiply 0.2 pJ + 8-bit add
# 0.03 pJ = 0.23 pJ per MAC (2 OP); 32-bit FP multiply 3.7 pJ + add 0.9 pJ = 4.6 pJ per FMA (the fp32 and vector
# peaks, which are most of a CPU's). Operand delivery is left out, so these are floors: a peak whose arithmetic alone
# draws more than the TDP cannot be (catalog/assumptions.yaml energy.node_energy_factor scales them to the node).
FP16_FLOP_PJ_AT_45NM = 1.5 / 2
INT8_OP_PJ_AT_45NM = 0.23 / 2
FP32_FLOP_PJ_AT_45NM = 4.6 / 2
# Formats Horowitz does not list (quality42), from his own multiplier figures: an 8-bit integer multiply is 0.2 pJ
# and a 32-bit one 3.1 pJ, 15.5 times for 4 times the width: an array multiplier's energy grows as its width squared
# (width^2 partial-product cells). Each takes only the multiply of its narrowest significand (hidden bit included),
# no exponent, rounding or accumulate: a floor. fp8: E5M2's 3 bits (E4M3 has 4; OCP 8-bit Floating Point
# Specification (OFP8) rev 1.0, 2023), 0.2 x (3/8)^2 = 0.028 pJ per MAC; fp4 and mxfp4: E2M1's 2 bits (OCP
# Microscaling Formats (MX) v1.0, 2023), 0.2 x (2/8)^2 = 0.0125 pJ; int4: 0.2 x (4/8)^2 = 0.05 pJ. tf32 multiplies
# fp16's 11-bit significand (10 stored + hidden) and accumulates at least as wide: at least the 16-bit FMA.
FP8_FLOP_PJ_AT_45NM = 0.2 * (3 / 8) ** 2 / 2
FP4_FLOP_PJ_AT_45NM = 0.2 * (2 / 8) ** 2 / 2
INT4_OP_PJ_AT_45NM = 0.2 * (4 / 8) ** 2 / 2
# Above this share of the TDP a note is added: every catalogue chip with a TDP stays at or below 0.14 of it at its
# central figures (TPU v6e), except Untether AI's speedAI240 (0.67, its peaks and TDP partly estimates).
TDP_ARITHMETIC_NOTE_SHARE = 0.25
# Below this share a note asks whether the TDP is in mW (a chip without die area, which _check_heat_flux cannot
# bound): the catalogue's lowest is 8.1e-4 (Intel Core i9-13900K, fp32 vector alone), every accelerator's at least
# 0.017 (AWS Trainium3); a TDP typed 1,000 times high puts every catalogue accelerator but Untether's below it
# (review42; tests/test_tdp_milliwatts_without_area.py).
TDP_HIGH_NOTE_SHARE = 1e-4


_PJ = {"bf16": FP16_FLOP_PJ_AT_45NM, "fp16": FP16_FLOP_PJ_AT_45NM, "tf32": FP16_FLOP_PJ_AT_45NM,
       "int8": INT8_OP_PJ_AT_45NM, "fp32": FP32_FLOP_PJ_AT_45NM, "vector fp32": FP32_FLOP_PJ_AT_45NM,
       "fp8": FP8_FLOP_PJ_AT_45NM, "fp4": FP4_FLOP_PJ_AT_45NM, "mxfp4": FP4_FLOP_PJ_AT_45NM,
       "int4": INT4_OP_PJ_AT_45NM}
_PJ_TEXT = {"bf16": "1.5 pJ per 16-bit FMA", "fp16": "1.5 pJ per 16-bit FMA", "tf32": "1.5 pJ per 16-bit FMA",
            "int8": "0.23 pJ per int8 MAC", "fp32": "4.6 pJ per fp32 FMA", "vector fp32": "4.6 pJ per fp32 FMA",
            "fp8": "0.028 pJ per fp8 significand multiply", "fp4": "0.0125 pJ per fp4 significand multiply",
            "mxfp4": "0.0125 pJ per fp4 significand multiply", "int4": "0.05 pJ per int4 multiply"}


def _at(value: Figure | None, level: EstimateLevel) -> float | None:
    x = pick(value, level)
    return None if x is None else float(x)


def _peak(spec: ChipSpec, fmt: str, level: EstimateLevel) -> float | None:
    return _at(spec.compute.dense_tflops.get(fmt), level)


def _check_float_peaks(spec: ChipSpec, path: Path) -> None:
    """Refuse a float peak below the next wider float format's on the same chip (an fp8 typed as 98.9 for 989)."""
    for narrow, wides in _FLOAT_ORDER:
        for wide in wides:
            lo, hi = _peak(spec, narrow, "high"), _peak(spec, wide, "low")
            if lo is not None and hi is not None and 0 < lo < hi:
                raise SpecError(
                    f"{path}: compute.dense_tflops.{narrow} = {lo:,g}: below its {wide} peak of {hi:,g} TFLOP/s; "
                    f"allowed: at least the {wide} peak (a narrower float format runs at least as fast on the same "
                    f"units: H100 fp8 1,978.9 against bf16 989.4); is a digit missing, or is the {wide} peak sparse?")


def _node_factor(node_nm: float) -> float:
    """Dynamic energy per operation at ``node_nm`` relative to 45 nm, as the energy model reads the shipped node
    table (spec.assumptions.EnergyAssumptions.node_factor: log-log between tabulated nodes). Above 45 nm it extends
    the 28-45 nm line, C ~ L at a held 0.9 V; older planar nodes ran at higher supplies (1.8 V at 180 nm:
    GreenArrays' '180nm CMOS' note, www.greenarraychips.com), so E ~ C V^2 there is above it: a lower
    energy, the lenient side for a floor."""
    from inferchip.catalog.assumptions import load_assumptions

    return float(load_assumptions(None).energy.node_factor(node_nm))


def arithmetic_w(spec: ChipSpec, level: EstimateLevel) -> tuple[float, str, float] | None:
    """(W, format, TFLOP/s): the bare arithmetic power of the chip's dense or fp32 vector peak at ``level`` that
    draws the most (Horowitz's 45 nm energies at its node; the smallest tabulated node where none is given); None
    without a peak at ``level``."""
    node = spec.silicon.node_nm if spec.silicon is not None else None
    factor = _node_factor(float(node) if node else 2.0)
    vector = spec.compute.vector_tflops
    best: tuple[float, str, float] | None = None
    for fmt, pj in _PJ.items():
        p = _peak(spec, fmt, level) if fmt != "vector fp32" else _at(vector, level)
        if p:
            w = p * 1e12 * pj * 1e-12 * factor
            if best is None or w > best[0]:
                best = (w, fmt, p)
    return best


def _check_tdp(spec: ChipSpec, path: Path) -> None:
    """Refuse a TDP below the bare arithmetic power of the chip's own peak (a TDP typed in kW, 0.7 for 700 W,
    loaded and stretched every step 210 times under a 'clocks throttle' note)."""
    if spec.power is None or spec.power.tdp_w is None:
        return
    tdp = _at(spec.power.tdp_w, "high") or 0.0
    got = arithmetic_w(spec, "low")
    if got is None or tdp <= 0 or got[0] <= tdp:
        return
    w, fmt, peak = got
    node = spec.silicon.node_nm if spec.silicon is not None and spec.silicon.node_nm else None
    where = f"{node:g} nm (its silicon.node_nm)" if node else "a 2 nm node"
    raise SpecError(
        f"{path}: power.tdp_w = {tdp:,g}: below the bare arithmetic of its own {fmt} peak "
        f"({peak:,g} TFLOP/s x "
        f"{_PJ_TEXT[fmt]} at 45 nm, Horowitz ISSCC 2014, scaled to {where} by "
        f"catalog/assumptions.yaml energy.node_energy_factor = {w:,.3g} W); allowed: above that, in W; is it in kW?"
        + (" Or is silicon.node_nm too large?" if node else ""))


# The most heat removed from a chip by any cooling demonstrated: 1.7 kW/cm2 = 17 W/mm2, microfluidic channels etched
# into the die (van Erp et al., 'Co-designing electronics with microfluidics for more sustainable cooling', Nature
# 585, 211-216, 2020, doi:10.1038/s41586-020-2666-1). A board's TDP over its compute dies' area stays far below it:
# the catalogue's highest is 2.3 W/mm2 (MI455X, high TDP over low area; tests/test_fuzz_chip_tdp_heat_flux.py).
MAX_HEAT_FLUX_W_PER_MM2 = 17.0


def _check_heat_flux(spec: ChipSpec, path: Path) -> None:
    """Refuse a TDP above what any cooling removes from the chip's compute dies (a TDP typed in mW, 700,000 for
    700 W, loaded and multiplied the modelled power, a share of the TDP, by a thousand)."""
    si = spec.silicon
    if spec.power is None or spec.power.tdp_w is None or si is None or si.die_area_mm2 is None:
        return
    tdp = _at(spec.power.tdp_w, "low") or 0.0
    area = (_at(si.die_area_mm2, "high") or 0.0) * si.compute_die_count
    if area <= 0 or tdp / area <= MAX_HEAT_FLUX_W_PER_MM2:
        return
    raise SpecError(
        f"{path}: power.tdp_w = {tdp:,g}: {tdp / area:,.3g} W per mm2 of compute die ({area:,g} mm2 = "
        f"silicon.die_area_mm2 x compute_die_count); allowed: at most {MAX_HEAT_FLUX_W_PER_MM2:g} W per mm2, the "
        "most heat any chip cooling has removed (1.7 kW/cm2, microfluidic channels in the die: van Erp et al., "
        "Nature 585, 2020); is it in mW? (tdp_w is in W)")


def tdp_note(spec: ChipSpec) -> str | None:
    """A note where the bare arithmetic of the central peak takes more than a quarter of the central TDP (a TDP
    typed ten times low, or a peak ten times high), or less than :data:`TDP_HIGH_NOTE_SHARE` of it (a TDP typed in
    mW on a chip without die area), else None."""
    if spec.power is None or spec.power.tdp_w is None:
        return None
    tdp = _at(spec.power.tdp_w, "central") or 0.0
    got = arithmetic_w(spec, "central")
    if got is not None and 0 < got[0] < TDP_HIGH_NOTE_SHARE * tdp:
        return (f"power.tdp_w = {tdp:,g} W is high for its {got[1]} peak: the bare arithmetic (Horowitz ISSCC 2014 "
                f"at its node) draws {got[0]:,.3g} W, {100 * got[0] / tdp:.2g}% of it, where every catalogue chip "
                "draws over 0.08%; is it in mW? (tdp_w is in W; with silicon.die_area_mm2 the load bounds it)")
    if got is None or tdp <= 0 or got[0] <= TDP_ARITHMETIC_NOTE_SHARE * tdp:
        return None
    return (f"power.tdp_w = {tdp:,g} W is low for its {got[1]} peak: the bare arithmetic alone (Horowitz ISSCC "
            f"2014 at its node) draws {got[0]:,.3g} W, {got[0] / tdp:.0%} of it, where catalogue chips with sourced "
            "figures stay under a quarter; check power.tdp_w (W) and compute.dense_tflops (TFLOP/s, dense)")


def _check_peak_density(spec: ChipSpec, path: Path) -> None:
    """Refuse a 16-bit peak denser per mm2 of compute die than the bound above (a peak typed in GFLOP/s)."""
    si = spec.silicon
    if si is None or si.die_area_mm2 is None:
        return
    area = (_at(si.die_area_mm2, "high") or 0.0) * si.compute_die_count
    node = float(si.node_nm) if si.node_nm else 2.0
    bound = DENSITY_MARGIN * DENSEST_BF16_TFLOPS_PER_MM2 * max(1.0, (3.0 / node) ** 2)
    for fmt in ("bf16", "fp16"):
        p = _peak(spec, fmt, "low")
        if p and area > 0 and p / area > bound:
            raise SpecError(
                f"{path}: compute.dense_tflops.{fmt} = {p:,g}: {p / area:,.3g} TFLOP/s per mm2 of compute die "
                f"({area:,g} mm2 = silicon.die_area_mm2 x compute_die_count); allowed: at most {bound:,.3g} per mm2 "
                f"at {node:g} nm (10 x the catalogue's densest sourced die, MI355X's 2.86 at 3 nm: an inferchip "
                "estimate); is it in GFLOP/s? (dense_tflops is TFLOP/s)")


def _check_price(spec: ChipSpec, path: Path) -> None:
    """Refuse a price below what the chip's own off-chip memory costs at the shipped price per GiB
    (catalog/assumptions.yaml ``silicon.memory_usd_per_gib``): a price typed in thousands of dollars (27.5 for an
    H100's $27,500) priced every $ figure a thousand times too low, without a word. The catalogue's cheapest
    price against its memory is 3.5 times it (Tesla AI5's and MI455X's low prices). A CPU (``*-cpu`` family) is
    left out: its list price does not include its system DRAM, which can cost more (2 TiB of DDR5 on a $2,189 Xeon
    w7-2495X)."""
    if is_cpu_family(spec.family):
        return
    price = pick(spec.price.usd, "low")  # never 0: spec.bounds.USD refuses it
    gib = spec.memory.off_chip_gib("low")
    if price is None or gib <= 0:
        return
    from inferchip.catalog.assumptions import load_assumptions

    per_gib = load_assumptions(None).table("silicon.memory_usd_per_gib").get(spec.memory.technology())
    if per_gib is None or price >= gib * per_gib:
        return
    raise SpecError(
        f"{path}: price.usd = {price:g}{' (its low value)' if isinstance(spec.price.usd, Range) else ''}: below "
        f"the chip's own memory, memory.capacity {gib:,.4g} GiB of {spec.memory.technology()} at {per_gib:g} USD/GiB"
        f" = {gib * per_gib:,.0f} USD (catalog/assumptions.yaml silicon.memory_usd_per_gib); allowed: at least that, "
        "in US dollars; is the price in thousands of dollars, or memory.capacity in the wrong unit?")


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


def resolve_chip_id(given: str) -> str:
    """The catalogue id ``given`` names in any case ("NVIDIA-H100-SXM-80GB" -> "nvidia-h100-sxm-80gb", as model ids
    are matched: ``catalog.models``); a path, or an id no catalogue chip has, stripped and as it is (where the
    loader opens or refuses it). The one resolver of every reader of chip ids: ``--chip`` and the other chip options,
    case files, claim files."""
    g = str(given).strip()
    bundled = _bundled()
    if g in bundled or _looks_like_path(g) or is_file(Path(g)):
        return g
    return {k.lower(): k for k in bundled}.get(g.lower(), g)


ChipInput = str | Path | ChipSpec  # a catalogue id, a chip YAML's path, or a ChipSpec (load_chip's, or built in code)


def load_chip(id_or_path: ChipInput) -> ChipSpec:
    """A bundled chip by id, or a user's chip YAML by path (a ChipSpec is returned as it is). Raises UnknownIdError
    (with the closest ids) for an unknown id, SpecError for a missing or malformed file (naming the file, the field
    and the value), InvalidSettingError for another type (None was "unknown chip 'None'. Closest: sambanova-sn40l").
    """
    if isinstance(id_or_path, ChipSpec):
        return id_or_path
    if not isinstance(id_or_path, str | Path):
        raise InvalidSettingError(f"chip: {id_or_path!r} ({type(id_or_path).__name__}) names no chip; allowed: a "
                                  "catalogue id, a chip YAML path, a ChipSpec (ic.load_chip) or a ChipParams")
    if isinstance(id_or_path, Path):
        return _load_path(id_or_path.resolve())
    given = resolve_chip_id(str(id_or_path))
    bundled = _bundled()
    if given in bundled:
        return _load_path(bundled[given])
    if _looks_like_path(given) or is_file(Path(given)):
        path = user_path(given)
        if not is_file(path):
            raise SpecError(not_a_file(path, "chip"))
        return _load_path(path.resolve())
    raise UnknownIdError("chip", given, chip_ids())


def all_chips() -> list[ChipSpec]:
    """Every bundled chip, in id order."""
    return [load_chip(i) for i in chip_ids()]


def get_chip_params(id_or_path: ChipInput, level: EstimateLevel = "central") -> ChipParams:
    """SI parameters of a chip (catalogue id, YAML path or ChipSpec) at an estimate level of its Range figures."""
    if level not in _LEVELS:
        raise InvalidSettingError(f"estimate level '{level}' not allowed; use one of {', '.join(_LEVELS)}")
    spec = load_chip(id_or_path)
    params = chip_params(spec, fam := family_defaults(spec.family), level)
    bundled = spec.id in _bundled() and spec == load_chip(spec.id)  # the catalogue's chip as an id, file or ChipSpec
    notes = [n for n in (None if bundled else left_out_note(spec, fam, params), tdp_note(spec)) if n is not None]
    return replace(params, notes=(*params.notes, *notes)) if notes else params


def spoken_name(name: str) -> str:
    """A chip's catalogue name without its parenthesised detail, as a sentence names it ("AI5 (next-gen FSD/Optimus/
    datacenter inference chip)" -> "AI5")."""
    return name.split(" (", 1)[0].strip() or name


def chip_namer(names: Mapping[str, str]) -> Callable[[str], str]:
    """id -> the name a sentence gives a chip: :func:`spoken_name` of ``names`` (id -> name), else of the catalogue's
    entry, else the id itself (a chip given as parameters under an id the catalogue does not know)."""
    known = {k: spoken_name(v) for k, v in names.items()}

    def name(chip_id: str) -> str:
        if chip_id not in known:
            known[chip_id] = spoken_name(load_chip(chip_id).name) if chip_id in chip_ids() else chip_id
        return known[chip_id]

    return name
