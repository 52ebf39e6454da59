"""Paged KV cache of one replica: a pool of fixed-size blocks (PagedAttention).

A sequence holding ``n`` cached tokens owns ``ceil(n / block_size_tokens)`` blocks; the
last block is partly empty (internal fragmentation), which is why a pool of
``kv_capacity_tokens`` holds fewer sequences than ``capacity / length`` when blocks are
large. The pool only counts blocks; which sequence owns them is the scheduler's
bookkeeping.
"""

from __future__ import annotations

from inferchip.errors import InvalidSettingError


def blocks_for(tokens: int, block_size_tokens: int) -> int:
    """Blocks needed to hold ``tokens`` cached tokens (ceiling division)."""
    return -(-tokens // block_size_tokens)


class BlockPool:
    """``total_blocks = kv_capacity_tokens // block_size_tokens`` blocks, counted as used or free."""

    __slots__ = ("block_size_tokens", "total_blocks", "used_blocks")

    def __init__(self, kv_capacity_tokens: int, block_size_tokens: int):
        total = int(kv_capacity_tokens) // int(block_size_tokens)
        if total < 1:
            raise InvalidSettingError(
                f"kv_capacity_tokens={kv_capacity_tokens} holds no block of block_size_tokens={block_size_tokens}; "
                "the replica cannot cache a single block"
            )
        self.block_size_tokens = int(block_size_tokens)
        self.total_blocks = total
        self.used_blocks = 0

    @property
    def free_blocks(self) -> int:
        return self.total_blocks - self.used_blocks

    @property
    def capacity_tokens(self) -> int:
        """Tokens the whole pool can hold (a multiple of the block size)."""
        return self.total_blocks * self.block_size_tokens

    def fits_alone(self, max_cached_tokens: int) -> bool:
        """Whether one sequence that grows to ``max_cached_tokens`` fits in the empty pool."""
        return blocks_for(max_cached_tokens, self.block_size_tokens) <= self.total_blocks
