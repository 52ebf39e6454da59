"""Request length distributions (input or output tokens).

A length is given as:

* an ``int``: every request has exactly that many tokens;
* a 2-tuple ``(mean, spread)``: integers drawn uniformly from
  ``[mean - spread, mean + spread]`` (spread is a half-width in tokens);
* a list or numpy array of token counts: each request draws one of them uniformly with
  replacement (an empirical data-set distribution, as MLPerf data sets have);
* one of the models below.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from inferchip.errors import InvalidSettingError
from inferchip.sim.step.protocol import IntArray

RANGE_RATIO = 0.8  # InferenceMAX's benchmark_serving --random-range-ratio: lengths uniform in [0.8 L, L]
MAX_TOKENS = 100_000_000  # tokens of one request's input or output: 10x the longest context published (10M)


def describe(exc: ValidationError) -> str:
    """A pydantic error as text naming each field, the value given and what is allowed."""
    return "; ".join(
        f"field '{'.'.join(map(str, e['loc'])) or '(model)'}'"
        + (f": value {_short(e['input'])}" if e.get("input") is not None and not isinstance(e["input"], dict) else "")
        + f": {e['msg']}"
        for e in exc.errors())


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


class SettingModel(BaseModel):
    """Frozen, no extra fields; a bad field raises InvalidSettingError naming it (never a pydantic traceback)."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise InvalidSettingError(f"{type(self).__name__}: {describe(exc)}") from None


class FixedLength(SettingModel):
    kind: Literal["fixed"] = "fixed"
    tokens: int = Field(ge=1, le=MAX_TOKENS, description="Tokens of every request.")


class UniformLength(SettingModel):
    kind: Literal["uniform"] = "uniform"
    mean_tokens: int = Field(ge=1, le=MAX_TOKENS, description="Centre of the uniform distribution, tokens.")
    spread_tokens: int = Field(ge=0, le=MAX_TOKENS,
                               description="Half-width, tokens: draws lie in [mean - spread, mean + spread].")

    @model_validator(mode="after")
    def _positive(self) -> UniformLength:
        if self.mean_tokens - self.spread_tokens < 1 or self.mean_tokens + self.spread_tokens > MAX_TOKENS:
            raise ValueError(
                f"mean_tokens - spread_tokens must be >= 1 token and mean_tokens + spread_tokens <= {MAX_TOKENS}, "
                f"got {self.mean_tokens} and {self.spread_tokens}"
            )
        return self


class EmpiricalLength(SettingModel):
    kind: Literal["empirical"] = "empirical"
    samples_tokens: tuple[Annotated[int, Field(ge=1, le=MAX_TOKENS)], ...] = Field(
        min_length=1, description="Token counts drawn uniformly with replacement."
    )


LengthSpec = Annotated[FixedLength | UniformLength | EmpiricalLength, Field(discriminator="kind")]


def as_length(value: Any, what: str = "length") -> FixedLength | UniformLength | EmpiricalLength:
    """Turn the user's shorthand into a length model; bad input raises InvalidSettingError."""
    if isinstance(value, FixedLength | UniformLength | EmpiricalLength):
        return value
    try:
        if isinstance(value, bool):
            raise TypeError
        if isinstance(value, int | np.integer):
            return FixedLength(tokens=int(value))
        if isinstance(value, float) and value.is_integer():
            return FixedLength(tokens=int(value))
        if isinstance(value, dict):
            models: dict[Any, type[FixedLength | UniformLength | EmpiricalLength]] = {
                "fixed": FixedLength, "uniform": UniformLength, "empirical": EmpiricalLength}
            model = models.get(value.get("kind"))
            if model is None:
                raise TypeError
            return model.model_validate(value)
        if isinstance(value, tuple) and len(value) == 2:
            return UniformLength(mean_tokens=int(value[0]), spread_tokens=int(value[1]))
        if isinstance(value, np.ndarray | Sequence) and not isinstance(value, str):
            arr = np.asarray(value)
            if arr.ndim != 1 or arr.size == 0 or not np.all(arr == np.round(arr)):
                raise TypeError
            return EmpiricalLength(samples_tokens=tuple(int(v) for v in arr))
    except ValidationError as exc:
        detail = "; ".join(err["msg"] for err in exc.errors())
        raise InvalidSettingError(f"{what}: value {value!r} is not allowed: {detail}") from None
    except InvalidSettingError as exc:
        raise InvalidSettingError(f"{what}: value {value!r} is not allowed: {exc}") from None
    except (TypeError, ValueError, OverflowError):
        pass
    raise InvalidSettingError(
        f"{what}: value {value!r} is not a length; allowed: a positive int, a (mean, spread) tuple, "
        "or a 1-D list/array of positive integer token counts"
    )


def sample(spec: FixedLength | UniformLength | EmpiricalLength, rng: np.random.Generator, n: int) -> IntArray:
    """``n`` token counts (int64) drawn from ``spec`` with ``rng``."""
    if isinstance(spec, FixedLength):
        return np.full(n, spec.tokens, dtype=np.int64)
    if isinstance(spec, UniformLength):
        low = spec.mean_tokens - spec.spread_tokens
        return rng.integers(low, spec.mean_tokens + spec.spread_tokens + 1, size=n, dtype=np.int64)
    samples = np.asarray(spec.samples_tokens, dtype=np.int64)
    return samples[rng.integers(0, samples.size, size=n)]


def mean_tokens(spec: FixedLength | UniformLength | EmpiricalLength) -> float:
    if isinstance(spec, FixedLength):
        return float(spec.tokens)
    if isinstance(spec, UniformLength):
        return float(spec.mean_tokens)
    return float(np.mean(spec.samples_tokens))


def max_tokens(spec: FixedLength | UniformLength | EmpiricalLength) -> int:
    if isinstance(spec, FixedLength):
        return spec.tokens
    if isinstance(spec, UniformLength):
        return spec.mean_tokens + spec.spread_tokens
    return max(spec.samples_tokens)


def min_tokens(spec: FixedLength | UniformLength | EmpiricalLength) -> int:
    if isinstance(spec, FixedLength):
        return spec.tokens
    if isinstance(spec, UniformLength):
        return spec.mean_tokens - spec.spread_tokens
    return min(spec.samples_tokens)


def uniform_length(nominal_tokens: float, ratio: float = RANGE_RATIO) -> FixedLength | UniformLength:
    """Whole-token lengths uniform in ``[ratio L, L]`` (a fixed length where the range is empty), as a
    closed-loop benchmark's random data set draws them with ``--random-range-ratio ratio`` (vLLM's
    ``benchmark_serving.py`` as InferenceMAX runs it; InferenceX benchmark-multinode-tmpl.yml sets
    ``RANDOM_RANGE_RATIO`` 0.8, as the closed-loop rows of catalog/inferencemax_cases.csv record; SGLang's
    ``bench_serving`` documents the same range). The draws are symmetric about a whole-token mean, so they lie
    in ``[ceil(ratio L), L]`` and may leave out the extreme token by one."""
    if not 0.0 < ratio <= 1.0:
        raise InvalidSettingError(f"range ratio: value {ratio!r} is not allowed: lengths are drawn from "
                                  f"[ratio L, L], so the ratio must lie in (0, 1]")
    lo, hi = max(1, math.ceil(ratio * nominal_tokens)), max(1, int(nominal_tokens))
    if hi <= lo:
        return FixedLength(tokens=hi)
    mean = (lo + hi) // 2
    return UniformLength(mean_tokens=mean, spread_tokens=min(mean - lo, hi - mean))


def memory_limit_concurrency(kv_capacity_tokens: int, replicas: int, input_tokens: Any, output_tokens: Any) -> int:
    """The clients whose requests fill the KV cache: ``replicas * kv_capacity_tokens // (mean input + mean output)``,
    at least 1 (where ``sim.runs.search.throughput_interactivity_curve`` stops by default)."""
    per_request = (mean_tokens(as_length(input_tokens, "input_tokens"))
                   + mean_tokens(as_length(output_tokens, "output_tokens")))
    return max(1, int(replicas * (int(kv_capacity_tokens) // per_request)))
