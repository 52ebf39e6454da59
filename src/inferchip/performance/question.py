"""The question the operating-point solver (:mod:`inferchip.performance.operating`) answers, and its lengths.

* **Lengths** are a :class:`LengthDist`: equally weighted quantile points (a fixed length is
  one point). MLPerf data sets are lognormal with ``LENGTH_SIGMA`` (coefficient of variation
  0.66), clipped at the data set's limit and rescaled so the clipped mean is the target mean.
* A :class:`Question` is what to evaluate, independent of the layout: the mode (static batch,
  closed loop, open loop, most throughput), the lengths, the load and the latency limits.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property, lru_cache

import numpy as np

from inferchip.mapping.memory_fit import FloatArray
from inferchip.performance.phases import prefill_pairs

LENGTH_SIGMA = 0.6  # lognormal shape of MLPerf input/output lengths (assumption, see module doc)
LENGTH_POINTS = 16  # quantile points that stand for a length distribution


# ------------------------------------------------------------------ length distributions
@dataclass(frozen=True)
class LengthDist:
    """Token lengths as equally weighted quantile points (a fixed length is one point)."""

    points: tuple[float, ...]

    @classmethod
    def fixed(cls, tokens: float) -> LengthDist:
        d = cls((float(tokens),))
        x = d.points[0]  # the moments of one point, as the cached properties compute them
        d.__dict__.update(mean=x, second_moment=x * x, mean_prefill_pairs=x * (0.0 + (x + 1.0) / 2.0))
        return d

    @classmethod
    def lognormal(cls, mean: float, cap: float, sigma: float = LENGTH_SIGMA, n: int = LENGTH_POINTS) -> LengthDist:
        """Lognormal of shape ``sigma`` clipped at ``cap``, scaled so the clipped mean is ``mean``."""
        return _lognormal(float(mean), float(cap), float(sigma), int(n))

    @classmethod
    def lognormal_cv(cls, mean: float, cap: float, cv: float, n: int = LENGTH_POINTS) -> LengthDist:
        """:meth:`lognormal` whose ``n`` points have the coefficient of variation ``cv`` (a measured
        spread, e.g. a run's published output-length histogram): the shape is solved so that the points'
        second moment is ``mean^2 (1 + cv^2)``, the quantity the closed loop's length-biased context
        reads (``operating.steady_state``). ValueError when ``cv`` is not a positive finite number or
        the cap clips the spread below it."""
        if not (math.isfinite(cv) and cv > 0.0):
            raise ValueError(f"coefficient of variation {cv!r} is not a positive finite number")

        def excess(sigma: float) -> float:
            d = _lognormal(float(mean), float(cap), sigma, int(n))
            return d.second_moment / (d.mean * d.mean) - 1.0 - cv * cv

        if excess(_SIGMA_MAX) < 0.0:
            raise ValueError(f"coefficient of variation {cv:g} is out of reach: a mean of {mean:g} tokens capped "
                             f"at {cap:g} spreads at most to {math.sqrt(excess(_SIGMA_MAX) + cv * cv):.3f}")
        from scipy.optimize import brentq  # type: ignore[import-untyped]

        return _lognormal(float(mean), float(cap), float(brentq(excess, _SIGMA_MIN, _SIGMA_MAX, xtol=1e-12)), int(n))

    @cached_property
    def array(self) -> FloatArray:
        return np.asarray(self.points, dtype=np.float64)

    @cached_property
    def mean(self) -> float:
        if len(self.points) == 1:  # the mean of one point, without numpy's overhead
            return float(self.points[0])
        return float(np.mean(self.array))

    @cached_property
    def second_moment(self) -> float:
        if len(self.points) == 1:
            return float(self.points[0]) * float(self.points[0])
        return float(np.mean(np.square(self.array)))

    @cached_property
    def mean_prefill_pairs(self) -> float:
        """E[i (i+1) / 2]: causal query-key pairs of one prompt."""
        if len(self.points) == 1:  # phases.prefill_pairs of one point, in floats
            x = float(self.points[0])
            return x * (0.0 + (x + 1.0) / 2.0)
        return float(np.mean(prefill_pairs(self.array)))


_SIGMA_MIN, _SIGMA_MAX = 1e-6, 4.0  # the lognormal shapes :meth:`LengthDist.lognormal_cv` searches


@lru_cache(maxsize=4096)
def _unit_lognormal(sigma: float, n: int) -> FloatArray:
    """Quantile mid-points of a unit-mean lognormal, ascending."""
    from scipy.stats import norm  # type: ignore[import-untyped]

    z: FloatArray = norm.ppf((np.arange(n) + 0.5) / n)  # standard normal quantiles
    return np.exp(sigma * z - sigma**2 / 2)


@lru_cache(maxsize=4096)
def _lognormal(mean: float, cap: float, sigma: float, n: int) -> LengthDist:
    if mean >= cap:
        return LengthDist.fixed(cap)
    base = _unit_lognormal(sigma, n)
    # With the k largest points clipped, the clipped mean is s * sum(base[:n-k]) / n + k cap / n:
    # solve for the scale s and keep the k whose clipping is consistent with s.
    for k in range(n):
        s = (mean * n - k * cap) / base[: n - k].sum()
        if s * base[n - k - 1] <= cap and (k == 0 or s * base[n - k] >= cap):
            return LengthDist(tuple(float(v) for v in np.minimum(base * s, cap)))
    return LengthDist.fixed(mean)  # pragma: no cover (k = n - 1 always satisfies mean < cap)


# ------------------------------------------------------------------ the question
@dataclass(frozen=True)
class Question:
    """What to evaluate, independent of the layout.

    ``mode``: "static" (a batch prefilled together, then decoded), "closed_loop" (``concurrency``
    sequences in steady state), "open_loop" (requests at ``rate_per_s``, 1/s) or "max_throughput"
    (the concurrency with the most output tokens/s within memory and the limits). ``batch`` is
    sequences per replica (static, closed loop); where it is None, ``concurrency`` (sequences in
    the whole system) is shared by the replicas. Limits are on the mean, in seconds.
    ``whole_sequences_per_chip``: under attention DP, each chip's KV cache holds whole sequences
    (``predict``'s memory rule); False counts the replica's cache as one pool (the validation's).
    """

    mode: str
    inputs: LengthDist
    outputs: LengthDist
    concurrency: float | None = None  # system-wide sequences (closed loop, static batch)
    rate_per_s: float | None = None  # system-wide requests/s (open loop)
    max_ttft_s: float | None = None
    max_tpot_s: float | None = None
    max_e2e_s: float | None = None
    queue_wait: bool = False
    beams: int = 1  # sequences decoded per request (beam search); the prompt is prefilled once
    batch: float | None = None  # sequences per replica; overrides concurrency / replicas
    whole_sequences_per_chip: bool = False
    # max throughput: an engine's running-batch cap per attention-DP rank (max_num_seqs; serve/curve search the
    # layout they then simulate under that cap); None: memory alone bounds the concurrency (predict)
    max_seqs_per_rank: float | None = None
    # under attention DP, the engine holds new prompts until every rank has one (TensorRT-LLM's attention_dp_config
    # enable_balance: EngineSpec.attention_dp_balance), so a step's prefill is spread evenly over the ranks; False:
    # each prompt prefills whole on one rank as it arrives and the step lasts that rank's (SGLang, vLLM: the serving
    # simulator's default; performance.phases.dp_decode_step)
    dp_prompts_balanced: bool = False

    @classmethod
    def fixed(cls, input_tokens: float, output_tokens: float, batch: int | None = None,
              max_ttft_s: float | None = None, max_tpot_s: float | None = None) -> Question:
        """``predict``'s question: fixed lengths, a static batch per replica (None: max throughput)."""
        return cls("static" if batch is not None else "max_throughput", LengthDist.fixed(input_tokens),
                   LengthDist.fixed(output_tokens), max_ttft_s=max_ttft_s, max_tpot_s=max_tpot_s,
                   batch=None if batch is None else float(batch), whole_sequences_per_chip=True)

    @property
    def needs_ttft(self) -> bool:
        return self.mode == "open_loop" or self.max_ttft_s is not None or self.max_e2e_s is not None
