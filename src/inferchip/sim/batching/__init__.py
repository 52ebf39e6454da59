"""One replica's continuous batching: the scheduler's settings and sequence states, the paged KV cache, the replica's
step loop and its bulk decode-only stretches."""
