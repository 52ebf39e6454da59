"""L1: what must be computed, hardware-agnostic."""
