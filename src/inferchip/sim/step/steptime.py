"""Memoised step times: the simulator's only contact with the step model.

A vectorised numpy model costs tens of microseconds per call, more than the rest of a
simulated step, and every arriving request creates a batch never seen before. The timer
therefore rounds the four integer inputs to a few significant bits and caches the step
time of each rounded input; the model is always evaluated at the rounded inputs, so a
cached value never depends on which inputs were seen first and results are reproducible.

How many bits each input keeps depends on how much the step time depends on it. Inputs
are grouped into cells of one octave per input (equal ``bit_length``); the first time a
cell is met, the model's elasticities ``d ln t / d ln x`` are measured at the cell's
corners (one vectorised call), and input ``i`` keeps the fewest bits ``b`` (1 to
:data:`MANTISSA_BITS`) with ``ELASTICITY_SAFETY * e_i * 2**-b <= TARGET_REL_ERROR``:
rounding then moves the step time by about 0.1 % per input at most (0.2 % where an input
counts fully); a timer may be given a coarser target. The cache holds at most
:data:`MAX_CACHED_STEPS` step times (it starts afresh beyond: bounded memory, the same values).
In a compute-bound prefill step the KV length barely matters, so it is
rounded coarsely and prefill steps share cache entries. Values below ``2**b`` stay exact.
Rounding goes to the midpoint of the bucket, except that an input on a bucket's start (its low bits zero:
a prompt or chunk of 1,024, 4,096 or 8,192 tokens, a token budget of 4,608 or 8,448) is kept exact
(:func:`snap`). ``exact=True`` switches rounding off. A step model with jumps (tile or wave quantisation)
is reproduced except for inputs within half a bucket of a jump, which take the value on the bucket
midpoint's side; a jump on a bucket start (GEMM tile edges sit on multiples of powers of two) is reproduced
for the input on it, which the midpoint would price above the jump (+0.3 to +2 % on a DeepSeek-R1
attention-DP prefill step on 8 GB200 at 4,096 tokens, stop-27 review, docs/serving_journal.md).

A miss may price a grid of neighbouring keys with it (:data:`PREFETCH_BUCKETS` token counts either side, KV
lengths behind and ahead; :meth:`StepTimer._fill_around`), or its one key alone: a single point takes the cost
model's scalar path (plain floats, ``cost.scalar_step``: 0.06-0.1 ms on two MLPerf Offline rows' replicas),
where a vectorised call of 20 points takes 0.4-1.3 ms. A grid pays where the steps that follow look its keys
up: a Poisson run of fixed lengths (``benchmarks/bench_serve.py``: 9.7 keys looked up per grid of steps with
prefill where every miss priced one); it does not where prompt lengths vary and the batch moves (a validation
page's Offline runs: 0.6 per grid of steps with prefill, 0.8 per grid of decode-only steps; grids made that
page 4x slower, docs/serving_journal.md, perf46). So the timer keeps count, per kind of step (decode-only, or
with prefill), of the grids it priced and of their keys since looked up (a grid's keys wait in a cache of
their own until then), and prices a grid while they number at least :data:`GRID_PAYBACK` a grid, else the key
alone, with a grid again every :data:`GRID_RETRY`-th miss of that kind to follow a changing load. The counts
depend on the lookups only, so a run is reproducible; a value depends on its key only (the scalar and
vectorised paths agree to 1e-12, ``tests/test_scalar_step.py``; 4e-16 on the page).
:meth:`StepTimer.times_s` fills all missing keys of many steps in one call.

An attention-DP step whose ranks carry uneven prefill work
(:func:`~inferchip.sim.batching.scheduler.busiest_rank_prefill`) is priced by the model's
``step_time_busiest_s``, one point at a time; :meth:`StepTimer.busiest_time_s` caches it the same way, in a
cache of its own with the same bound: the step's four inputs rounded as an even step's (:meth:`StepTimer.key`) and
the busiest rank's prefill tokens to the bits the rule gives an input of elasticity one (:func:`rank_token_bits`).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from typing import SupportsFloat

import numpy as np

from inferchip.errors import InvalidSettingError
from inferchip.sim.step.protocol import BoolArray, IntArray, StepModel

NUM_INPUTS = 4  # num_tokens, num_decode_seqs, decode_kv_tokens, prefill_attn_pairs
MANTISSA_BITS = 9  # most bits kept: rounding moves an input by at most 2**-9 = 0.2 %
TARGET_REL_ERROR = 2.0**-10  # aim: rounding one input changes the step time by <= ~0.1 %
ELASTICITY_SAFETY = 2.0  # elasticity can be larger inside a cell than at its corners
PROBE_REL_STEP = 1 / 32  # relative input change used to measure an elasticity
PREFETCH_BUCKETS = 8  # on a miss, also price this many token-count buckets either side ...
PREFETCH_KV_BEHIND = 4  # ... and this many KV-length buckets below ...
PREFETCH_KV_AHEAD = 16  # ... and above (KV grows as sequences decode)
MAX_CACHED_STEPS = 200_000  # step times kept (about 40 MB); beyond, the cache starts afresh
GRID_PAYBACK = 6  # a grid is priced while its keys are looked up this often a grid (a single key costs 1/6-1/13)
GRID_RETRY = 256  # ... and where they are not, every this-many-th miss of its kind prices one again

Key = tuple[int, int, int, int]


def _kind(key: Key) -> int:
    """The kind of step a key is, for the grid counts (module doc): 0 decode-only (its tokens are its decode
    sequences, no prefill attention), 1 with prefill."""
    return 0 if key[3] == 0 and key[0] == key[1] else 1


Cell = tuple[int, int, int, int]
BusiestKey = tuple[int, int, int, int, int]
CellRounding = tuple[int, int, int, int, int, int, int, int]  # (shift, half) per input
BusiestFn = Callable[[int, int, int, int, float], SupportsFloat | None]  # a model's step_time_busiest_s


def rank_token_bits(target_rel_error: float) -> int:
    """Bits kept of the busiest rank's prefill tokens: the fewest ``b`` (1 to :data:`MANTISSA_BITS`) with
    ``ELASTICITY_SAFETY * e * 2**-b <= target_rel_error`` at elasticity ``e = 1``, the rule of the even
    steps' inputs without a probe. The bound: those tokens enter the busiest chip's work linearly (GEMM
    FLOP, activation and dispatch bytes per token; cost.step.step_points ``prefill_chip``) beside a part
    that does not grow with them (weight reads, the decodes, the routed experts' share), and the step time
    is the larger of compute and memory times of such sums (or an energy over TDP, also such a sum), so
    ``d ln t / d ln x <= 1``; jumps (tile or wave quantisation) are kept as for even steps, except within
    half a bucket. E.g. the default target 2**-10: 9 bits; 2**-6 (closed-loop rows): 7 bits."""
    return min(MANTISSA_BITS, max(1, math.ceil(math.log2(ELASTICITY_SAFETY / target_rel_error))))


def round_bits(value: int, bits: int) -> int:
    """``value`` rounded to ``bits`` significant bits, at its bucket's midpoint; exact below ``2**bits`` and on
    a bucket's start (a multiple of the bucket width ``2**(bit_length - bits)``, see :func:`snap`)."""
    shift = value.bit_length() - bits
    if shift <= 0:
        return value
    return snap(value, shift, 1 << (shift - 1))


def snap(value: int, shift: int, half: int) -> int:
    """The cache key of ``value`` in buckets of width ``2**shift`` (``half`` = half that width, 0 for width 1):
    the bucket's midpoint, except that a value on the bucket's start (its low ``shift`` bits zero) is kept
    as it is. Bucket starts are the round sizes benchmarks and schedulers use (prompts and chunks of 1,024,
    4,096, 8,192 tokens, token budgets of 4,608 or 8,448) and where GEMM tile edges sit, so the midpoint would
    price the tile above; the key stays a pure function of the value, and the two never collide (a start
    has its low bits zero, a midpoint has bit ``shift - 1`` set)."""
    base = value >> shift << shift
    return base if base == value else base | half


class StepTimer:
    """Cached ``step_time_s`` of one step model; shared by the replicas of one simulation."""

    def __init__(self, model: StepModel, exact: bool = False, target_rel_error: float = TARGET_REL_ERROR,
                 max_cached: int = MAX_CACHED_STEPS):
        if not (0 < target_rel_error < 0.5) or max_cached < 1:
            raise InvalidSettingError(f"StepTimer: target_rel_error {target_rel_error!r} must be in (0, 0.5) and "
                                      f"max_cached {max_cached!r} at least 1")
        self.model = model
        self.target_rel_error = target_rel_error
        self.max_cached = max_cached
        self._cache: dict[Key, float] = {}
        self._spare: dict[Key, float] = {}  # keys a grid priced that no lookup has asked for yet
        self.grids = [0, 0]  # grids priced, per kind of step (decode-only, with prefill)
        self.grid_hits = [0, 0]  # their keys since looked up, per kind
        self._misses = [0, 0]  # misses priced, per kind
        self._busiest: dict[BusiestKey, float] = {}  # uneven attention-DP steps (busiest_time_s)
        self._busiest_fn: BusiestFn | None = getattr(model, "step_time_busiest_s", None)
        self._rank_bits = rank_token_bits(target_rel_error)
        self._cells: dict[Cell, CellRounding] = {}
        self.exact = exact
        self.num_evaluations = 0  # inputs the model was asked for (cache fills and probes)
        self.num_model_calls = 0  # vectorised calls made
        self.num_busiest_evaluations = 0  # uneven attention-DP steps the model was asked for (busiest_time_s)

    # ------------------------------------------------------------------ keys
    def _cell(self, cell: Cell) -> CellRounding:
        """(shift, half) per input for ``cell``: rounding is ``(v >> shift << shift) | half``."""
        found = self._cells.get(cell)
        if found is None:
            bits = self._probe(cell)
            s0, s1, s2, s3 = (max(length - b, 0) for length, b in zip(cell, bits, strict=True))
            found = self._cells[cell] = (s0, _half(s0), s1, _half(s1), s2, _half(s2), s3, _half(s3))
        return found

    def key(self, num_tokens: int, num_decode_seqs: int, decode_kv_tokens: int, attn_pairs: int) -> Key:
        if self.exact:
            return (num_tokens, num_decode_seqs, decode_kv_tokens, attn_pairs)
        cell = (num_tokens.bit_length(), num_decode_seqs.bit_length(), decode_kv_tokens.bit_length(),
                attn_pairs.bit_length())
        s0, h0, s1, h1, s2, h2, s3, h3 = self._cells.get(cell) or self._cell(cell)
        # snap() inlined (the hot path): the bucket's midpoint, or the input itself on a bucket's start
        if num_tokens == num_decode_seqs and not attn_pairs:  # decode-only: one (the finer) rounding for both
            s0, h0 = (s0, h0) if s0 <= s1 else (s1, h1)
            s1, h1 = s0, h0
        t = num_tokens >> s0 << s0
        n = num_decode_seqs >> s1 << s1
        v = decode_kv_tokens >> s2 << s2
        p = attn_pairs >> s3 << s3
        return (t if t == num_tokens else t | h0, n if n == num_decode_seqs else n | h1,
                v if v == decode_kv_tokens else v | h2, p if p == attn_pairs else p | h3)

    def decode_keys(self, num_decode_seqs: int, decode_kv_tokens: IntArray) -> list[Key]:
        """Keys of decode-only steps (``num_tokens == num_decode_seqs``, no prefill), vectorised over KV."""
        n = num_decode_seqs
        kv = np.asarray(decode_kv_tokens, dtype=np.int64)
        if self.exact:
            return [(n, n, v, 0) for v in kv.tolist()]
        _, lengths = np.frexp(kv.astype(np.float64))  # bit_length, exact below 2**53
        out = kv.copy()
        heads: dict[int, tuple[int, int]] = {}
        for length in np.unique(lengths).tolist():
            s0, h0, s1, h1, s2, h2, _, _ = self._cell((n.bit_length(), n.bit_length(), int(length), 0))
            head = snap(n, s0, h0) if s0 <= s1 else snap(n, s1, h1)  # as key(): one rounding for both
            heads[int(length)] = (head, head)
            sel = lengths == length
            base = kv[sel] >> s2 << s2
            out[sel] = np.where(base == kv[sel], base, base | h2)  # snap(), vectorised
        return [(*heads[length], v, 0) for length, v in zip(lengths.tolist(), out.tolist(), strict=True)]

    # ------------------------------------------------------------------ lookups
    def time_s(self, num_tokens: int, num_decode_seqs: int, decode_kv_tokens: int, attn_pairs: int) -> float:
        """Step time for one batch (inputs as in :class:`~inferchip.sim.step.protocol.StepModel`)."""
        key = self.key(num_tokens, num_decode_seqs, decode_kv_tokens, attn_pairs)
        value = self._cache.get(key)
        if value is None:
            value = self._miss(key)
        return value

    def _miss(self, key: Key) -> float:
        """The time of ``key``, not in the cache: a grid's spare key, or priced as a grid or alone (module doc)."""
        kind = _kind(key)
        value = self._spare.pop(key, None)
        if value is not None:
            self.grid_hits[kind] += 1
            self._store([key], [value])
            return value
        self._misses[kind] += 1
        grids = self.grids[kind]
        if not self.exact and (grids == 0 or self.grid_hits[kind] >= GRID_PAYBACK * grids
                               or self._misses[kind] % GRID_RETRY == 0):
            self.grids[kind] += 1
            self._fill_around(key)
            return self._cache[key]
        value = self._evaluate([key])[0]
        self._store([key], [value])
        return value

    def busiest_key(self, num_tokens: int, num_decode_seqs: int, decode_kv_tokens: int, attn_pairs: int,
                    rank_tokens: int) -> BusiestKey:
        """:meth:`key` of the step's inputs and the busiest rank's prefill tokens rounded to
        :func:`rank_token_bits` significant bits (all exact with ``exact=True``)."""
        if self.exact:
            return (num_tokens, num_decode_seqs, decode_kv_tokens, attn_pairs, rank_tokens)
        return (*self.key(num_tokens, num_decode_seqs, decode_kv_tokens, attn_pairs),
                round_bits(rank_tokens, self._rank_bits))

    def busiest_time_s(self, num_tokens: int, num_decode_seqs: int, decode_kv_tokens: int, attn_pairs: int,
                       rank_tokens: int) -> float | None:
        """Time of an attention-DP step with ``rank_tokens`` prefill tokens on its busiest rank (the model's
        ``step_time_busiest_s``; the other inputs as :meth:`time_s`, ``attn_pairs`` the busiest rank's times
        the ranks), evaluated at :meth:`busiest_key` and cached; None where the model cannot price it."""
        fn = self._busiest_fn
        if fn is None:
            return None
        key = self.busiest_key(num_tokens, num_decode_seqs, decode_kv_tokens, attn_pairs, rank_tokens)
        value = self._busiest.get(key)
        if value is not None:
            return value
        try:
            raw = fn(key[0], key[1], key[2], key[3], float(key[4]))
        except (TypeError, ValueError) as exc:
            raise InvalidSettingError(f"step model {type(self.model).__name__}.step_time_busiest_s failed: "
                                      f"{exc}") from None
        if raw is None:
            return None
        value = float(raw)
        if not (math.isfinite(value) and value > 0):
            raise InvalidSettingError(
                f"step model {type(self.model).__name__} returned step_time_busiest_s={value!r} for {key}; "
                "a step must take a positive, finite time")
        self.num_busiest_evaluations += 1
        if len(self._busiest) >= self.max_cached:
            self._busiest.clear()  # bounded memory: values depend only on the key, so the same step times
        self._busiest[key] = value
        return value

    def times_s(self, keys: list[Key]) -> list[float]:
        """Step times for many keys (from :meth:`key`), evaluating all missing ones in one call."""
        if len(self._cache) + len(self._spare) + len(keys) > self.max_cached:
            self._cache.clear()  # here, so that _store does not clear keys this call returns
            self._spare.clear()
        cache, spare = self._cache, self._spare
        for k in {k for k in keys if k not in cache and k in spare}:
            cache[k] = spare.pop(k)
            self.grid_hits[_kind(k)] += 1
        missing = sorted({k for k in keys if k not in cache})
        if missing:
            self._store(missing, self._evaluate(missing))
        return [cache[k] for k in keys]

    def _fill_around(self, key: Key) -> None:
        """Evaluate ``key`` (into the cache) with the neighbouring keys the next steps are likely to need (kept
        apart until looked up, :meth:`_miss`).

        Neighbours share the cell and vary the token count (the next prefill differs) and the
        KV length (it grows each step), and for decode-only steps the number of sequences.
        """
        tokens, seqs, kv, pairs = key
        cell = (tokens.bit_length(), seqs.bit_length(), kv.bit_length(), pairs.bit_length())
        s0, h0, s1, h1, s2, h2, _, _ = self._cells[cell]
        # The grid is the one of the bucket's midpoint key, plus the key's own inputs where they sit on a
        # bucket's start (snap): such an input recurs as itself (a fixed prompt, a filled token budget,
        # a full running batch), with the KV growing, while the inputs around it take the midpoints. Both
        # step by whole buckets, so every grid point is the key of its own inputs.
        if pairs == 0 and tokens == seqs:  # decode-only: one rounding for both inputs, as key()
            s0, h0 = (s0, h0) if s0 <= s1 else (s1, h1)
            s1, h1 = s0, h0
        mt, mn, mv = tokens >> s0 << s0 | h0, seqs >> s1 << s1 | h1, kv >> s2 << s2 | h2
        if pairs == 0 and tokens == seqs:  # decode-only: vary sequences (and tokens with them) and KV
            d = np.array([-1, 0, 1], dtype=np.int64)
            t, n = mt + (d << s0), mn + (d << s1)
        else:
            d = np.arange(-PREFETCH_BUCKETS, PREFETCH_BUCKETS + 1, dtype=np.int64)
            mn = seqs  # held
            t, n = mt + (d << s0), np.full(d.size, seqs, dtype=np.int64)
        if (tokens, seqs) != (mt, mn):
            t, n = np.append(t, tokens), np.append(n, seqs)
        v = mv + (np.arange(-PREFETCH_KV_BEHIND, PREFETCH_KV_AHEAD + 1, dtype=np.int64) << s2)
        if kv != mv:
            v = np.append(v, kv)
        same = _same_length(t, cell[0]) & _same_length(n, cell[1])
        t, n = t[same], n[same]
        v = v[_same_length(v, cell[2])]
        grid_t = np.repeat(t, v.size).tolist()
        grid_n = np.repeat(n, v.size).tolist()
        grid_v = np.tile(v, t.size).tolist()
        cache, spare = self._cache, self._spare
        keys = [k for k in zip(grid_t, grid_n, grid_v, [pairs] * len(grid_t), strict=False)
                if k not in cache and k not in spare]
        if key not in keys:
            keys.append(key)
        times = self._evaluate(keys)
        self._store([], [], len(keys))  # room for the grid (bounded memory)
        spare.update(zip(keys, times, strict=True))
        self._cache[key] = spare.pop(key)

    # ------------------------------------------------------------------ model calls
    def _evaluate(self, keys: list[Key]) -> list[float]:
        arr = np.array(keys, dtype=np.int64).reshape(len(keys), 4)
        try:
            raw = self.model.step_time_s(arr[:, 0], arr[:, 1], arr[:, 2], arr[:, 3].astype(np.float64))
            times = np.asarray(raw, dtype=np.float64).reshape(-1)
        except (TypeError, ValueError) as exc:
            raise InvalidSettingError(f"step model {type(self.model).__name__}.step_time_s failed: {exc}") from None
        if times.size == 1 and len(keys) > 1:
            times = np.full(len(keys), times[0])
        if times.size != len(keys):
            raise InvalidSettingError(
                f"step model {type(self.model).__name__}.step_time_s returned {times.size} values "
                f"for {len(keys)} inputs; it must return one per input"
            )
        self.num_model_calls += 1
        self.num_evaluations += len(keys)
        out = times.tolist()
        for key, t in zip(keys, out, strict=True):
            if not (math.isfinite(t) and t > 0):
                raise InvalidSettingError(
                    f"step model {type(self.model).__name__} returned step_time_s={t!r} for num_tokens={key[0]}, "
                    f"num_decode_seqs={key[1]}, decode_kv_tokens={key[2]}, prefill_attn_pairs={key[3]}; "
                    "a step must take a positive, finite time"
                )
        return out

    def _store(self, keys: list[Key], times: list[float], room: int = 0) -> None:
        if len(self._cache) + len(self._spare) + len(keys) + room > self.max_cached:
            # Bounded memory: start afresh. Values depend only on the rounded key, never on what was
            # cached before, so a cleared cache gives the same step times (only more model calls).
            self._cache.clear()
            self._spare.clear()
        self._cache.update(zip(keys, times, strict=True))

    def _probe(self, cell: Cell) -> tuple[int, int, int, int]:
        """Significant bits to keep per input in ``cell``, from elasticities measured at its corners."""
        choices = [[0] if length == 0 else sorted({1 << (length - 1), (1 << length) - 1}) for length in cell]
        corners = [list(c) for c in itertools.product(*choices)]
        for c in corners:
            c[1] = min(c[1], c[0])  # a batch never decodes more sequences than it has tokens
        points: list[Key] = []
        steps: list[tuple[int, float]] = []  # (corner index, ln of the input ratio) per perturbed point
        for c in corners:
            points.append((c[0], c[1], c[2], c[3]))
        for ci, c in enumerate(corners):
            for i in range(NUM_INPUTS):
                if c[i] == 0:
                    continue
                bumped = list(c)
                delta = max(1, round(c[i] * PROBE_REL_STEP))
                # fewer decoding sequences (at equal tokens) keeps the batch valid; other inputs grow
                bumped[i] = c[i] - delta if i == 1 and c[i] > delta else c[i] + delta
                if bumped[1] > bumped[0]:
                    continue
                points.append((bumped[0], bumped[1], bumped[2], bumped[3]))
                steps.append((ci * NUM_INPUTS + i, abs(math.log(bumped[i] / c[i]))))
        times = self._evaluate(points)
        base = times[: len(corners)]
        elasticity = [0.0] * NUM_INPUTS
        for (code, log_ratio), t in zip(steps, times[len(corners):], strict=True):
            ci, i = divmod(code, NUM_INPUTS)
            elasticity[i] = max(elasticity[i], abs(math.log(t / base[ci])) / log_ratio)
        bits = []
        for e in elasticity:
            need = math.log2(ELASTICITY_SAFETY * e / self.target_rel_error) if e > 0 else 1.0
            bits.append(min(MANTISSA_BITS, max(1, math.ceil(need))))
        return (bits[0], bits[1], bits[2], bits[3])


def _half(shift: int) -> int:
    """Half the width of a bucket of ``2**shift`` (0 for width 1): the offset of its midpoint."""
    return (1 << (shift - 1)) if shift else 0


def _same_length(values: IntArray, bit_length: int) -> BoolArray:
    """Mask of the integers in ``values`` whose bit length is ``bit_length`` (0 only for 0)."""
    mask: BoolArray = values == 0 if bit_length == 0 else (
        (values >= (1 << (bit_length - 1))) & (values < (1 << bit_length)))
    return mask
