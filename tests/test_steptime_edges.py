"""Inputs on a bucket's start keep their own key (sim.step.steptime.snap): a step model with a jump there (a GEMM
tile edge at a multiple of a power of two) is priced exactly at that input, not on the tile above as the
bucket's midpoint would price it; keys stay pure functions of the inputs, and the prefetch grid holds keys
only."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from inferchip.sim.step.steptime import MANTISSA_BITS, StepTimer, round_bits, snap

TILE = 128  # tokens per GEMM tile of the toy model


class _TiledTokens:
    """Affine in every input plus a tile step: ``ceil(num_tokens / TILE)`` tiles, so a jump at every multiple
    of TILE (the busiest form likewise in the busiest rank's tokens)."""

    kv_capacity_tokens = 10**7
    num_chips = 1

    def step_time_s(self, num_tokens, num_decode_seqs, decode_kv_tokens, prefill_attn_pairs):
        t = np.asarray(num_tokens, dtype=np.int64)
        tiles = -(-t // TILE)
        return (1e-3 + 4e-6 * tiles * TILE + 1e-7 * np.asarray(num_decode_seqs, float)
                + 1e-10 * np.asarray(decode_kv_tokens, float) + 1e-13 * np.asarray(prefill_attn_pairs, float))

    def step_time_busiest_s(self, num_tokens, num_decode_seqs, decode_kv_tokens, prefill_attn_pairs, rank):
        return float(self.step_time_s(num_tokens, num_decode_seqs, decode_kv_tokens, prefill_attn_pairs)[()]) \
            + 3e-6 * math.ceil(rank / TILE) * TILE


def _start(timer: StepTimer, inputs: tuple[int, int, int, int], i: int) -> tuple[int, int, int, int]:
    """``inputs`` with input ``i`` moved down to its bucket's start (the timer's own buckets)."""
    timer.key(*inputs)
    shift = timer._cells[tuple(x.bit_length() for x in inputs)][2 * i]  # type: ignore[index]
    out = list(inputs)
    out[i] = inputs[i] >> shift << shift
    return tuple(out)  # type: ignore[return-value]


@settings(max_examples=200, deadline=None)
@given(st.integers(TILE, 70_000), st.integers(0, 2**22), st.booleans())
def test_a_prefill_on_a_bucket_start_takes_the_exact_models_value(tokens, pairs, coarse):
    model = _TiledTokens()
    timer = StepTimer(model, target_rel_error=2.0**-6 if coarse else 2.0**-10)
    inputs = _start(timer, (tokens, 0, 0, pairs), 0)
    t = inputs[0]
    if t % TILE:
        return  # a bucket start below the tile size is not on a jump
    key = timer.key(*inputs)
    assert key[0] == t  # kept exact
    exact = StepTimer(_TiledTokens(), exact=True).time_s(t, 0, 0, key[3])
    assert timer.time_s(*inputs) == exact  # the exact model's value at the tokens (pairs rounded as ever)
    if t.bit_length() > MANTISSA_BITS:  # a bucket wider than one: the midpoint would sit above the jump
        above = float(model.step_time_s(t + 1, 0, 0, key[3])[()])
        assert above > exact


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 70_000), st.integers(0, 600), st.integers(0, 3_000_000), st.integers(0, 2**30),
       st.integers(0, 3), st.booleans())
def test_every_input_on_its_bucket_start_is_kept_and_keys_are_pure(tokens, seqs, kv, pairs, i, coarse):
    seqs = min(seqs, tokens)
    target = 2.0**-6 if coarse else 2.0**-10
    timer = StepTimer(_TiledTokens(), target_rel_error=target)
    inputs = _start(timer, (tokens, seqs, kv, pairs), i)
    if inputs[1] > inputs[0]:
        return
    key = timer.key(*inputs)
    assert key[i] == inputs[i]
    assert timer.key(*key) == key  # a key is its own key (the cache's lookups and prefetch agree)
    # a pure function: a fresh timer, after other lookups, gives the same key and the same time
    other = StepTimer(_TiledTokens(), target_rel_error=target)
    other.time_s(max(tokens // 3, 1), min(seqs, max(tokens // 3, 1)), kv // 2 + 7, pairs // 5)
    assert other.key(*inputs) == key
    assert other.time_s(*inputs) == timer.time_s(*inputs) == float(_TiledTokens().step_time_s(*key)[()])
    # every key the prefetch grid cached is the key of its own inputs (neither a start nor a midpoint moves)
    for k in list(timer._cache):
        assert timer.key(*k) == k


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 600), st.lists(st.integers(0, 4_000_000), min_size=1, max_size=40), st.integers(0, 12))
def test_decode_keys_keep_bucket_starts_as_single_keys_do(seqs, kvs, zeros):
    timer = StepTimer(_TiledTokens())
    kv = np.array([v >> zeros << zeros for v in kvs] + [4096, 65_536, 3 * 2**16, 2**20], dtype=np.int64)
    assert timer.decode_keys(seqs, kv) == [timer.key(seqs, seqs, int(v), 0) for v in kv]
    assert timer.decode_keys(seqs, np.array([2**20]))[0][2] == 2**20


@given(st.integers(0, 2**40), st.integers(1, MANTISSA_BITS))
def test_round_bits_keeps_a_bucket_start_and_is_snap(value, bits):
    r = round_bits(value, bits)
    shift = value.bit_length() - bits
    if shift > 0:
        assert r == snap(value, shift, 1 << (shift - 1))
        base = value >> shift << shift
        assert r == (value if base == value else base + (1 << (shift - 1)))  # a start kept, else the midpoint
        assert round_bits(r, bits) == r  # idempotent


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 40), st.integers(0, 9), st.integers(1, 5000), st.booleans())
def test_a_busiest_rank_on_a_bucket_start_is_priced_exactly(mult, extra, tokens, coarse):
    timer = StepTimer(_TiledTokens(), target_rel_error=2.0**-6 if coarse else 2.0**-10)
    rank = mult * TILE << extra  # on a tile edge and on its bucket's start for any bits kept
    key = timer.busiest_key(tokens + rank, 0, 0, 10**6, rank)
    assert key[4] == rank
    assert timer.busiest_time_s(tokens + rank, 0, 0, 10**6, rank) == \
        _TiledTokens().step_time_busiest_s(*key[:4], float(rank))


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 70_000), st.lists(st.integers(0, 4_000_000), min_size=1, max_size=20), st.booleans())
def test_a_decode_only_step_keeps_no_prompt_token(seqs, kvs, coarse):
    """A decode-only step (tokens = sequences, no attention pairs) is keyed with one rounding for both: with the
    tokens and the sequences rounded apart, 300 decodes keyed as 300 tokens and 296 sequences, a step with four
    prompt tokens, which an engine that graphs only decode steps (SGLang, EagerSteps) then ran without graphs."""
    timer = StepTimer(_TiledTokens(), target_rel_error=2.0**-6 if coarse else 2.0**-10)
    for kv in kvs:
        key = timer.key(seqs, seqs, kv, 0)
        assert key[0] == key[1] and timer.key(*key) == key
    assert [k[:2] for k in timer.decode_keys(seqs, np.asarray(kvs))] == [timer.key(seqs, seqs, kv, 0)[:2]
                                                                        for kv in kvs]
    assert all(k[0] == k[1] for k in timer.decode_keys(seqs, np.asarray(kvs)))
