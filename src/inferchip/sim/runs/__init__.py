"""Running simulations: the event queue, routing, a whole aggregated or disaggregated run, and the searches built on
runs (highest rate under an SLO, a client's closed-loop run, the throughput-interactivity curve)."""
