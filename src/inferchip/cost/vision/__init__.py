"""Cost of vision networks on any chip: per-layer roofline with tile quantisation, fusion and energy."""
