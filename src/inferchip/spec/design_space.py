"""A chip design space: the parameters a design-space exploration varies, each a list of values.

The space file is YAML::

    name: small-inference
    max_dies: 2                      # chiplets allowed per package (1: no split, refuse over the reticle)
    parameters:
      matrix_units: [64, 128, 256]   # a list of values ...
      clock_ghz: {low: 1.2, high: 2.0, steps: 5}   # ... or an evenly spaced range
      formats: [bf16, bf16+fp8, bf16+fp8+fp4]

A parameter the file does not name takes its default (:data:`DEFAULTS`, one value). Units are
in the names: ``_ghz``, ``_mb`` (1e6 bytes), ``_gb_per_s`` (1e9 B/s per direction), ``_nm``.
``memory_units`` counts HBM stacks, or 32-bit channels of GDDR/LPDDR memory. SoC blocks make a
driving SoC expressible: ``cpu_cores`` (Cortex-A72-class cores, area per node from the design
model) and ``soc_other_mm2`` (GPU, ISP, video blocks, mm2 at the design's node). Unknown
parameters, empty lists, ranges with ``low > high`` and values outside :data:`LIMITS` are
refused, naming the file, the field and what is allowed.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from inferchip.errors import SpecError

FORMAT_SETS = ("bf16", "bf16+fp8", "bf16+fp8+fp4")
MEMORY_TYPES = ("hbm3e", "hbm3", "hbm2e", "gddr6", "lpddr5x")
NUMERIC = ("matrix_units", "matrix_unit_dim", "clock_ghz", "sram_mb", "memory_units", "link_count",
           "link_gb_per_s", "node_nm", "chips_per_board", "cpu_cores", "soc_other_mm2")
CATEGORICAL = {"formats": FORMAT_SETS, "memory_type": MEMORY_TYPES}
PARAMETERS = (*NUMERIC[:4], "formats", "memory_type", *NUMERIC[4:])
INTEGER = {"matrix_units", "matrix_unit_dim", "memory_units", "link_count", "chips_per_board", "cpu_cores"}
# Physical limits of one value (inclusive): beyond them a design is not a chip.
LIMITS: dict[str, tuple[float, float]] = {
    "matrix_units": (1, 65536), "matrix_unit_dim": (4, 1024), "clock_ghz": (0.1, 5.0), "sram_mb": (0, 100000),
    "memory_units": (0, 64), "link_count": (0, 256), "link_gb_per_s": (0, 2000), "node_nm": (2, 28),
    "chips_per_board": (1, 72), "cpu_cores": (0, 256), "soc_other_mm2": (0, 800),
}
# Defaults of a parameter the file leaves out: an H100-like part (inferchip choice: 256 units of 32 x 32
# MACs at 1.8 GHz = 944 TFLOP/s bf16, near the H100 SXM's 989; 5 HBM3 stacks, 18 x 25 GB/s links).
DEFAULTS: dict[str, Any] = {
    "matrix_units": 256, "matrix_unit_dim": 32, "clock_ghz": 1.8, "sram_mb": 80.0, "formats": "bf16+fp8",
    "memory_type": "hbm3", "memory_units": 5, "link_count": 18, "link_gb_per_s": 25.0, "node_nm": 5.0,
    "chips_per_board": 8, "cpu_cores": 0, "soc_other_mm2": 0.0,
}


class _Range(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)  # strict: YAML `true` is no bound
    low: float
    high: float
    steps: int = Field(ge=1, le=1000)

    @model_validator(mode="after")
    def _order(self) -> _Range:
        if self.low > self.high:
            raise ValueError(f"empty range: low {self.low:g} > high {self.high:g}")
        if self.steps == 1 and self.low != self.high:
            raise ValueError("a range with steps 1 needs low == high")
        return self

    def values(self) -> list[float]:
        return [float(v) for v in np.linspace(self.low, self.high, self.steps)]


class SpaceFile(BaseModel):
    """The space file as written (validated); :meth:`DesignSpace.from_dict` turns it into value lists
    (the file itself is read by ``explore.designs.load_space``)."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)  # strict: YAML `true` is no count
    name: str = "space"
    max_dies: int = Field(2, ge=1, le=16, description="compute dies allowed per package (chiplets)")
    parameters: dict[str, Any] = Field(default_factory=dict)

    @field_validator("parameters")
    @classmethod
    def _known(cls, v: dict[str, Any]) -> dict[str, Any]:
        bad = [k for k in v if k not in PARAMETERS]
        if bad:
            raise ValueError(f"unknown parameter(s) {bad}; allowed: {', '.join(PARAMETERS)}")
        out: dict[str, Any] = {}
        for k, vals in v.items():
            if isinstance(vals, dict):
                try:
                    vals = _Range.model_validate(vals)
                except ValidationError as exc:
                    where = ".".join([k, *(str(x) for x in exc.errors()[0]["loc"])])
                    raise ValueError(f"{_space_error({**exc.errors()[0], 'loc': (where,)})} (a range is "
                                     "{low, high, steps})") from exc
            elif not isinstance(vals, list):
                raise ValueError(f"{k}: give a list of values or a range {{low, high, steps}}, got {vals!r}")
            out[k] = vals
            vals = vals.values() if isinstance(vals, _Range) else vals
            if not vals:
                raise ValueError(f"{k}: empty list of values; give at least one")
            if k in CATEGORICAL:
                wrong = [x for x in vals if x not in CATEGORICAL[k]]
                if wrong:
                    raise ValueError(f"{k}: unknown value(s) {wrong}; allowed: {', '.join(CATEGORICAL[k])}")
                continue
            lo, hi = LIMITS[k]
            for x in vals:
                if isinstance(x, bool) or not isinstance(x, (int, float)):
                    raise ValueError(f"{k}: value {x!r} is not a number")
                if not lo <= x <= hi:
                    raise ValueError(f"{k}: value {x:g} outside [{lo:g}, {hi:g}]")
                if k in INTEGER and float(x) != int(x):
                    raise ValueError(f"{k}: value {x:g} must be a whole number")
            if len(set(vals)) != len(vals):
                raise ValueError(f"{k}: values repeat: {vals}")
        return out


_TYPE_WORDS = {"int_type": "must be a whole number (not true/false, text or a fraction)",
               "float_type": "must be a number (not true/false or text)", "string_type": "must be text"}


def _space_error(e: Any) -> str:
    """One pydantic error of a space file in the user's words: the field, the value where it is one number or
    word, what is wrong and what is allowed (not pydantic's "Value error, " or "Extra inputs are not permitted")."""
    loc = ".".join(str(x) for x in e["loc"])
    if e["type"] == "extra_forbidden":
        return f"field '{loc}': unknown field; allowed: {', '.join(SpaceFile.model_fields)}"
    msg = _TYPE_WORDS.get(e["type"], str(e["msg"]).replace("Value error, ", ""))
    got = e.get("input")
    shown = f" = {got!r}" if isinstance(got, (int, float, str)) and len(repr(got)) <= 60 else ""
    return f"field '{loc}'{shown}: {msg}"


class DesignSpace:
    """Value lists per parameter (in :data:`PARAMETERS` order); a design is one index per parameter."""

    def __init__(self, values: dict[str, list[Any]], name: str = "space", max_dies: int = 2):
        self.name = name
        self.max_dies = max_dies
        self.values: dict[str, list[Any]] = {}
        self.defaulted = tuple(p for p in PARAMETERS if p not in values)  # left out of the file: DEFAULTS taken
        for p in PARAMETERS:
            vals = values.get(p, [DEFAULTS[p]])
            self.values[p] = [v if p in CATEGORICAL else (int(v) if p in INTEGER else float(v)) for v in vals]

    @classmethod
    def from_dict(cls, raw: Any, where: str = "space") -> DesignSpace:
        if not isinstance(raw, dict):
            raise SpecError(f"{where}: a space file is a mapping with 'parameters'; got {type(raw).__name__}")
        try:
            f = SpaceFile.model_validate(raw)
        except ValidationError as exc:
            raise SpecError(f"{where}: {_space_error(exc.errors()[0])}") from exc
        vals = {k: (v.values() if isinstance(v, _Range) else list(v)) for k, v in f.parameters.items()}
        return cls(vals, f.name, f.max_dies)

    def defaults_line(self) -> str | None:
        """The parameters the space leaves out and the one value each takes (:data:`DEFAULTS`), for the output."""
        if not self.defaulted:
            return None
        taken = ", ".join(f"{p} {_plain(self.values[p][0])}" for p in self.defaulted)
        return (f"not in the space file, so at one default each (an H100-like part, spec/design_space.py DEFAULTS): "
                f"{taken}")

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(len(self.values[p]) for p in PARAMETERS)

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    def to_json(self) -> str:
        return json.dumps({"name": self.name, "max_dies": self.max_dies, "values": self.values}, sort_keys=True)

    @property
    def space_hash(self) -> str:
        """Hash of what the space contains (its values and die limit; not its name)."""
        body = json.dumps({"max_dies": self.max_dies, "values": self.values}, sort_keys=True)
        return hashlib.sha256(body.encode()).hexdigest()[:16]

    def grid(self) -> np.ndarray:
        """Every design's index vector, (size x parameters), in C order."""
        return np.indices(self.shape).reshape(len(PARAMETERS), -1).T.astype(np.int64)

    def decode(self, idx: np.ndarray) -> dict[str, np.ndarray]:
        """Index vectors (n x parameters) -> value arrays per parameter (categoricals as str arrays)."""
        idx = np.asarray(idx, dtype=np.int64).reshape(-1, len(PARAMETERS))
        return {p: np.asarray(self.values[p])[idx[:, j]] for j, p in enumerate(PARAMETERS)}


def design_ids(params: dict[str, np.ndarray]) -> np.ndarray:
    """A design's id (uint64): a hash of its parameter values, vectorised.

    Each distinct ``name=value`` (canonical text: whole numbers as integers, others to 9
    decimals) is hashed once with SHA-256 (first 8 bytes); a design's id folds its parameters'
    hashes in :data:`PARAMETERS` order, ``h = h * P + h_p`` modulo 2^64 (P a large odd prime)."""
    n = len(next(iter(params.values())))
    h = np.zeros(n, dtype=np.uint64)
    mult = np.uint64(1099511628211)  # the 64-bit FNV prime
    for p in PARAMETERS:
        col = np.asarray(params[p])
        uniq, inv = np.unique(col, return_inverse=True)
        hv = np.array([int.from_bytes(hashlib.sha256(f"{p}={_plain(u)}".encode()).digest()[:8], "little")
                       for u in uniq], dtype=np.uint64)
        with np.errstate(over="ignore"):
            h = h * mult + hv[inv.reshape(-1)]
    return h


def _plain(x: Any) -> str:
    if isinstance(x, (np.integer, int)) and not isinstance(x, bool):
        return str(int(x))
    if isinstance(x, (np.floating, float)):
        v = round(float(x), 9)
        return str(int(v)) if v == int(v) else repr(v)
    return str(x)
