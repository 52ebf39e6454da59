"""L2: how a model is split over chips (parallel layout, per-chip shapes, memory fit)."""
